import CBhattiShim

public enum SparseCopy {
    /// Copies `source` to a new file `destination` keeping holes; returns the data bytes copied.
    /// Blocking: run it on a dedicated thread.
    @discardableResult
    public static func copy(_ source: String, to destination: String) throws(Errno) -> Int {
        Int(try valueOrErrno { bh_copy_sparse(source, destination) })
    }
}
