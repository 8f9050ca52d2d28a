/// One tar member's header, after pax and GNU long-name records have been folded in.
struct TarEntry: Equatable {
    enum Kind: Equatable {
        case file, hardlink, symlink, characterDevice, blockDevice, directory, fifo
    }

    var path: String
    var kind: Kind
    var size: UInt64
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var mtime: Int64
    var linkTarget: String
    var deviceMajor: UInt32 = 0
    var deviceMinor: UInt32 = 0
    /// pax `SCHILY.xattr.*` records (name without the prefix → value).
    var xattrs: [String: [UInt8]] = [:]
}

/// A streaming tar reader: ustar, pax extended headers (`x`; global `g` headers are read and ignored),
/// GNU long names and link names (`L`, `K`), base-256 numbers. `next()` skips whatever the caller left
/// unread of the previous entry. `what` names the stream in errors ("layer 2", the archive's path).
final class TarReader {
    private let source: any ByteSource
    private let what: String
    private var remaining: UInt64 = 0
    private var padding: UInt64 = 0
    private var headersSeen = 0
    private var ended = false
    /// Bytes consumed from the source so far: an entry's data starts here right after `next()`.
    private(set) var position: UInt64 = 0

    /// Extended records and long names are read into memory; none legitimately comes near this.
    static let maximumMetadataSize: UInt64 = 1 << 20

    init(_ source: any ByteSource, what: String) {
        self.source = source
        self.what = what
    }

