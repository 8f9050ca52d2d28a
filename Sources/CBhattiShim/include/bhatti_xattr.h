#pragma once
#include <stddef.h>

/// fsetxattr(2), which Glibc's Swift module does not export. Returns 0 or -errno.
int bh_fsetxattr(int fd, const char *name, const void *value, size_t size);
