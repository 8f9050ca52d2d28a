import BhattiSystem
import BhattiWire
import Glibc

/// Directory listings for `fileList`.
enum DirectoryListing {
    /// At most this many entries are returned; `total` still counts them all.
    static let maxEntries = 10_000

    /// The encoded `FileListing` of `path`, small enough for one frame.
    static func encoded(_ path: String) throws -> [UInt8] {
        let dirFD = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else {
            let e = Errno.current
            if e.rawValue == ENOTDIR { throw WireErrorMessage(code: .badRequest, message: "\(path) is not a directory") }
            throw GuestFile.error(e, path)
        }
        defer { close(dirFD) }
        var names: [[CChar]]
        do { names = try GuestFile.entryNames(in: dirFD) } catch { throw GuestFile.error(error, path) }
        let total = names.count
        // Byte order, the same on every machine whatever its locale or Unicode tables.
        names.sort { $0.lexicographicallyPrecedes($1) { UInt8(bitPattern: $0) < UInt8(bitPattern: $1) } }
        var entries: [FileInfo] = []
        entries.reserveCapacity(min(total, maxEntries))
        for name in names.prefix(maxEntries) {
            var st = stat()
            // lstat relative to the open directory: a symlink is listed as itself, never followed.
            guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }  // removed meanwhile
            entries.append(GuestFile.info(name: String(decoding: GuestFile.bytes(name), as: UTF8.self), st))
        }
        return fitting(entries, total: total)
    }

    /// Encodes the listing, dropping entries from the end until it fits in one frame (long names can
    /// push 10,000 entries past the frame limit; a larger frame would break the connection).
    static func fitting(_ entries: [FileInfo], total: Int) -> [UInt8] {
        var kept = entries
        while true {
            let bytes = WireJSON.encode(FileListing(entries: kept, truncated: kept.count < total, total: total))
            if bytes.count <= Frame.maxPayload || kept.isEmpty { return bytes }
            // Shrink in proportion to the overshoot, with a margin, so this loops once or twice.
            let keep = Int(Double(kept.count) * Double(Frame.maxPayload) / Double(bytes.count) * 0.95)
            kept.removeLast(kept.count - max(0, min(keep, kept.count - 1)))
        }
    }
}
