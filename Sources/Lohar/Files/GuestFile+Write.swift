import BhattiSystem
import BhattiWire
import Glibc

/// Guest file writes on `AtomicFile`: what the guest adds is an absolute-path check, parents made
/// for the file's owner, and failures told to the host as wire error codes.
extension GuestFile {
    /// Writes `bytes` to `path`, creating missing parent directories (owned like the file).
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, owner: AtomicFile.Owner?) throws(WireErrorMessage) {
        let writer = try writer(path: path, mode: mode, owner: owner)
        do {
            try writer.append(bytes)
            try writer.commit()
        } catch {
            throw writeError(error)
        }
    }

    /// An atomic write of `path` in progress, its parents made first.
    static func writer(path: String, mode: mode_t, owner: AtomicFile.Owner?) throws(WireErrorMessage) -> AtomicFile.Writer {
        guard path.hasPrefix("/"), !path.hasSuffix("/") else {
            throw WireErrorMessage(code: .badRequest, message: "\(path): need an absolute file path")
        }
        let dir = String(path[..<path.lastIndex(of: "/")!])
        try makeDirectories(dir.isEmpty ? "/" : dir, owner: owner)
        do { return try AtomicFile.Writer(path: path, mode: mode, owner: owner) } catch { throw writeError(error) }
    }

    /// The wire error for a failed step of a write: the host sees the target path and a code it acts on.
    static func writeError(_ failure: AtomicFileError) -> WireErrorMessage {
        storageError(failure.errno, failure.path)
    }

    static func storageError(_ e: Errno, _ path: String) -> WireErrorMessage {
        let code: WireErrorCode =
            switch e.rawValue {
            case ENOENT, ENOTDIR: .notFound
            case EACCES, EPERM, EROFS: .permissionDenied
            case EISDIR: .badRequest
            case ENOSPC, EDQUOT: .insufficientStorage
            default: .internal
            }
        return WireErrorMessage(code: code, message: "\(path): \(e)")
    }

    /// mkdir -p, giving new directories to `owner`; whether `dir` itself was made (false: it was
    /// already a directory). Something else in the way is `bad_request`.
    @discardableResult
    static func makeDirectories(_ dir: String, owner: AtomicFile.Owner?) throws(WireErrorMessage) -> Bool {
        if try isDirectory(dir) { return false }
        let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
        if !parent.isEmpty { try makeDirectories(parent, owner: owner) }
        guard mkdir(dir, 0o755) == 0 else {
            let e = Errno.current
            guard e.rawValue == EEXIST else { throw storageError(e, dir) }
            // Made meanwhile by someone else (there now, but not made here), or a dangling symlink.
            if try isDirectory(dir) { return false }
            throw WireErrorMessage(code: .badRequest, message: "\(dir) is not a directory")
        }
        if let owner { _ = chown(dir, owner.uid, owner.gid) }
        return true
    }

    /// Whether `path` is a directory (following symlinks); false when nothing is there, `bad_request`
    /// when something else is.
    private static func isDirectory(_ path: String) throws(WireErrorMessage) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw WireErrorMessage(code: .badRequest, message: "\(path) is not a directory") }
        return true
    }
}
