import FoundationEssentials

/// Reading one proto3 JSON object the way Go's protojson does with `DiscardUnknown` (what connect-go,
/// and so the real envd, uses):
/// - a field is found by its lowerCamelCase JSON name or by its .proto name; both at once is an error;
/// - `null` means the field is absent;
/// - unknown keys are ignored, and so are unknown enum names;
/// - integers are JSON numbers or strings holding one, integral and in range;
/// - a oneof with more than one member set is an error.
///
/// Every failure is a thrown `DecodingError`, which `ProtoMessage.init(protoJSON:)` reports as a value.
struct ProtoFields {
    let container: KeyedDecodingContainer<ProtoFieldKey>

    init(_ decoder: any Decoder) throws {
        container = try decoder.container(keyedBy: ProtoFieldKey.self)
    }

    /// The key a field is present under, or nil when it is absent or `null`.
    func key(_ jsonName: String, _ protoName: String? = nil) throws -> ProtoFieldKey? {
        let names = [jsonName] + (protoName.map { [$0] } ?? [])
        let present = try names.map(ProtoFieldKey.init).filter { try container.contains($0) && !container.decodeNil(forKey: $0) }
        if present.count > 1 {
            throw DecodingError.dataCorruptedError(
                forKey: present[1], in: container,
                debugDescription: "field \(jsonName) is set twice (as \(jsonName) and \(protoName ?? ""))")
        }
        return present.first
    }

    func string(_ jsonName: String, _ protoName: String? = nil) throws -> String? {
        try key(jsonName, protoName).map { try container.decode(String.self, forKey: $0) }
    }

    func bool(_ jsonName: String, _ protoName: String? = nil) throws -> Bool? {
        try key(jsonName, protoName).map { try container.decode(Bool.self, forKey: $0) }
    }

    func int<T: FixedWidthInteger & Decodable & Sendable>(_ type: T.Type, _ jsonName: String, _ protoName: String? = nil) throws -> T? {
        try key(jsonName, protoName).map { try container.decode(ProtoInteger<T>.self, forKey: $0).value }
    }

    func bytes(_ jsonName: String, _ protoName: String? = nil) throws -> [UInt8]? {
        try key(jsonName, protoName).map { try container.decode(ProtoBytes.self, forKey: $0).value }
    }

    /// Unknown names read as absent (`DiscardUnknown`); unknown numbers are kept (proto3 enums are open).
    func enumeration<E: ProtoEnum>(_ type: E.Type, _ jsonName: String, _ protoName: String? = nil) throws -> E? {
        try key(jsonName, protoName).flatMap { try container.decode(ProtoEnumField<E>.self, forKey: $0).value }
    }

    func message<M: Decodable>(_ type: M.Type, _ jsonName: String, _ protoName: String? = nil) throws -> M? {
        try key(jsonName, protoName).map { try container.decode(M.self, forKey: $0) }
    }

    func timestamp(_ jsonName: String, _ protoName: String? = nil) throws -> Timestamp? {
        try message(Timestamp.self, jsonName, protoName)
    }

    /// `repeated` message or string fields; `null` elements are an error, as in protojson.
    func repeated<M: Decodable>(_ type: M.Type, _ jsonName: String, _ protoName: String? = nil) throws -> [M] {
        try key(jsonName, protoName).map { try container.decode([M].self, forKey: $0) } ?? []
    }

    /// `map<string, string>`; a `null` value is an error, as in protojson.
    func stringMap(_ jsonName: String, _ protoName: String? = nil) throws -> [String: String] {
        try key(jsonName, protoName).map { try container.decode([String: String].self, forKey: $0) } ?? [:]
    }

    /// The one member of a oneof that is set, by JSON name, or nil; two or more set is an error.
    func oneof(_ members: [(jsonName: String, protoName: String?)]) throws -> (name: String, key: ProtoFieldKey)? {
        var found: [(String, ProtoFieldKey)] = []
        for m in members {
            if let k = try key(m.jsonName, m.protoName) { found.append((m.jsonName, k)) }
        }
        if found.count > 1 {
            throw DecodingError.dataCorruptedError(
                forKey: found[1].1, in: container,
                debugDescription: "oneof has more than one member set: \(found.map(\.0).joined(separator: ", "))")
        }
        return found.first.map { (name: $0.0, key: $0.1) }
    }
}

/// An integer field: a JSON number (`1`, `1.0`, `1e2`) or a string holding one (`"1"`), as protojson
/// reads them; fractions, out-of-range values and surrounding spaces are errors.
struct ProtoInteger<T: FixedWidthInteger & Decodable & Sendable>: Decodable, Sendable {
    let value: T

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(T.self) {
            value = n
            return
        }
        if let text = try? c.decode(String.self) {
            // The quoted text is itself read as a JSON number, so "1e2" and "1.0" pass and " 1" or "+1" do not.
            let first = text.utf8.first ?? 0
            let isNumberStart = first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
            let hasSpace = text.utf8.contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            if isNumberStart, !hasSpace, let n = T(text, radix: 10) ?? (try? JSONDecoder().decode(T.self, from: Data(text.utf8))) {
                value = n
                return
            }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid \(T.self) value: \"\(text)\"")
        }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an integral \(T.self) number or string")
    }
}

struct ProtoBytes: Decodable, Sendable {
    let value: [UInt8]

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let bytes = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid base64 bytes value")
        }
        value = bytes
    }
}

struct ProtoEnumField<E: ProtoEnum>: Decodable, Sendable {
    let value: E?

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let name = try? c.decode(String.self) {
            value = E.known.first { $0.name == name }.map { E(rawValue: $0.number) }
        } else if let number = try? c.decode(ProtoInteger<Int32>.self) {
            value = E(rawValue: number.value)
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an enum name or number for \(E.self)")
        }
    }
}
