import BhattiSystem
import CZlib
import Foundation

@testable import BhattiImage

/// A tiny tar writer for crafting archives, hostile ones included: it writes whatever it is told.
struct TarWriter {
    private(set) var bytes: [UInt8] = []

    mutating func file(
        _ path: String, _ content: String, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, mtime: UInt64 = 1_700_000_000
    ) {
        file(path, Array(content.utf8), mode: mode, uid: uid, gid: gid, mtime: mtime)
    }

    mutating func file(
        _ path: String, _ content: [UInt8], mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, mtime: UInt64 = 1_700_000_000
    ) {
        entry(path, type: "0", size: content.count, mode: mode, uid: uid, gid: gid, mtime: mtime)
        append(content)
    }

    mutating func directory(_ path: String, mode: UInt32 = 0o755, uid: UInt32 = 0, mtime: UInt64 = 1_600_000_000) {
        entry(path, type: "5", mode: mode, uid: uid, mtime: mtime)
    }

    mutating func symlink(_ path: String, to target: String) { entry(path, type: "2", mode: 0o777, link: target) }
    mutating func hardlink(_ path: String, to target: String) { entry(path, type: "1", link: target) }
    mutating func special(_ path: String, type: Character) { entry(path, type: type, mode: 0o666) }

    /// A pax extended header ('x') for the next entry.
    mutating func pax(_ records: [String: String]) {
        var body: [UInt8] = []
        for (key, value) in records.sorted(by: { $0.key < $1.key }) {
            let rest = " \(key)=\(value)\n"
            var length = rest.utf8.count + 1
            while "\(length)".utf8.count + rest.utf8.count != length { length += 1 }
            body += Array("\(length)\(rest)".utf8)
        }
        entry("PaxHeaders/x", type: "x", size: body.count)
        append(body)
    }

    /// A GNU long-name ('L') or long-link ('K') record for the next entry.
    mutating func gnuLong(_ type: Character, _ value: String) {
        let body = Array(value.utf8) + [0]
        entry("././@LongLink", type: type, size: body.count, gnu: true)
        append(body)
    }

    /// The end-of-archive blocks.
    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    mutating func entry(
        _ path: String, type: Character, size: Int = 0, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: UInt64 = 1_700_000_000, link: String = "", gnu: Bool = false
    ) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: [UInt8], _ at: Int, _ max: Int) { for (i, b) in s.prefix(max).enumerated() { h[at + i] = b } }
        func octal(_ v: UInt64, _ at: Int, _ width: Int) { put(Array(String(String(v, radix: 8).suffix(width - 1)).utf8), at, width - 1) }
        put(Array(path.utf8), 0, 100)
        octal(UInt64(mode), 100, 8)
        octal(UInt64(uid), 108, 8)
        octal(UInt64(gid), 116, 8)
        octal(UInt64(size), 124, 12)
        octal(mtime, 136, 12)
        h[156] = UInt8(ascii: type.unicodeScalars.first!)
        put(Array(link.utf8), 157, 100)
        put(Array((gnu ? "ustar  \0" : "ustar\u{0}00").utf8), 257, 8)
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + UInt32($1) }
        put(Array(String(sum, radix: 8).utf8) + [0], 148, 7)
        bytes += h
    }

    private mutating func append(_ content: [UInt8]) {
        bytes += content
        bytes += [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
    }
}

/// gzip (RFC 1952) through zlib's deflate.
func gzip(_ input: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(
        deflateInit2_(&stream, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
    var input = input
    let produced = input.withUnsafeMutableBufferPointer { inBuf in
        out.withUnsafeMutableBufferPointer { outBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            stream.next_out = outBuf.baseAddress
            stream.avail_out = UInt32(outBuf.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return outBuf.count - Int(stream.avail_out)
        }
    }
    return Array(out[..<produced])
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    let hasher = SHA256()
    bytes.withUnsafeBytes { hasher.update($0) }
    return hexString(hasher.finish())
}

func json(_ object: Any) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) }
