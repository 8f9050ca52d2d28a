import BhattiAPI
import BhattiEngine

/// Guest values to API DTOs: the engine and the API change independently.
extension FileInfoDTO {
    init(_ i: GuestFileInfo) { self.init(name: i.name, size: i.size, mode: i.mode, isDir: i.isDir, mtime: i.mtime) }
}

extension FileListingDTO {
    init(_ l: GuestFileListing) { self.init(entries: l.entries.map(FileInfoDTO.init), truncated: l.truncated, total: l.total) }
}

extension SessionDTO {
    init(_ s: GuestSessionInfo) {
        self.init(
            sessionID: s.sessionID, argv: s.argv.joined(separator: " "), tty: s.tty, running: s.running,
            exitCode: s.exitCode, attached: s.attached, createdAt: s.createdAt)
    }
}
