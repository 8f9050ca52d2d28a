import BhattiSystem
import Glibc

/// The members of the outer archive (the `.tar` the user hands in), indexed by one pass over its
/// headers, seeking past the data. Blobs are then read in place with pread: the outer archive is never
/// extracted, so nothing in it can write anywhere. Symlinks and hard links between members (old
/// `docker save` links duplicate layers) are followed by name inside the index only.
final class ArchiveIndex {
    struct Member: Equatable {
        var offset: UInt64
        var size: UInt64
    }

    let path: String
    private let file: FileDescriptor
    private var files: [String: Member] = [:]
    private var links: [String: String] = [:]

    init(path: String) throws(ImportError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path)", underlying: Errno.current) }
        file = FileDescriptor(rawValue: fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io("cannot stat \(path)", underlying: Errno.current) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .notTar("\(path) is not a regular file") }
        let size = UInt64(st.st_size)
        try Self.refuseCompressed(file: file, path: path, size: size)
        let tar = TarReader(FileRangeSource(file: file, path: path, offset: 0, length: size), what: path)
        while let entry = try tar.next() {
            guard let name = Self.normalize(entry.path) else { continue }
            switch entry.kind {
            case .file: files[name] = Member(offset: tar.position, size: entry.size)
            case .symlink:
                let base = name.split(separator: "/").dropLast().joined(separator: "/")
                if let target = Self.normalize(entry.linkTarget.hasPrefix("/") ? entry.linkTarget : "\(base)/\(entry.linkTarget)") {
                    links[name] = target
                }
            case .hardlink:
                if let target = Self.normalize(entry.linkTarget) { links[name] = target }
            default: continue
            }
        }
    }

    /// The regular file `name` names, following links (at most 8 deep); nil when absent.
    func member(_ name: String) -> Member? {
        guard var current = Self.normalize(name) else { return nil }
        for _ in 0..<8 {
            if let member = files[current] { return member }
            guard let next = links[current] else { return nil }
            current = next
        }
        return nil
    }

    func contains(_ name: String) -> Bool { member(name) != nil }

    /// A stream of `member`'s bytes.
    func source(_ member: Member) -> FileRangeSource {
        FileRangeSource(file: file, path: path, offset: member.offset, length: member.size)
    }

    /// A small JSON member's bytes.
    func read(_ name: String, limit: Int = 4 << 20) throws(ImportError) -> [UInt8]? {
        guard let member = member(name) else { return nil }
        return try source(member).readAll(limit: limit, what: name)
    }

    /// A name as the archive means it: no leading `/` or `./`, `..` resolved (nil if it climbs out).
    static func normalize(_ path: String) -> String? {
        var out: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                guard !out.isEmpty else { return nil }
                out.removeLast()
            } else {
                out.append(part)
            }
        }
        return out.isEmpty ? nil : out.joined(separator: "/")
    }

    /// A compressed archive cannot be indexed in place; say so rather than "not a tar".
    private static func refuseCompressed(file: FileDescriptor, path: String, size: UInt64) throws(ImportError) {
        var magic = [UInt8](repeating: 0, count: 4)
        let n = magic.withUnsafeMutableBytes { pread(file.rawValue, $0.baseAddress, 4, 0) }
        guard n == 4 else { return }
        if magic[0] == 0x1F && magic[1] == 0x8B { throw .notTar("\(path) is gzip-compressed; gunzip it first") }
        if magic == [0x28, 0xB5, 0x2F, 0xFD] { throw .notTar("\(path) is zstd-compressed; decompress it first") }
    }
}
