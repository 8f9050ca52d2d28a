#pragma once
#include <stdint.h>

// epoll for the HTTP server's event loop. Swift imports the packed `struct epoll_event` awkwardly, so
// the loop sees an unpacked copy. Functions return a non-negative value or -errno.

/// Readiness bits (the values of EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP), level-triggered.
#define BH_POLL_IN 0x001u
#define BH_POLL_OUT 0x004u
#define BH_POLL_ERR 0x008u
#define BH_POLL_HUP 0x010u
/// EPOLLET: report a change once instead of the state while it lasts.
#define BH_POLL_EDGE 0x80000000u
/// bh_epoll_ctl operations (EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL).
#define BH_POLL_ADD 1
#define BH_POLL_MODIFY 3
#define BH_POLL_REMOVE 2

/// One readiness report: the token the descriptor was registered with and its ready bits.
typedef struct {
    uint64_t token;
    uint32_t events;
} bh_poll_event;

/// epoll_create1(EPOLL_CLOEXEC). Returns the fd.
int bh_epoll_create(void);
/// epoll_ctl with `op` (BH_POLL_ADD, BH_POLL_MODIFY, BH_POLL_REMOVE), `events` and `token`.
int bh_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// epoll_wait for up to `max` (at most 256) reports into `out`; -1 waits forever. EINTR returns 0 reports.
int bh_epoll_wait(int epfd, bh_poll_event *out, int max, int timeout_ms);
/// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC, and TCP_NODELAY on TCP. Retries EINTR and ECONNABORTED;
/// -EAGAIN when no connection is waiting. Returns the fd.
int bh_accept_nonblocking(int fd);
