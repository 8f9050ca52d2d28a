import BhattiSystem
import BhattiWire
import Glibc

/// rm -r, walked through descriptors: every directory is opened relative to its parent with
/// `O_NOFOLLOW`, so a symlink anywhere in the tree is removed itself and what it points to is left
/// alone, even one swapped in for a directory during the walk.
extension GuestFile {
    /// Removes `path` and, when it is a directory, everything below it; missing is `not_found`. Stops
    /// at the first entry that cannot be removed.
    static func removeTree(_ path: String) throws(WireErrorMessage) {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw error(Errno.current, path) }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            guard unlink(path) == 0 else { throw storageError(Errno.current, path) }
            return
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw storageError(Errno.current, path) }
        defer { close(fd) }
        try removeChildren(of: fd, path: path)
        guard rmdir(path) == 0 else { throw storageError(Errno.current, path) }
    }

    /// Empties the directory open as `dir` (at `path`, for messages). One descriptor per level.
    private static func removeChildren(of dir: Int32, path: String) throws(WireErrorMessage) {
        let names: [[CChar]]
        do { names = try entryNames(in: dir) } catch { throw storageError(error, path) }
        for name in names {
            let childPath = path + "/" + String(decoding: bytes(name), as: UTF8.self)
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }  // removed meanwhile
                throw storageError(Errno.current, childPath)
            }
            var flags: Int32 = 0
            if st.st_mode & S_IFMT == S_IFDIR {
                let child = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { throw storageError(Errno.current, childPath) }
                defer { close(child) }
                try removeChildren(of: child, path: childPath)
                flags = AT_REMOVEDIR
            }
            guard unlinkat(dir, name, flags) == 0 || errno == ENOENT else { throw storageError(Errno.current, childPath) }
        }
    }
}
