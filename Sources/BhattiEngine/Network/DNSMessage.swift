/// The little of DNS (RFC 1035 §4) the per-user responder needs: a standard query's header and its one
/// question, and the few answers it gives itself. Everything else in a message (EDNS, other sections) is
/// never interpreted: forwarded queries and replies pass through byte for byte but for the id.
public struct DNSQuery: Equatable, Sendable {
    public var id: UInt16
    /// Whether the client asked for recursion (RD), echoed in answers.
    public var recursionDesired: Bool
    /// Lowercased, without the root's dot (`dev`, `dev.bhatti`); nil when a label holds bytes no sandbox
    /// name has (such a name is only ever forwarded).
    public var name: String?
    public var type: UInt16
    public var qclass: UInt16
    /// The question section as sent (name, type, class): echoed in answers, and what an upstream's reply
    /// must carry to be taken as the answer.
    public var question: [UInt8]

    public static let headerSize = 12
    public static let typeA: UInt16 = 1, typeAny: UInt16 = 255, classIN: UInt16 = 1, classAny: UInt16 = 255

    /// A standard query (QR 0, opcode QUERY) with exactly one question; nil for anything else, which the
    /// responder drops.
    public static func parse(_ bytes: [UInt8]) -> DNSQuery? {
        guard bytes.count >= headerSize, bytes[2] & 0x80 == 0, (bytes[2] >> 3) & 0x0F == 0,
            uint16(bytes, 4) == 1, let (range, name) = question(in: bytes)
        else { return nil }
        let end = range.upperBound
        return DNSQuery(
            id: uint16(bytes, 0), recursionDesired: bytes[2] & 0x01 != 0, name: name,
            type: uint16(bytes, end - 4), qclass: uint16(bytes, end - 2), question: Array(bytes[range]))
    }

    /// Where the first question sits (its name uncompressed: a question comes first, so a pointer could
    /// only point back into the header) and its name as text; nil when it is malformed or cut short.
    static func question(in bytes: [UInt8]) -> (Range<Int>, String?)? {
        var at = headerSize
        var labels: [String] = []
        var plain = true
        while true {
            guard at < bytes.count else { return nil }
            let length = Int(bytes[at])
            if length == 0 { break }
            // 0xC0: a compression pointer; 0x40, 0x80: reserved label types.
            guard length <= 63, at + 1 + length <= bytes.count, at + 1 + length - headerSize <= 254 else { return nil }
            let label = bytes[(at + 1)..<(at + 1 + length)]
            plain = plain && label.allSatisfy(isNameByte)
            if plain { labels.append(String(decoding: label.map(lowercased), as: UTF8.self)) }
            at += 1 + length
        }
        at += 1
        guard at + 4 <= bytes.count else { return nil }
        return (headerSize..<(at + 4), plain ? labels.joined(separator: ".") : nil)
    }

    /// The id of a message, and whether it is a response (QR).
    public static func header(_ bytes: [UInt8]) -> (id: UInt16, isResponse: Bool)? {
        guard bytes.count >= headerSize else { return nil }
        return (uint16(bytes, 0), bytes[2] & 0x80 != 0)
    }

    /// `bytes` with its id replaced.
    public static func withID(_ id: UInt16, _ bytes: [UInt8]) -> [UInt8] {
        var copy = bytes
        if copy.count >= 2 {
            copy[0] = UInt8(id >> 8)
            copy[1] = UInt8(id & 0xFF)
        }
        return copy
    }

    /// Letters, digits, `-` and `_`: the bytes of a sandbox name's labels.
    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45 || b == 95
    }

    private static func lowercased(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }

    static func uint16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
}

/// Responses the responder makes itself.
public enum DNSAnswer {
    public enum Code: UInt8, Sendable {
        case noError = 0, serverFailure = 2, nameError = 3, refused = 5
    }

    /// An authoritative answer of one A record, `address` (host order), for the question asked.
    public static func address(_ query: DNSQuery, _ address: UInt32, ttl: UInt32) -> [UInt8] {
        var out = header(query, code: .noError, authoritative: true, answers: 1)
        // The name: a pointer to the question's, right after the header.
        out += [0xC0, UInt8(DNSQuery.headerSize), 0, 1, 0, 1]
        out += [UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF), 0, 4]
        out += [UInt8(address >> 24), UInt8((address >> 16) & 0xFF), UInt8((address >> 8) & 0xFF), UInt8(address & 0xFF)]
        return out
    }

    /// A response without records: `noError` is "the name exists, not with this type" (NODATA).
    public static func empty(_ query: DNSQuery, _ code: Code, authoritative: Bool) -> [UInt8] {
        header(query, code: code, authoritative: authoritative, answers: 0)
    }

    private static func header(_ query: DNSQuery, code: Code, authoritative: Bool, answers: UInt16) -> [UInt8] {
        // QR, AA as asked, RD echoed; RA: this server recurses (through its upstreams).
        let flags0: UInt8 = 0x80 | (authoritative ? 0x04 : 0) | (query.recursionDesired ? 0x01 : 0)
        return [UInt8(query.id >> 8), UInt8(query.id & 0xFF), flags0, 0x80 | code.rawValue, 0, 1, 0, UInt8(answers), 0, 0, 0, 0]
            + query.question
    }
}
