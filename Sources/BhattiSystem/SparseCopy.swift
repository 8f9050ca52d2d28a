import CBhattiShim
import Glibc

public enum SparseCopy {
    /// Copies `source` to a new file `destination` keeping holes; returns the data bytes copied.
    /// Blocking: run it on a dedicated thread.
    @discardableResult
    public static func copy(_ source: String, to destination: String) throws(Errno) -> Int {
        Int(try valueOrErrno { bh_copy_sparse(source, destination) })
    }

    /// fsync(2) of a file by path. Blocking.
    public static func sync(_ path: String) throws(Errno) {
        let fd = try valueOrErrno { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        _ = try valueOrErrno { fsync(fd) }
    }
}
