import BhattiSystem

/// A small JSON reader and writer for the messages on the path of every exec and every reconnect
/// (hello, its reply, the exec request, the exit status).
///
/// Why not Foundation's coders: under software emulation the guest's CPU translates each piece of
/// code the first time it runs after a restore, and the agent's first JSONDecoder and JSONEncoder
/// calls then took 10–20 ms each (measured in lohar), on the path of a cold sandbox's first request.
/// This is a few hundred instructions of straight-line code instead. It accepts exactly JSON
/// (RFC 8259): the same payloads Foundation reads, with unknown keys ignored as Codable does.
public enum FastJSON {
    public indirect enum Value: Equatable, Sendable {
        case null
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case string(String)
        case array([Value])
        case object([String: Value])
    }

    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public let offset: Int
        /// The key, when the object was well formed but named it twice.
        public let duplicateKey: String?
        public var description: String { "\(reason) at byte \(offset)" }
        public init(reason: String, offset: Int, duplicateKey: String? = nil) {
            self.reason = reason
            self.offset = offset
            self.duplicateKey = duplicateKey
        }
    }

    /// Parses one JSON value filling all of `bytes` (whitespace around it allowed).
    public static func parse(_ bytes: [UInt8]) throws(Malformed) -> Value {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw reader.fail("trailing data") }
        return value
    }
}

extension FastJSON {
    /// Nesting beyond this is refused (our messages nest two deep; this bounds the recursion).
    static let maxDepth = 32

    struct Reader {
        let bytes: [UInt8]
        var at = 0

        func fail(_ reason: String) -> Malformed { Malformed(reason: reason, offset: at) }

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        mutating func value(depth: Int) throws(Malformed) -> Value {
            guard depth < FastJSON.maxDepth else { throw fail("nested too deeply") }
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default: return try number()
            }
        }

        private mutating func literal(_ word: StaticString) throws(Malformed) {
            let count = word.utf8CodeUnitCount
            guard at + count <= bytes.count else { throw fail("unexpected end") }
            for i in 0..<count where bytes[at + i] != word.utf8Start[i] { throw fail("invalid literal") }
            at += count
        }

        private mutating func object(depth: Int) throws(Malformed) -> Value {
            at += 1
            var members: [String: Value] = [:]
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                at += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let keyOffset = at
                let key = try string()
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                at += 1
                // A repeated key is refused: readers disagree on which copy wins (JSONDecoder the
                // first, a dictionary the last), and a body must mean one thing to every reader.
                guard members.updateValue(try value(depth: depth + 1), forKey: key) == nil else {
                    let shown = key.count <= 64 ? key : String(key.prefix(64)) + "…"
                    throw Malformed(reason: "duplicate key \"\(shown)\"", offset: keyOffset, duplicateKey: key)
                }
                skipSpace()
                guard at < bytes.count else { throw fail("unexpected end") }
                if bytes[at] == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                guard bytes[at] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                at += 1
                return .object(members)
            }
        }

        private mutating func array(depth: Int) throws(Malformed) -> Value {
            at += 1
            var items: [Value] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                at += 1
                return .array(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw fail("unexpected end") }
                if bytes[at] == UInt8(ascii: ",") {
                    at += 1
                    continue
                }
                guard bytes[at] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                at += 1
                return .array(items)
            }
        }

        /// A string starting at the opening quote; escapes decoded, UTF-8 validated.
        mutating func string() throws(Malformed) -> String {
            at += 1
            var out: [UInt8] = []
            while true {
                guard at < bytes.count else { throw fail("unterminated string") }
                let b = bytes[at]
                at += 1
                switch b {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
                    return s
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { throw fail("unterminated escape") }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): appendUTF8(try escapedScalar(), to: &out)
                    default: throw fail("invalid escape")
                    }
                case 0..<0x20: throw fail("control character in string")
                default: out.append(b)
                }
            }
        }

        /// The scalar of a `\uXXXX` (after the `u`), joining a surrogate pair.
        private mutating func escapedScalar() throws(Malformed) -> UInt32 {
            let first = try hex4()
            if first >= 0xD800, first < 0xDC00 {
                guard at + 2 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                    throw fail("lone surrogate")
                }
                at += 2
                let second = try hex4()
                guard second >= 0xDC00, second < 0xE000 else { throw fail("lone surrogate") }
                return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            guard first < 0xDC00 || first >= 0xE000 else { throw fail("lone surrogate") }
            return first
        }

        private mutating func hex4() throws(Malformed) -> UInt32 {
            guard at + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                let d: UInt32 =
                    switch c {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0"))
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
                    default: throw fail("bad hex digit")
                    }
                v = v << 4 | d
                at += 1
            }
            return v
        }

        private func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
            switch v {
            case 0..<0x80: out.append(UInt8(v))
            case 0x80..<0x800:
                out.append(UInt8(0xC0 | v >> 6))
                out.append(UInt8(0x80 | v & 0x3F))
            case 0x800..<0x10000:
                out.append(UInt8(0xE0 | v >> 12))
                out.append(UInt8(0x80 | v >> 6 & 0x3F))
                out.append(UInt8(0x80 | v & 0x3F))
            default:
                out.append(UInt8(0xF0 | v >> 18))
                out.append(UInt8(0x80 | v >> 12 & 0x3F))
                out.append(UInt8(0x80 | v >> 6 & 0x3F))
                out.append(UInt8(0x80 | v & 0x3F))
            }
        }

        /// An RFC 8259 number: integers without fraction or exponent stay exact.
        private mutating func number() throws(Malformed) -> Value {
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count, isDigit(bytes[at]) else { throw fail("unexpected character") }
            if bytes[at] == UInt8(ascii: "0") { at += 1 } else { while at < bytes.count, isDigit(bytes[at]) { at += 1 } }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                integral = false
                at += 1
                guard at < bytes.count, isDigit(bytes[at]) else { throw fail("digit expected after '.'") }
                while at < bytes.count, isDigit(bytes[at]) { at += 1 }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                integral = false
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard at < bytes.count, isDigit(bytes[at]) else { throw fail("digit expected in exponent") }
                while at < bytes.count, isDigit(bytes[at]) { at += 1 }
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            if integral, let i = Int64(text) { return .int(i) }
            guard let d = Double(text) else { throw fail("number out of range") }
            return .double(d)
        }

        private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    }
}

