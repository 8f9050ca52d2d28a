#pragma once
#include <sys/types.h>

/// Copies `src` to a new file `dst` (mode 0600) keeping holes: only the data extents are copied
/// (SEEK_DATA/SEEK_HOLE + copy_file_range), so a mostly untouched guest RAM file copies fast.
/// Returns the bytes of data copied, or -1 with errno.
long long bh_copy_sparse(const char *src, const char *dst);
