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
