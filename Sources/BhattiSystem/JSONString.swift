/// JSON string literals (RFC 8259): quotes, backslashes and control characters escaped, `/` and
/// everything else left as UTF-8. The one escaper for every JSON written by hand (log lines, error
/// envelopes, the client config, the fast wire messages): here, below all of them.
public enum JSONString {
    /// Appends `text` as a quoted literal.
    public static func append(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(text, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `text` escaped, without quotes. UTF-8 bytes of non-ASCII characters are all 0x80 or
    /// more, so escaping byte by byte is escaping character by character.
    public static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                out += [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigits[Int(b >> 4)],
                    hexDigits[Int(b & 0xF)],
                ]
            default: out.append(b)
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

/// `text` escaped for the inside of a JSON string literal (no quotes added).
public func jsonEscaped(_ text: String) -> String {
    // Most text needs nothing: no copy then.
    guard text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return text }
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count + 8)
    JSONString.appendEscaped(text, to: &out)
    return String(decoding: out, as: UTF8.self)
}
