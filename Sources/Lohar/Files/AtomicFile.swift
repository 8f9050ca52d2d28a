import BhattiSystem
import BhattiWire
import Glibc

/// Atomic file replacement: a temp file in the same directory, fsync, rename, fsync of the
/// directory. A reader sees the old file or the new one, never a partial write.
enum AtomicFile {
    /// Writes `bytes` to `path`, creating missing parent directories (owned like the file).
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, owner: (uid_t, gid_t)?) throws {
        let writer = try Writer(path: path, mode: mode, owner: owner)
        do {
            try writer.append(bytes)
            try writer.commit()
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// An in-progress atomic write, for data that arrives in pieces.
    final class Writer {
        let path: String
        let temp: String
        private let fd: FileDescriptor
        private let mode: mode_t
        private let owner: (uid_t, gid_t)?
        private(set) var written = 0

        init(path: String, mode: mode_t, owner: (uid_t, gid_t)?) throws {
            guard path.hasPrefix("/"), !path.hasSuffix("/") else {
                throw WireErrorMessage(code: .badRequest, message: "\(path): need an absolute file path")
            }
            self.path = path
            self.mode = mode
            self.owner = owner
            let dir = String(path[..<path.lastIndex(of: "/")!])
            try makeDirectories(dir.isEmpty ? "/" : dir, owner: owner)
            temp = "\(dir)/.\(path.split(separator: "/").last ?? "file").bhatti-\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).tmp"
            let raw = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard raw >= 0 else { throw AtomicFile.error(Errno.current, path) }
            fd = FileDescriptor(rawValue: raw)
        }

        func append(_ bytes: [UInt8]) throws {
            do { try fd.writeAllFile(bytes) } catch { throw AtomicFile.error(error, path) }
            written += bytes.count
        }

        /// fsync, set mode and owner, rename into place, fsync the directory; returns the new file's stat.
        @discardableResult
        func commit() throws -> stat {
            if let owner { _ = fchown(fd.rawValue, owner.0, owner.1) }
            _ = fchmod(fd.rawValue, mode)
            guard fsync(fd.rawValue) == 0 else { let e = Errno.current; abandon(); throw AtomicFile.error(e, path) }
            // Taken from the descriptor: by name, a concurrent writer's file could answer instead.
            var st = stat()
            _ = fstat(fd.rawValue, &st)
            fd.close()
            guard rename(temp, path) == 0 else { let e = Errno.current; unlink(temp); throw AtomicFile.error(e, path) }
            let dir = open(String(path[..<path.lastIndex(of: "/")!]).isEmpty ? "/" : String(path[..<path.lastIndex(of: "/")!]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dir >= 0 { fsync(dir); close(dir) }
            return st
        }

        /// Drops the temp file (the transfer failed or was cancelled).
        func abandon() {
            fd.close()
            unlink(temp)
        }
    }

    static func error(_ e: Errno, _ path: String) -> WireErrorMessage {
        let code: WireErrorCode = switch e.rawValue {
        case ENOENT, ENOTDIR: .notFound
        case EACCES, EPERM, EROFS: .permissionDenied
        case EISDIR: .badRequest
        case ENOSPC, EDQUOT: .insufficientStorage
        default: .internal
        }
        return WireErrorMessage(code: code, message: "\(path): \(e)")
    }

    /// mkdir -p, giving new directories to `owner`.
    static func makeDirectories(_ dir: String, owner: (uid_t, gid_t)?) throws {
        var st = stat()
        if stat(dir, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw WireErrorMessage(code: .badRequest, message: "\(dir) is not a directory") }
            return
        }
        let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
        if !parent.isEmpty { try makeDirectories(parent, owner: owner) }
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw error(Errno.current, dir) }
        if let owner { _ = chown(dir, owner.0, owner.1) }
    }
}
