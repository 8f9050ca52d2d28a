import Foundation
import Glibc

/// What a file system has free and what files occupy on it: the image builder sizes a root file
/// system by it, the daemon checks a create or restore fits and logs what a reclaim freed.
public enum DiskSpace {
    /// Bytes available on the file system of `path` to an unprivileged user (QEMU writes as the VMM
    /// user, which cannot use the blocks reserved for root); nil when it cannot be asked.
    public static func freeBytes(_ path: String) -> UInt64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize)
    }

    /// How full the file system of `path` is, as `df` counts it; nil when it cannot be asked.
    public static func usage(_ path: String) -> FileSystemUsage? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return FileSystemUsage(blocks: UInt64(s.f_blocks), freeBlocks: UInt64(s.f_bfree), blockSize: UInt64(s.f_frsize))
    }

    /// Bytes a file, or a tree (hard links counted once), really occupies: sparse files count only
    /// what is written. 0 for what does not exist.
    public static func allocatedBytes(_ root: String) -> UInt64 {
        var total: UInt64 = 0
        var seen: Set<UInt64> = []
        func add(_ path: String) {
            var st = stat()
            guard lstat(path, &st) == 0 else { return }
            if st.st_nlink > 1, (st.st_mode & S_IFMT) != S_IFDIR, !seen.insert(UInt64(st.st_ino)).inserted { return }
            total += UInt64(st.st_blocks) * 512
        }
        add(root)
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String { add("\(root)/\(relative)") }
        return total
    }
}

/// A file system's size and what is in use, in bytes, as `df` counts them: every block is in the
/// total, and blocks reserved for root count as free, not used.
public struct FileSystemUsage: Equatable, Sendable {
    public var used: UInt64
    public var total: UInt64

    public init(used: UInt64, total: UInt64) {
        self.used = used
        self.total = total
    }

    /// From `statvfs`'s counts (`f_blocks`, `f_bfree`, `f_frsize`); more free blocks than blocks (a
    /// file system changing under the call) reads as none used.
    public init(blocks: UInt64, freeBlocks: UInt64, blockSize: UInt64) {
        let total = blocks.multipliedReportingOverflow(by: blockSize)
        let used = (blocks - min(freeBlocks, blocks)).multipliedReportingOverflow(by: blockSize)
        self.init(used: used.overflow ? .max : used.partialValue, total: total.overflow ? .max : total.partialValue)
    }
}
