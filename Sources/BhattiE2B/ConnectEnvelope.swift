/// One Connect streaming message: 1 flag byte, a 4-byte big-endian length, then the payload.
///
/// Only streaming calls are enveloped (`application/connect+json`); unary bodies are bare JSON.
public struct ConnectEnvelope: Equatable, Sendable {
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The payload is compressed with the stream's `connect-content-encoding`. We support none.
        public static let compressed = Flags(rawValue: 0x01)
        /// The payload is the stream's `ConnectEndStream`; set on the last response envelope only.
        public static let endStream = Flags(rawValue: 0x02)
    }

    public static let headerSize = 5

    public var flags: Flags
    public var payload: [UInt8]

    public init(flags: Flags = [], payload: [UInt8]) {
        self.flags = flags
        self.payload = payload
    }

    /// Header and payload. The payload must fit in 4 GiB, which callers bound far below.
    public func encoded() -> [UInt8] {
        precondition(payload.count <= Int(UInt32.max), "Connect envelope payload over 4 GiB")
        let n = UInt32(payload.count)
        var out: [UInt8] = [flags.rawValue, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
        out += payload
        return out
    }
}
