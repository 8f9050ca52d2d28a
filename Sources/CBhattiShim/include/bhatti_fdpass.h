#pragma once
#include <stddef.h>
#include <sys/types.h>

/// Sends `len` bytes on unix socket `sock` with descriptor `fd` attached (SCM_RIGHTS), e.g. a QMP
/// `getfd` command. Returns bytes sent, or -1 with errno.
ssize_t bh_send_with_fd(int sock, const void *buf, size_t len, int fd);
