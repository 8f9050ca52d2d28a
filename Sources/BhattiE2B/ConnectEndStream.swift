/// The last message of every Connect response stream (envelope flag 0x02): `{}` when the call
/// succeeded, `{"error":{"code":…,"message":…}}` when it failed, either with optional trailing
/// `"metadata":{"key":["value",…]}`.
///
/// Streams always answer HTTP 200; this message is the only way a stream reports its error. The SDK's
/// connectrpc client raises the error as a ConnectError when it reads it, and it also ends cleanly
/// when the body just stops, so a server that dies mid-stream looks like success to it unless the
/// last event says otherwise (the SDK then reports "Command ended without an end event").
public struct ConnectEndStream: Equatable, Sendable, Decodable {
    public var error: ConnectError?
    /// Trailers. Written with keys sorted; values keep their order.
    public var metadata: [String: [String]]

    public init(error: ConnectError? = nil, metadata: [String: [String]] = [:]) {
        self.error = error
        self.metadata = metadata
    }

    var orderedJSON: OrderedJSON {
        var members: [OrderedJSON.Member] = []
        if let error { members.append(.init("error", error.orderedJSON)) }
        if !metadata.isEmpty {
            let entries = metadata.sorted { $0.key < $1.key }.map { OrderedJSON.Member($0.key, .array($0.value.map(OrderedJSON.string))) }
            members.append(.init("metadata", .object(entries)))
        }
        return .object(members)
    }

    public func jsonBytes() -> [UInt8] { orderedJSON.serialized() }

    /// The end message framed with the end-stream flag, ready to write as the stream's last bytes.
    public func envelope() -> ConnectEnvelope { ConnectEnvelope(flags: .endStream, payload: jsonBytes()) }

    enum CodingKeys: String, CodingKey { case error, metadata }

    /// `{"error":null}` is rejected (the spec calls it invalid): a present error must be a real one.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        error = c.contains(.error) ? try c.decode(ConnectError.self, forKey: .error) : nil
        metadata = try c.decodeIfPresent([String: [String]].self, forKey: .metadata) ?? [:]
    }

    public init(json bytes: some Collection<UInt8>) throws(WireDecodingError) {
        self = try WireDecodingError.decode(Self.self, from: bytes)
    }
}