    /// The next entry, or nil after the end-of-archive block (or a clean end of stream between entries).
    func next() throws(ImportError) -> TarEntry? {
        guard !ended else { return nil }
        try skipRest()
        guard !ended else { return nil }
        var longName: String?
        var longLink: String?
        var pax: [String: [UInt8]] = [:]
        while true {
            guard let block = try source.readBytes(512, what: "\(what): a tar header") else {
                if headersSeen == 0 { throw .notTar("\(what) is empty") }
                if longName != nil || longLink != nil || !pax.isEmpty { throw .truncated("\(what): an entry's header") }
                ended = true
                return nil
            }
            position += 512
            if block.allSatisfy({ $0 == 0 }) {
                ended = true
                return nil
            }
            guard Self.checksumMatches(block) else {
                if headersSeen == 0 { throw .notTar("\(what) does not start with a tar header") }
                throw .corruptTar("\(what): header checksum mismatch at byte \(position - 512)")
            }
            headersSeen += 1
            let size = try number(block, 124, 12, "size")
            let type = block[156]
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= Self.maximumMetadataSize else { throw .corruptTar("\(what): a \(size)-byte extended header") }
                let data = try readMetadata(size)
                if type == UInt8(ascii: "x") {
                    pax.merge(try Self.parsePax(data, what: what)) { _, new in new }
                } else if type == UInt8(ascii: "L") {
                    longName = Self.cString(data[...])
                } else if type == UInt8(ascii: "K") {
                    longLink = Self.cString(data[...])
                }
                continue
            default:
                break
            }
            var entry = try parse(block, size: size)
            if let longName { entry.path = longName }
            if let longLink { entry.linkTarget = longLink }
            try applyPax(pax, to: &entry)
            // Only regular files carry data; a link's or directory's size field is not to be trusted.
            if entry.kind != .file { entry.size = 0 }
            remaining = entry.size
            padding = (512 - entry.size % 512) % 512
            return entry
        }
    }

    /// Reads the current entry's data; 0 once it is all read.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        guard remaining > 0, buffer.count > 0 else { return 0 }
        let want = Int(min(UInt64(buffer.count), remaining))
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want]))
        if n == 0 { throw .truncated("\(what): an entry's data") }
        remaining -= UInt64(n)
        position += UInt64(n)
        return n
    }

    /// Skips the unread data and the padding after it. A stream that ends inside the final entry's
    /// padding ends the archive cleanly: umoci writes layers without it (and without the end blocks),
    /// and Go's archive/tar, which docker and containerd use, reads them the same way.
    private func skipRest() throws(ImportError) {
        if remaining > 0 { try source.skip(remaining, what: "\(what): an entry's data") }
        position += remaining
        remaining = 0
        let pad = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(padding), alignment: 8)
        defer { pad.deallocate() }
        var done = 0
        while done < pad.count {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: pad[done...]))
            if n == 0 {
                ended = true
                break
            }
            done += n
        }
        position += UInt64(done)
        padding = 0
    }

    private func readMetadata(_ size: UInt64) throws(ImportError) -> [UInt8] {
        let data = try source.readBytes(Int(size), what: "\(what): an extended header") ?? []
        if data.count < size { throw .truncated("\(what): an extended header") }
        let pad = (512 - size % 512) % 512
        try source.skip(pad, what: "\(what): an extended header")
        position += size + pad
        return data
    }

    private func parse(_ b: [UInt8], size: UInt64) throws(ImportError) -> TarEntry {
        let kind: TarEntry.Kind
        switch b[156] {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "1"): kind = .hardlink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        case let other:
            let name = Self.cString(b[0..<100])
            throw .corruptTar("\(what): entry \(name) has unsupported type '\(Character(Unicode.Scalar(other)))'")
        }
        var path = Self.cString(b[0..<100])
        // POSIX ustar ("ustar\0") splits long paths into prefix + name; GNU ("ustar  ") uses those bytes
        // for other things.
        if b[257..<263].elementsEqual(Array("ustar\0".utf8)) {
            let prefix = Self.cString(b[345..<500])
            if !prefix.isEmpty { path = prefix + "/" + path }
        }
        var entry = TarEntry(
            path: path, kind: kind, size: size, mode: UInt32(truncatingIfNeeded: try number(b, 100, 8, "mode")),
            uid: UInt32(truncatingIfNeeded: try number(b, 108, 8, "uid")),
            gid: UInt32(truncatingIfNeeded: try number(b, 116, 8, "gid")),
            mtime: Int64(truncatingIfNeeded: try number(b, 136, 12, "mtime")), linkTarget: Self.cString(b[157..<257]))
        if kind == .characterDevice || kind == .blockDevice {
            entry.deviceMajor = UInt32(truncatingIfNeeded: try number(b, 329, 8, "devmajor"))
            entry.deviceMinor = UInt32(truncatingIfNeeded: try number(b, 337, 8, "devminor"))
        }
        return entry
    }

    private func applyPax(_ pax: [String: [UInt8]], to entry: inout TarEntry) throws(ImportError) {
        for (key, value) in pax {
            let text = String(decoding: value, as: UTF8.self)
            switch key {
            case "path": entry.path = text
            case "linkpath": entry.linkTarget = text
            case "size", "uid", "gid":
                guard let n = UInt64(text) else { throw .corruptTar("\(what): pax \(key)=\(text) is not a number") }
                if key == "size" {
                    entry.size = n
                } else if key == "uid" {
                    entry.uid = UInt32(truncatingIfNeeded: n)
                } else {
                    entry.gid = UInt32(truncatingIfNeeded: n)
                }
            case "mtime":
                // Seconds with an optional fraction; the fraction is dropped.
                let whole = text.split(separator: ".", maxSplits: 1).first.map(String.init) ?? text
                guard let n = Int64(whole) else { throw .corruptTar("\(what): pax mtime=\(text) is not a number") }
                entry.mtime = n
            default:
                if key.hasPrefix("SCHILY.xattr.") { entry.xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = value }
            }
        }
    }

    /// A numeric field: NUL/space-terminated octal, or base-256 when the high bit of the first byte is set.
    private func number(_ b: [UInt8], _ offset: Int, _ length: Int, _ field: String) throws(ImportError) -> UInt64 {
        let bytes = b[offset..<offset + length]
        if let first = bytes.first, first & 0x80 != 0 {
            guard first & 0x40 == 0 else { throw .corruptTar("\(what): negative \(field)") }
            var value: UInt64 = UInt64(first & 0x3F)
            for byte in bytes.dropFirst() {
                guard value >> 56 == 0 else { throw .corruptTar("\(what): \(field) overflows") }
                value = value << 8 | UInt64(byte)
            }
            return value
        }
        var value: UInt64 = 0
        var started = false
        for byte in bytes {
            if byte == 0 || (byte == 0x20 && started) { break }
            if byte == 0x20 { continue }
            guard byte >= 0x30 && byte <= 0x37, value >> 60 == 0 else {
                throw .corruptTar("\(what): \(field) field is not an octal number")
            }
            value = value << 3 | UInt64(byte - 0x30)
            started = true
        }
        return value
    }

    /// The header checksum: the sum of all bytes with the checksum field counted as spaces (unsigned,
    /// or signed as some old tars wrote it).
    static func checksumMatches(_ b: [UInt8]) -> Bool {
        var stored: UInt32 = 0
        var digits = 0
        for byte in b[148..<156] {
            if byte >= 0x30 && byte <= 0x37 {
                stored = stored << 3 | UInt32(byte - 0x30)
                digits += 1
            } else if digits > 0 {
                break
            }
        }
        guard digits > 0 else { return false }
        var unsigned: UInt32 = 0
        var signed: Int32 = 0
        for (i, byte) in b.enumerated() {
            let v = (148..<156).contains(i) ? 0x20 : byte
            unsigned += UInt32(v)
            signed += Int32(Int8(bitPattern: v))
        }
        return stored == unsigned || Int32(bitPattern: stored) == signed
    }

    /// pax records: "<length> <key>=<value>\n", the length counting the whole record.
    static func parsePax(_ data: [UInt8], what: String) throws(ImportError) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: 0x20),
                let length = Int(String(decoding: data[i..<space], as: UTF8.self)), length > space - i + 2,
                i + length <= data.count, data[i + length - 1] == 0x0A,
                let equals = data[(space + 1)..<(i + length)].firstIndex(of: UInt8(ascii: "="))
            else { throw .corruptTar("\(what): malformed pax record at offset \(i)") }
            let key = String(decoding: data[(space + 1)..<equals], as: UTF8.self)
            out[key] = Array(data[(equals + 1)..<(i + length - 1)])
            i += length
        }
        return out
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }
}
