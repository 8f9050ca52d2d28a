/// Base64 for proto3 JSON `bytes` fields.
///
/// Writers emit standard, padded base64 (what Go's protojson and the SDK send). Readers accept what
/// Go's protojson accepts: the URL-safe alphabet when the text holds `-` or `_`, the standard one
/// otherwise, with or without padding. Anything else is `nil`, never a trap.
enum Base64 {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next()
            let b2 = it.next()
            let n = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.append(standard[Int(n >> 18 & 63)])
            out.append(standard[Int(n >> 12 & 63)])
            out.append(b1 == nil ? UInt8(ascii: "=") : standard[Int(n >> 6 & 63)])
            out.append(b2 == nil ? UInt8(ascii: "=") : standard[Int(n & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var chars = Array(text.utf8)
        let urlSafe = chars.contains(UInt8(ascii: "-")) || chars.contains(UInt8(ascii: "_"))
        if chars.count % 4 == 0 {
            // Padded form: at most two trailing '='.
            var pad = 0
            while pad < 2, let last = chars.last, last == UInt8(ascii: "=") {
                chars.removeLast()
                pad += 1
            }
        }
        // One leftover character can't encode a byte.
        if chars.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in chars {
            guard let v = value(of: c, urlSafe: urlSafe) else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        return out
    }

    private static func value(of c: UInt8, urlSafe: Bool) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+") where !urlSafe: 62
        case UInt8(ascii: "/") where !urlSafe: 63
        case UInt8(ascii: "-") where urlSafe: 62
        case UInt8(ascii: "_") where urlSafe: 63
        default: nil
        }
    }
}
