#define _GNU_SOURCE
#include "bhatti_copy.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int copy_range(int in, int out, off_t start, off_t end) {
    off_t in_off = start, out_off = start;
    while (in_off < end) {
        ssize_t n = copy_file_range(in, &in_off, out, &out_off, (size_t)(end - in_off), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return -1;
        }
    }
    return 0;
}

long long bh_copy_sparse(const char *src, const char *dst) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    struct stat st;
    if (fstat(in, &st) != 0) { int e = errno; close(in); errno = e; return -1; }
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) { int e = errno; close(in); errno = e; return -1; }
    long long copied = 0;
    off_t pos = 0;
    int failed = 0;
    while (pos < st.st_size) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break; /* only a hole is left */
            failed = 1;
            break;
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0) { failed = 1; break; }
        if (copy_range(in, out, data, hole) != 0) { failed = 1; break; }
        copied += hole - data;
        pos = hole;
    }
    if (!failed && ftruncate(out, st.st_size) != 0) failed = 1;
    int e = errno;
    close(in);
    close(out);
    if (failed) { unlink(dst); errno = e; return -1; }
    return copied;
}
