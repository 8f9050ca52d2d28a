/// A proto3 message with its canonical JSON mapping.
///
/// Decoding goes through `Decodable` (see `ProtoFields` for the rules); encoding builds an
/// `OrderedJSON` in field-number order, which `protoJSON()` serializes and `Encodable` hands to any
/// other encoder.
public protocol ProtoMessage: Codable, Equatable, Sendable {
    /// Every field at its default: what an empty enveloped message decodes to.
    init()
    var orderedJSON: OrderedJSON { get }
}

extension ProtoMessage {
    public func encode(to encoder: any Encoder) throws {
        try orderedJSON.encode(to: encoder)
    }

    /// The message as compact JSON, byte for byte what the proto3 JSON writers emit.
    public func protoJSON() -> [UInt8] {
        orderedJSON.serialized()
    }

    /// Reads a unary request body or a non-empty enveloped message. An empty body is an error, as in
    /// connect-go: it is not a JSON object.
    public init(protoJSON bytes: some Collection<UInt8>) throws(WireDecodingError) {
        guard !bytes.isEmpty else { throw WireDecodingError("zero-length payload is not a valid JSON object") }
        self = try WireDecodingError.decode(Self.self, from: bytes)
    }

    /// Reads the payload of a streaming envelope: zero bytes there is the default message (connect-go
    /// skips the codec for it).
    public init(envelopePayload bytes: some Collection<UInt8>) throws(WireDecodingError) {
        if bytes.isEmpty {
            self.init()
        } else {
            try self.init(protoJSON: bytes)
        }
    }
}

extension ConnectEnvelope {
    /// A data message carrying a message's JSON.
    public init(message: some ProtoMessage) {
        self.init(payload: message.protoJSON())
    }
}

/// A proto3 enum. Proto3 enums are open: a number with no name is a valid value and survives a round
/// trip as a number.
public protocol ProtoEnum: RawRepresentable, Hashable, Sendable, Codable where RawValue == Int32 {
    init(rawValue: Int32)
    /// The values the .proto names, with their names.
    static var known: [(number: Int32, name: String)] { get }
}

extension ProtoEnum {
    /// The name when the value has one, else the number.
    public var name: String? { Self.known.first { $0.number == rawValue }?.name }

    var json: OrderedJSON { name.map(OrderedJSON.string) ?? .int(Int64(rawValue)) }

    public init(from decoder: any Decoder) throws {
        self = try ProtoEnumField<Self>(from: decoder).value ?? Self(rawValue: 0)
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }
}
