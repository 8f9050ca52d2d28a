/// A writer for the "newc" cpio format (magic 070701), the one the Linux kernel unpacks as initramfs.
///
/// Layout per entry: a 110-byte ASCII header (magic + 13 eight-digit hex fields), the NUL-terminated
/// name padded to a multiple of 4 counted from the header start, then the data padded to a multiple
/// of 4. A `TRAILER!!!` entry ends the archive. Timestamps are 0 and inode numbers count from 1,
/// so the same inputs always give the same bytes (the builder compares hashes, not dates).
struct CpioArchive {
    /// What an entry is; the mode's file-type bits come from here.
    enum Kind: Equatable {
        case directory
        case file([UInt8])
        case symlink(String)
        case characterDevice(major: UInt32, minor: UInt32)
    }

    /// One archive member: a path without a leading slash, permission bits and owner.
    struct Entry: Equatable {
        var path: String
        var permissions: UInt32
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var kind: Kind
    }

    private(set) var entries: [Entry] = []

    /// Appends a directory (add parents before their contents: the kernel creates them in order).
    mutating func directory(_ path: String, permissions: UInt32 = 0o755) {
        entries.append(Entry(path: path, permissions: permissions, kind: .directory))
    }

    /// Appends a regular file.
    mutating func file(_ path: String, _ bytes: [UInt8], permissions: UInt32 = 0o644) {
        entries.append(Entry(path: path, permissions: permissions, kind: .file(bytes)))
    }

    /// Appends a symbolic link; the target is stored as the entry's data.
    mutating func symlink(_ path: String, target: String) {
        entries.append(Entry(path: path, permissions: 0o777, kind: .symlink(target)))
    }

    /// Appends a character device node (the kernel mknods it while unpacking).
    mutating func characterDevice(_ path: String, major: UInt32, minor: UInt32, permissions: UInt32 = 0o600) {
        entries.append(Entry(path: path, permissions: permissions, kind: .characterDevice(major: major, minor: minor)))
    }

    /// The archive's bytes, trailer included, padded to a 512-byte block like `cpio -o` does.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        for (index, entry) in entries.enumerated() {
            let data: [UInt8]
            let type: UInt32
            var rdev: (UInt32, UInt32) = (0, 0)
            switch entry.kind {
            case .directory:
                data = []
                type = 0o040000
            case .file(let bytes):
                data = bytes
                type = 0o100000
            case .symlink(let target):
                data = Array(target.utf8)
                type = 0o120000
            case .characterDevice(let major, let minor):
                data = []
                type = 0o020000
                rdev = (major, minor)
            }
            Self.appendHeader(
                to: &out, name: entry.path, inode: UInt32(index + 1), mode: type | (entry.permissions & 0o7777),
                uid: entry.uid, gid: entry.gid, links: entry.kind == .directory ? 2 : 1,
                size: UInt32(data.count), rdev: rdev)
            out += data
            Self.pad(&out, to: 4)
        }
        Self.appendHeader(to: &out, name: "TRAILER!!!", inode: 0, mode: 0, uid: 0, gid: 0, links: 1, size: 0, rdev: (0, 0))
        Self.pad(&out, to: 512)
        return out
    }

    private static func appendHeader(
        to out: inout [UInt8], name: String, inode: UInt32, mode: UInt32, uid: UInt32, gid: UInt32,
        links: UInt32, size: UInt32, rdev: (UInt32, UInt32)
    ) {
        let nameBytes = Array(name.utf8) + [0]
        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        let fields: [UInt32] = [
            inode, mode, uid, gid, links, 0, size, 0, 0, rdev.0, rdev.1, UInt32(nameBytes.count), 0,
        ]
        out += Array("070701".utf8)
        for field in fields { out += hex8(field) }
        out += nameBytes
        pad(&out, to: 4)
    }

    /// Eight upper-case hex digits, zero-padded (what the kernel's gen_init_cpio writes).
    static func hex8(_ value: UInt32) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return (0..<8).reversed().map { digits[Int((value >> (UInt32($0) * 4)) & 0xF)] }
    }

    /// Pads with NULs to a multiple of `alignment`. Entries start 4-aligned, so padding the whole
    /// buffer equals padding relative to the entry's header.
    private static func pad(_ out: inout [UInt8], to alignment: Int) {
        let remainder = out.count % alignment
        if remainder != 0 { out += [UInt8](repeating: 0, count: alignment - remainder) }
    }
}
