/// The host↔guest frame: one connection per VM carries many streams.
///
/// Layout (big-endian), 9 bytes of header then the payload:
///
///     u32 payload length | u32 stream id | u8 type | payload…
///
/// Stream 0 belongs to the connection (hello, ping). The host opens every other stream by sending its
/// first frame with a new id; the stream ends with `exit` or `error` from the guest.
public struct Frame: Equatable, Sendable {
    public var stream: UInt32
    public var type: FrameType
    public var payload: [UInt8]

    public init(stream: UInt32, type: FrameType, payload: [UInt8] = []) {
        self.stream = stream
        self.type = type
        self.payload = payload
    }

    public static let headerSize = 9
    /// Hard limit on one frame's payload; larger data is split into several frames.
    public static let maxPayload = 1 << 20

    /// The wire bytes of this frame.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Frame.headerSize + payload.count)
        Frame.appendHeader(to: &out, length: payload.count, stream: stream, type: type)
        out.append(contentsOf: payload)
        return out
    }

    static func appendHeader(to out: inout [UInt8], length: Int, stream: UInt32, type: FrameType) {
        let n = UInt32(length)
        out.append(contentsOf: [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)])
        out.append(contentsOf: [UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)])
        out.append(type.rawValue)
    }
}

/// What a frame carries. Unknown values are a protocol error, never skipped silently.
public enum FrameType: UInt8, Sendable, CaseIterable {
    /// H→G, stream 0: JSON `Hello`. The agent refuses everything before it.
    case hello = 0x01
    /// G→H, stream 0: JSON `HelloReply`.
    case helloReply = 0x02
    /// H→G: opaque bytes, echoed back as `pong` on the same stream (round-trip probe).
    case ping = 0x03
    /// G→H: the echo of a `ping`.
    case pong = 0x04
    /// H→G: JSON `ExecRequest`; opens a piped exec stream.
    case exec = 0x10
    /// H→G: bytes for the process's stdin; an empty payload closes stdin.
    case stdin = 0x11
    /// G→H: bytes the process wrote to stdout.
    case stdout = 0x12
    /// G→H: bytes the process wrote to stderr.
    case stderr = 0x13
    /// G→H: JSON `ExitStatus`; ends the stream.
    case exit = 0x14
    /// H→G: empty; kills the stream's process group (SIGKILL).
    case kill = 0x15
    /// Either way: JSON `WireErrorMessage`; ends the stream.
    case error = 0x1f
}

/// Protocol violations found while decoding.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case frameTooLarge(Int)
    case unknownFrameType(UInt8)
    case malformedPayload(FrameType, String)
    case versionMismatch(host: Int, guest: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let n): "frame payload of \(n) bytes exceeds the \(Frame.maxPayload)-byte limit"
        case .unknownFrameType(let t): "unknown frame type 0x\(String(t, radix: 16))"
        case .malformedPayload(let t, let why): "malformed \(t) payload: \(why)"
        case .versionMismatch(let h, let g): "protocol version mismatch: host \(h), guest \(g)"
        }
    }
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned as frames.
    public var pendingByteCount: Int { buffer.count - start }

    /// The next complete frame, or nil when more bytes are needed.
    /// - Throws: `WireError` on an oversized frame or an unknown type; the connection must be dropped.
    public mutating func next() throws(WireError) -> Frame? {
        let available = buffer.count - start
        guard available >= Frame.headerSize else { compact(); return nil }
        let b = start
        let length = Int(buffer[b]) << 24 | Int(buffer[b + 1]) << 16 | Int(buffer[b + 2]) << 8 | Int(buffer[b + 3])
        guard length <= Frame.maxPayload else { throw .frameTooLarge(length) }
        let stream = UInt32(buffer[b + 4]) << 24 | UInt32(buffer[b + 5]) << 16 | UInt32(buffer[b + 6]) << 8 | UInt32(buffer[b + 7])
        guard let type = FrameType(rawValue: buffer[b + 8]) else { throw .unknownFrameType(buffer[b + 8]) }
        guard available >= Frame.headerSize + length else { compact(); return nil }
        let payloadStart = b + Frame.headerSize
        let payload = Array(buffer[payloadStart..<payloadStart + length])
        start = payloadStart + length
        if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        return Frame(stream: stream, type: type, payload: payload)
    }

    private mutating func compact() {
        if start > 0 { buffer.removeFirst(start); start = 0 }
    }
}