extension FastJSON {
    /// Builds a JSON object by hand, keys in the order written.
    public struct ObjectWriter {
        public private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
        public init() {}

        private mutating func key(_ name: String) {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            JSONString.append(name, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
        }

        public mutating func add(_ name: String, _ value: String) {
            key(name)
            JSONString.append(value, to: &bytes)
        }
        public mutating func add(_ name: String, _ value: Int) {
            key(name)
            bytes += Array(String(value).utf8)
        }
        /// Shortest text that reads back as the same Double (what JSONEncoder writes too); finite only.
        public mutating func add(_ name: String, _ value: Double) {
            key(name)
            bytes += Array((value.isFinite ? value : 0).description.utf8)
        }
        public mutating func add(_ name: String, _ value: Bool) {
            key(name)
            bytes += Array((value ? "true" : "false").utf8)
        }
        public mutating func add(_ name: String, _ values: [String]) {
            key(name)
            bytes.append(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONString.append(v, to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        }
        /// Keys sorted, so equal dictionaries give equal bytes.
        public mutating func add(_ name: String, _ values: [String: String]) {
            key(name)
            bytes.append(UInt8(ascii: "{"))
            for (i, k) in values.keys.sorted().enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONString.append(k, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                JSONString.append(values[k] ?? "", to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }

        public func finished() -> [UInt8] { bytes + [UInt8(ascii: "}")] }
    }
}

/// Typed access to a parsed object, with Codable's rules: a missing or null optional is nil, a
/// missing required key or a wrong type is an error, unknown keys are ignored.
public struct FastJSONObject {
    let members: [String: FastJSON.Value]

    public init(_ bytes: [UInt8]) throws(FastJSON.Malformed) {
        guard case .object(let m) = try FastJSON.parse(bytes) else { throw FastJSON.Malformed(reason: "expected an object", offset: 0) }
        members = m
    }

    /// The object's keys, for refusing the unknown ones.
    public var keys: Dictionary<String, FastJSON.Value>.Keys { members.keys }

    private func missing(_ key: String) -> FastJSON.Malformed { FastJSON.Malformed(reason: "missing key \"\(key)\"", offset: 0) }

    /// A required key: its optional reading, present.
    private func required<T>(_ key: String, _ value: T?) throws(FastJSON.Malformed) -> T {
        guard let value else { throw missing(key) }
        return value
    }
    private func mistyped(_ key: String, _ type: String) -> FastJSON.Malformed {
        FastJSON.Malformed(reason: "\"\(key)\" is not \(type)", offset: 0)
    }

    public func string(_ key: String) throws(FastJSON.Malformed) -> String { try required(key, optionalString(key)) }

    public func optionalString(_ key: String) throws(FastJSON.Malformed) -> String? {
        switch members[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw mistyped(key, "a string")
        }
    }

    public func int(_ key: String) throws(FastJSON.Malformed) -> Int { try required(key, optionalInt(key)) }

    public func optionalInt(_ key: String) throws(FastJSON.Malformed) -> Int? {
        switch members[key] {
        case nil, .null?: return nil
        case .int(let i)?: return Int(i)
        // Codable accepts 3.0 for an Int: a double with no fraction.
        case .double(let d)? where d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: throw mistyped(key, "an integer")
        }
    }

    public func optionalDouble(_ key: String) throws(FastJSON.Malformed) -> Double? {
        switch members[key] {
        case nil, .null?: return nil
        case .int(let i)?: return Double(i)
        case .double(let d)?: return d
        default: throw mistyped(key, "a number")
        }
    }

    public func bool(_ key: String) throws(FastJSON.Malformed) -> Bool { try required(key, optionalBool(key)) }

    public func optionalBool(_ key: String) throws(FastJSON.Malformed) -> Bool? {
        switch members[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw mistyped(key, "a boolean")
        }
    }

    public func strings(_ key: String) throws(FastJSON.Malformed) -> [String] {
        guard case .array(let items)? = members[key] else { throw members[key] == nil ? missing(key) : mistyped(key, "an array") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else { throw mistyped(key, "an array of strings") }
            out.append(s)
        }
        return out
    }

    public func optionalStringMap(_ key: String) throws(FastJSON.Malformed) -> [String: String]? {
        switch members[key] {
        case nil, .null?: return nil
        default: return try stringMap(key)
        }
    }

    public func stringMap(_ key: String) throws(FastJSON.Malformed) -> [String: String] {
        guard case .object(let m)? = members[key] else { throw members[key] == nil ? missing(key) : mistyped(key, "an object") }
        var out: [String: String] = [:]
        for (k, v) in m {
            guard case .string(let s) = v else { throw mistyped(key, "an object of strings") }
            out[k] = s
        }
        return out
    }
}
