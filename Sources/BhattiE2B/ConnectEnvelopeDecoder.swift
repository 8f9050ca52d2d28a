/// Splits a Connect stream body into envelopes, fed chunks of any size as they arrive.
///
/// Memory stays bounded by the message limit: a length over the limit is refused as soon as its
/// 5-byte header is complete, before any of its payload is kept. After an error the decoder stays
/// failed and throws that error again.
public struct ConnectEnvelopeDecoder: Sendable {
    /// Whose stream this is: request streams never carry an end message; response streams end with one.
    public enum Direction: Sendable {
        case requests
        case responses
    }

    public let direction: Direction
    public let maxMessageBytes: Int

    private var header: [UInt8] = []
    private var pending: (flags: ConnectEnvelope.Flags, length: Int)?
    private var payload: [UInt8] = []
    private var ended = false
    private var failure: ConnectFramingError?

    public init(direction: Direction, maxMessageBytes: Int) {
        self.direction = direction
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes held for an envelope not yet complete.
    public var bufferedByteCount: Int { header.count + payload.count + (pending == nil ? 0 : ConnectEnvelope.headerSize) }

    /// Whether a response stream's end message has been read.
    public var sawEndStream: Bool { ended }

    /// Consumes `chunk`, returning the envelopes it completes.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws(ConnectFramingError) -> [ConnectEnvelope] {
        if let failure { throw failure }
        do {
            return try consume(chunk)
        } catch {
            failure = error
            throw error
        }
    }

    /// Call at end of body: a partial envelope left over is a truncated stream, and a response stream
    /// must have ended with its end message.
    public mutating func finish() throws(ConnectFramingError) {
        if let failure { throw failure }
        let error: ConnectFramingError? =
            if bufferedByteCount > 0 {
                .truncated(bufferedBytes: bufferedByteCount)
            } else if direction == .responses && !ended {
                .missingEndStream
            } else {
                nil
            }
        if let error {
            failure = error
            throw error
        }
    }

    private mutating func consume(_ chunk: some Collection<UInt8>) throws(ConnectFramingError) -> [ConnectEnvelope] {
        var out: [ConnectEnvelope] = []
        var i = chunk.startIndex
        while i != chunk.endIndex {
            if ended { throw .dataAfterEndStream }
            if let p = pending {
                let end = chunk.index(i, offsetBy: min(p.length - payload.count, chunk.distance(from: i, to: chunk.endIndex)))
                payload += chunk[i..<end]
                i = end
            } else {
                header.append(chunk[i])
                i = chunk.index(after: i)
                if header.count == ConnectEnvelope.headerSize { try startEnvelope() }
            }
            if let p = pending, payload.count == p.length { out.append(completeEnvelope()) }
        }
        return out
    }

    private mutating func startEnvelope() throws(ConnectFramingError) {
        let flags = ConnectEnvelope.Flags(rawValue: header[0])
        let length = Int(header[1]) << 24 | Int(header[2]) << 16 | Int(header[3]) << 8 | Int(header[4])
        header.removeAll(keepingCapacity: true)
        if length > maxMessageBytes { throw .messageTooLarge(length: length, limit: maxMessageBytes) }
        if flags.contains(.compressed) { throw .compressed }
        let allowed: ConnectEnvelope.Flags = direction == .responses ? [.endStream] : []
        if !flags.subtracting(allowed).isEmpty { throw .invalidFlags(flags.rawValue) }
        pending = (flags, length)
        payload.reserveCapacity(length)
    }

    private mutating func completeEnvelope() -> ConnectEnvelope {
        let env = ConnectEnvelope(flags: pending?.flags ?? [], payload: payload)
        if env.flags.contains(.endStream) { ended = true }
        pending = nil
        payload = []
        return env
    }
}

/// A stream body that is not valid Connect framing, with the Connect error a server answers.
public enum ConnectFramingError: Error, Equatable, Sendable {
    /// The header announced more than the limit; nothing of the payload was kept.
    case messageTooLarge(length: Int, limit: Int)
    /// Flag 0x01 set: we negotiate no compression, so a compressed envelope is a protocol error.
    case compressed
    /// Reserved flag bits, or an end-stream flag in a request stream.
    case invalidFlags(UInt8)
    /// The body ended inside an envelope.
    case truncated(bufferedBytes: Int)
    /// A response stream ended without its end message.
    case missingEndStream
    /// Bytes followed a response stream's end message.
    case dataAfterEndStream

    /// Codes as connect-go answers them: oversize is resource_exhausted, a short body is
    /// invalid_argument, flag and end-of-stream violations are internal.
    public var connectError: ConnectError {
        switch self {
        case .messageTooLarge(let length, let limit):
            ConnectError(.resourceExhausted, "message size \(length) is larger than configured max \(limit)")
        case .compressed: ConnectError(.internal, "protocol error: sent compressed message without compression support")
        case .invalidFlags(let flags): ConnectError(.internal, "protocol error: invalid envelope flags \(flags)")
        case .truncated(let n): ConnectError(.invalidArgument, "protocol error: incomplete envelope: stream ended with \(n) bytes pending")
        case .missingEndStream: ConnectError(.internal, "protocol error: missing end-of-stream message")
        case .dataAfterEndStream: ConnectError(.internal, "corrupt response: extra bytes after end of stream")
        }
    }
}
