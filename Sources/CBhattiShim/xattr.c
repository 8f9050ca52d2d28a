#include "bhatti_xattr.h"
#include <errno.h>
#include <sys/xattr.h>

int bh_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0) == 0 ? 0 : -errno;
}
