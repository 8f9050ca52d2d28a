#define _GNU_SOURCE
#include "bhatti_pidfd.h"
#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int bh_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int bh_pidfd_wait(int pidfd) {
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, -1);
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return -1;
    }
}
