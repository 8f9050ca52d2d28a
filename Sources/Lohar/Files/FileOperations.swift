import BhattiSystem
import BhattiWire
import Glibc

/// The one-shot file operations E2B's envd offers beside reads and writes: make a directory, move,
/// remove. Each is one system call or a walk, done on the request's own thread.
extension AgentSession {
    /// `file_make_directory`: mkdir -p, new directories the sandbox user's (as a write's parents are).
    func makeDirectory(_ frame: Frame) throws -> [UInt8] {
        let path = GuestFile.trimmingSlashes(try guestPath(try decodeRequest(PathRequest.self, frame).path))
        return WireJSON.encode(MakeDirectoryReply(created: try GuestFile.makeDirectories(path, owner: state.fileOwner)))
    }

    /// `file_move`: rename(2), so a destination that is there is replaced as rename replaces it. Once
    /// the source is known to be there, the destination's missing parents are made, as a write's are.
    func moveFile(_ frame: Frame) throws -> [UInt8] {
        let request = try decodeRequest(MoveRequest.self, frame)
        let source = GuestFile.trimmingSlashes(try guestPath(request.source))
        let destination = GuestFile.trimmingSlashes(try guestPath(request.destination))
        var st = stat()
        guard lstat(source, &st) == 0 else { throw GuestFile.error(Errno.current, source) }
        if let slash = destination.lastIndex(of: "/"), slash != destination.startIndex {
            try GuestFile.makeDirectories(String(destination[..<slash]), owner: state.fileOwner)
        }
        guard rename(source, destination) == 0 else { throw GuestFile.moveError(Errno.current, source, destination) }
        return WireJSON.encode(Empty())
    }

    /// `file_remove`: the path and, for a directory, everything below it, following no symlink.
    func removeFile(_ frame: Frame) throws -> [UInt8] {
        let path = GuestFile.trimmingSlashes(try guestPath(try decodeRequest(PathRequest.self, frame).path))
        guard path != "/" else { throw WireErrorMessage(code: .badRequest, message: "will not remove /") }
        try GuestFile.removeTree(path)
        return WireJSON.encode(Empty())
    }
}

extension GuestFile {
    /// `path` without trailing slashes ("/a/b/" is "/a/b"; "/" stays): a symlink named with one would
    /// otherwise be taken for the directory it points to.
    static func trimmingSlashes(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    /// The wire error for a failed rename: what the caller asked for that cannot be is `bad_request`,
    /// with the reason in words.
    static func moveError(_ e: Errno, _ source: String, _ destination: String) -> WireErrorMessage {
        let why: String? =
            switch e.rawValue {
            case EXDEV: "they are on different file systems"
            case EISDIR: "\(destination) is a directory"
            case ENOTDIR: "\(destination) is not a directory"
            case ENOTEMPTY, EEXIST: "\(destination) is a directory that is not empty"
            case EINVAL: "a directory cannot move into itself"
            case EBUSY: "one of them is in use (a mount point)"
            default: nil
            }
        guard let why else { return storageError(e, source) }
        return WireErrorMessage(code: .badRequest, message: "cannot move \(source) to \(destination): \(why)")
    }
}
