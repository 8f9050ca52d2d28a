import BhattiCore
import Foundation
import Glibc

/// The data directory's file system as `StorageBudget` needs it: free space and what a file occupies.
enum StorageGuard {
    /// Bytes available on the file system of `path` to an unprivileged user: QEMU writes as the VMM
    /// user, which cannot use the blocks reserved for root.
    static func freeBytes(_ path: String) -> UInt64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize)
    }

    /// Bytes a file really occupies (sparse files count only what is written).
    static func allocatedBytes(_ path: String) -> UInt64 {
        var s = stat()
        guard stat(path, &s) == 0 else { return 0 }
        return UInt64(s.st_blocks) * 512
    }
}
