/// Writing one proto3 JSON object: fields in field-number order (the caller's order), lowerCamelCase
/// names, and the proto3 presence rule: a field without presence is omitted when it holds its default
/// (0, "", false, empty list or map, enum 0); an `optional` field, a message field or a oneof member
/// is written whenever it is set, even to a default.
struct ProtoObjectWriter {
    private(set) var members: [OrderedJSON.Member] = []

    var json: OrderedJSON { .object(members) }

    mutating func string(_ name: String, _ value: String) {
        if !value.isEmpty { members.append(.init(name, .string(value))) }
    }

    mutating func string(_ name: String, present value: String?) {
        if let value { members.append(.init(name, .string(value))) }
    }

    mutating func bool(_ name: String, _ value: Bool) {
        if value { members.append(.init(name, .bool(true))) }
    }

    mutating func bool(_ name: String, present value: Bool?) {
        if let value { members.append(.init(name, .bool(value))) }
    }

    /// 32-bit integers are JSON numbers.
    mutating func int32<T: FixedWidthInteger>(_ name: String, _ value: T) {
        if value != 0 { members.append(.init(name, .int(Int64(value)))) }
    }

    /// 64-bit integers are JSON strings, so JavaScript readers keep every digit.
    mutating func int64<T: FixedWidthInteger>(_ name: String, _ value: T) {
        if value != 0 { members.append(.init(name, .string(String(value)))) }
    }

    mutating func bytes(_ name: String, _ value: [UInt8]) {
        if !value.isEmpty { members.append(.init(name, .string(Base64.encode(value)))) }
    }

    /// A oneof member: written even when empty, since being set is the information.
    mutating func bytes(_ name: String, present value: [UInt8]) {
        members.append(.init(name, .string(Base64.encode(value))))
    }

    mutating func enumeration<E: ProtoEnum>(_ name: String, _ value: E) {
        if value.rawValue != 0 { members.append(.init(name, value.json)) }
    }

    mutating func message(_ name: String, _ value: (some ProtoMessage)?) {
        if let value { members.append(.init(name, value.orderedJSON)) }
    }

    mutating func timestamp(_ name: String, _ value: Timestamp?) {
        if let value { members.append(.init(name, .string(value.rfc3339))) }
    }

    mutating func repeated(_ name: String, _ values: [some ProtoMessage]) {
        if !values.isEmpty { members.append(.init(name, .array(values.map(\.orderedJSON)))) }
    }

    mutating func repeated(_ name: String, _ values: [String]) {
        if !values.isEmpty { members.append(.init(name, .array(values.map(OrderedJSON.string)))) }
    }

    /// Map entries sorted by key, as Go's protojson writes them, so output doesn't depend on hashing.
    mutating func stringMap(_ name: String, _ values: [String: String]) {
        guard !values.isEmpty else { return }
        let entries = values.sorted { $0.key < $1.key }.map { OrderedJSON.Member($0.key, .string($0.value)) }
        members.append(.init(name, .object(entries)))
    }
}
