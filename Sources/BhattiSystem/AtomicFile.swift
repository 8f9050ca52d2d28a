public import Glibc

/// Atomic file replacement: the bytes go to a new temp file in the target's directory, which is
/// fsynced, given its mode (and owner), renamed over the target, and the directory fsynced. A reader
/// sees the old file or the new one, never a partial one, even after a power cut. The one way files
/// are replaced, by the daemon, the engine, the image builder and the guest agent alike.
public enum AtomicFile {
    /// Who a written file belongs to.
    public struct Owner: Sendable, Equatable {
        public let uid: uid_t
        public let gid: gid_t
        public init(uid: uid_t, gid: gid_t) {
            self.uid = uid
            self.gid = gid
        }
    }

    /// Replaces `path` with `bytes`; returns the new file's stat. The parent directory must exist.
    /// `durable: false` skips the fsyncs, for files that mean nothing after a power cut (a pid file).
    @discardableResult
    public static func write(
        _ bytes: [UInt8], to path: String, mode: mode_t, owner: Owner? = nil, durable: Bool = true
    ) throws(AtomicFileError) -> stat {
        let writer = try Writer(path: path, mode: mode, owner: owner)
        try writer.append(bytes)
        return try writer.commit(durable: durable)
    }

    /// Moves a file someone else finished writing (a tool's output, a download) over `path`: fsync
    /// it, rename, fsync the directory.
    public static func commit(_ temp: String, to path: String) throws(AtomicFileError) {
        try sync(temp)
        guard rename(temp, path) == 0 else { throw AtomicFileError(.rename, path, .current) }
        try sync(directory(of: path), directory: true)
    }

    /// fsync(2) of a file by name, or of a directory (after a rename into it).
    public static func sync(_ path: String, directory: Bool = false) throws(AtomicFileError) {
        // Read-only is enough for fsync, and opens a file whose mode denies writing.
        let fd = open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        guard fd >= 0 else { throw AtomicFileError(directory ? .syncDirectory : .fsync, path, .current) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw AtomicFileError(directory ? .syncDirectory : .fsync, path, .current) }
    }

    /// The directory a path names its file in ("." for a bare name, "/" for a file at the root).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// An atomic write in progress, for data that arrives in pieces or that another process writes
    /// through `descriptor`. Until `commit` the target is untouched; `abandon`, a failed step, or
    /// dropping the writer removes the temp file.
    public final class Writer {
        public let path: String
        public let temp: String
        /// The temp file, open for writing.
        public let descriptor: FileDescriptor
        private let mode: mode_t
        private let owner: Owner?
        public private(set) var written = 0
        private var done = false

        public init(path: String, mode: mode_t, owner: Owner? = nil) throws(AtomicFileError) {
            self.path = path
            self.mode = mode
            self.owner = owner
            let dir = AtomicFile.directory(of: path)
            let name = path.split(separator: "/").last.map(String.init) ?? "file"
            // A name of its own (O_EXCL): two writers of one target never share a temp file.
            temp = "\(dir)/.\(name).bhatti-\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).tmp"
            // 0600 until commit: nobody reads the partial file, and the final mode escapes the umask.
            let raw = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard raw >= 0 else { throw AtomicFileError(.create, path, .current) }
            descriptor = FileDescriptor(rawValue: raw)
        }

        deinit { if !done { unlink(temp) } }

        public func append(_ bytes: [UInt8]) throws(AtomicFileError) {
            do { try descriptor.writeAllFile(bytes) } catch {
                abandon()
                throw AtomicFileError(.write, path, error)
            }
            written += bytes.count
        }

        /// Applies owner and mode, fsyncs, renames into place and fsyncs the directory (the fsyncs
        /// only when `durable`); returns the new file's stat. On failure before the rename the target
        /// is untouched and the temp file gone. `syncDirectory: false` leaves the directory's fsync to
        /// a commit that follows at once in the same directory: the journal (ext4, xfs) makes this
        /// rename durable with that one's, and a cold snapshot then pays one directory fsync, not two.
        @discardableResult
        public func commit(durable: Bool = true, syncDirectory: Bool = true) throws(AtomicFileError) -> stat {
            // Owner first: chown clears set-uid bits, which the mode may ask for.
            if let owner { try onDescriptor(.chown) { fchown($0, owner.uid, owner.gid) } }
            try onDescriptor(.chmod) { fchmod($0, mode) }
            if durable { try onDescriptor(.fsync) { fsync($0) } }
            // From the descriptor: by name, a concurrent writer's file could answer instead.
            var st = stat()
            try onDescriptor(.stat) { fstat($0, &st) }
            descriptor.close()
            done = true
            guard rename(temp, path) == 0 else {
                let cause = Errno.current
                unlink(temp)
                throw AtomicFileError(.rename, path, cause)
            }
            if durable && syncDirectory { try AtomicFile.sync(AtomicFile.directory(of: path), directory: true) }
            return st
        }

        /// Drops the temp file (the transfer failed or was cancelled).
        public func abandon() {
            descriptor.close()
            guard !done else { return }
            done = true
            unlink(temp)
        }

        /// One call on the temp file; a failure drops it.
        private func onDescriptor(_ operation: AtomicFileError.Operation, _ call: (Int32) -> Int32) throws(AtomicFileError) {
            do { _ = try descriptor.withRawValue { fd throws(Errno) in try valueOrErrno { call(fd) } } } catch {
                abandon()
                throw AtomicFileError(operation, path, error)
            }
        }
    }
}

/// A failed atomic write: which step, on which target, and the system's reason.
public struct AtomicFileError: Error, Equatable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case create, write, chown, chmod, fsync, stat, rename
        case syncDirectory = "fsync the directory of"
    }

    public let operation: Operation
    /// The file being replaced (not its temp file).
    public let path: String
    public let errno: Errno

    public init(_ operation: Operation, _ path: String, _ errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String { "cannot \(operation.rawValue) \(path): \(errno)" }
}
