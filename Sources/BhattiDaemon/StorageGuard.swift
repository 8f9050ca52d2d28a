import BhattiCore
import Foundation
import Glibc

/// Free space in the data directory, checked before anything that will fill it: a QEMU whose RAM
/// file or disk cannot grow dies of SIGBUS mid-run, and the store can then not record it.
enum StorageGuard {
    /// What a running guest's disk and the daemon's own files (store, logs) may grow by, besides RAM.
    static let headroomBytes: UInt64 = 256 << 20

    /// Bytes a VM needs before it starts: its RAM file's part not yet on disk, plus the headroom.
    static func needed(memoryMB: Int, ramBytesOnDisk: UInt64 = 0) -> UInt64 {
        let ram = UInt64(max(0, memoryMB)) << 20
        return (ram > ramBytesOnDisk ? ram - ramBytesOnDisk : 0) + headroomBytes
    }

    /// Refuses with 507 when `free` is less than `needed` (nil `free`: unknown, allowed).
    static func check(free: UInt64?, needed: UInt64, directory: String, for what: String) throws {
        guard let free, free < needed else { return }
        throw BhattiError(
            .insufficientStorage,
            "not enough free space in \(directory) to \(what): \(mebibytes(free)) free, \(mebibytes(needed)) needed (its RAM file and \(mebibytes(headroomBytes)) for disk growth)")
    }

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

    static func mebibytes(_ bytes: UInt64) -> String { "\(bytes >> 20) MiB" }
}
