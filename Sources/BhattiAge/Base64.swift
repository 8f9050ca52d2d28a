/// Unpadded standard base64 (RFC 4648 §4), strict: age requires decoders to
/// reject padding, stray characters and non-canonical trailing bits.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func isAlphabet(_ byte: UInt8) -> Bool { reverse[Int(byte)] != 0xff }

    static func encode<C: Collection<UInt8>>(_ data: C) -> String {
        let bytes = Array(data)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i])
            let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            let emitted = [0, 2, 3, 4][min(bytes.count - i, 3)]  // no '=' padding
            for k in 0..<emitted { out.append(alphabet[(group >> (18 - 6 * k)) & 63]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Returns nil for anything but the canonical unpadded encoding.
    static func decode<C: Collection<UInt8>>(_ text: C) -> [UInt8]? {
        let chars = Array(text)
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var accumulator = 0
        var bits = 0
        for c in chars {
            let value = reverse[Int(c)]
            guard value != 0xff else { return nil }
            accumulator = (accumulator << 6 | Int(value)) & 0xffffff
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((accumulator >> bits) & 0xff))
            }
        }
        // Leftover bits exist only to pad the last character; canonical encodings zero them.
        guard accumulator & ((1 << bits) - 1) == 0 else { return nil }
        return out
    }
}
