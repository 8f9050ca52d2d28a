import BhattiSystem
import BhattiWire
import Glibc

extension AgentSession {
    /// A file read stream: `result` FileReadInfo, then metered `data`, then `end`.
    func openFileRead(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        do {
            let request = try decodeRequest(FileReadRequest.self, frame)
            for (name, value) in [("limit", request.limit), ("max_bytes", request.maxBytes)] where (value ?? 0) < 0 {
                throw WireErrorMessage(code: .badRequest, message: "\(name) must not be negative")
            }
            if let offset = request.offset, offset < 1 {
                throw WireErrorMessage(code: .badRequest, message: "offset is the first line to return, counted from 1")
            }
            let path = try guestPath(request.path)
            return FileReadStream(path: path, request: request, context: context)
        } catch {
            context.fail(error)
            return nil
        }
    }

    /// A file write stream; the request is checked here, before any data is accepted.
    func openFileWrite(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        do {
            let request = try decodeRequest(FileWriteRequest.self, frame)
            guard request.size >= 0 else { throw WireErrorMessage(code: .badRequest, message: "size must not be negative") }
            guard request.size <= GuestFile.maxWriteBytes else {
                throw WireErrorMessage(
                    code: .resourceExhausted,
                    message: "\(request.size) bytes is over the \(GuestFile.maxWriteBytes >> 20) MiB limit for one file write")
            }
            guard let mode = mode_t(request.mode, radix: 8), mode <= 0o7777 else {
                throw WireErrorMessage(code: .badRequest, message: "mode \(request.mode) is not an octal permission like 0644")
            }
            let path = try guestPath(request.path)
            guard !path.hasSuffix("/") else { throw WireErrorMessage(code: .badRequest, message: "\(path) names a directory, not a file") }
            return FileWriteStream(path: path, mode: mode, size: request.size, owner: state.fileOwner, context: context)
        } catch {
            context.fail(error)
            return nil
        }
    }

    /// `FileInfo` of a path (following a final symlink, unless it dangles).
    func statFile(_ frame: Frame) throws -> [UInt8] {
        let path = try guestPath(try decodeRequest(PathRequest.self, frame).path)
        var st = stat()
        if stat(path, &st) != 0 {
            let e = Errno.current
            guard e.rawValue == ENOENT, lstat(path, &st) == 0 else { throw GuestFile.error(e, path) }
        }
        return WireJSON.encode(GuestFile.info(name: GuestFile.baseName(path), st))
    }

    /// `FileListing` of a directory: entries by name (not following symlinks), capped.
    func listFiles(_ frame: Frame) throws -> [UInt8] {
        let path = try guestPath(try decodeRequest(PathRequest.self, frame).path)
        return try DirectoryListing.encoded(path)
    }

    /// An absolute path: relative ones are taken from the default working directory (/workspace).
    func guestPath(_ raw: String) throws -> String {
        guard !raw.isEmpty else { throw WireErrorMessage(code: .badRequest, message: "path is empty") }
        // A NUL would silently cut the C string short: another file than the one named.
        guard !raw.utf8.contains(0) else { throw WireErrorMessage(code: .badRequest, message: "path contains a NUL byte") }
        if raw.hasPrefix("/") { return raw }
        let cwd = state.base.defaultWorkingDirectory
        return cwd.hasSuffix("/") ? cwd + raw : cwd + "/" + raw
    }
}

extension StreamContext {
    /// Ends the stream with `error`'s code when it is a `WireErrorMessage`, else `internal`.
    func fail(_ error: any Error) {
        if let message = error as? WireErrorMessage {
            fail(message.code, message.message)
        } else {
            fail(.internal, String(describing: error))
        }
    }
}

/// Facts about guest files shared by the file streams and requests.
enum GuestFile {
    /// The most a single file write may carry (SPEC §6).
    static let maxWriteBytes = 100 << 20

    /// The wire error for a failed call on `path`.
    static func error(_ e: Errno, _ path: String) -> WireErrorMessage {
        switch e.rawValue {
        case ENOENT: WireErrorMessage(code: .notFound, message: "\(path): no such file or directory")
        case ENOTDIR: WireErrorMessage(code: .notFound, message: "\(path): a parent is not a directory")
        case ELOOP, ENAMETOOLONG: WireErrorMessage(code: .badRequest, message: "\(path): \(e)")
        default: storageError(e, path)
        }
    }

    /// `FileInfo` from a stat result.
    static func info(name: String, _ st: stat) -> FileInfo {
        FileInfo(
            name: name, size: Int(st.st_size), mode: octalMode(st.st_mode), isDir: st.st_mode & S_IFMT == S_IFDIR,
            mtime: Int(st.st_mtim.tv_sec))
    }

    /// Permission bits as four octal digits: "0644", "1777".
    static func octalMode(_ mode: mode_t) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The last path component ("/" for the root).
    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "/"
    }
}
