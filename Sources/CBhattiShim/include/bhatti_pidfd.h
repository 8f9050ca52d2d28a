#pragma once
#include <sys/types.h>

/// pidfd_open(2): a descriptor that becomes readable when `pid` exits, for processes that are not our
/// children (a QEMU adopted after a daemon restart). -1 with errno on failure.
int bh_pidfd_open(pid_t pid);

/// Blocks until the process behind `pidfd` exits (poll for readability); 0, or -1 with errno.
int bh_pidfd_wait(int pidfd);
