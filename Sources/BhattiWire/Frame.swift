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
    /// Either way: u32 (BE) more bytes the sender of this frame will accept on the stream (flow control
    /// for `stdin`, `stdout`, `stderr` and `data`; see `Credit`).
    case credit = 0x05
    /// Either way: bytes of a file or forward stream; counted against credit.
    case data = 0x06
    /// Either way: no more `data` from this side (end of file, or a half-close).
    case end = 0x07
    /// G→H: JSON reply to a request (files, sessions list/kill, activity, forward, configure, detached exec).
    case result = 0x08
    /// H→G: JSON `ExecRequest`; opens a piped exec stream (or, with `detach`, starts one and replies `result`).
    case exec = 0x10
    /// H→G: bytes for the process's stdin; an empty payload closes stdin.
    case stdin = 0x11
    /// G→H: bytes the process wrote to stdout (or a session's terminal).
    case stdout = 0x12
    /// G→H: bytes the process wrote to stderr.
    case stderr = 0x13
    /// G→H: JSON `ExitStatus`; ends the stream.
    case exit = 0x14
    /// H→G: empty; piped exec: SIGKILL to its process group; session attachment: terminate the session (SIGTERM, SIGHUP on a terminal).
    case kill = 0x15
    /// H→G: u16 rows, u16 cols (BE): a session's terminal size.
    case resize = 0x16
    /// H→G: empty; leave the attached session running and end this stream (`result` `{"detached":true}`).
    case detach = 0x18
    /// H→G: JSON `SessionRequest`: open a session or attach to one. Replies `sessionInfo`, then the
    /// scrollback and live output as `stdout`, until `exit` or `detach`.
    case session = 0x20
    /// G→H: JSON `SessionInfo`, first on a session stream.
    case sessionInfo = 0x21
    /// H→G: empty; `result` is `[SessionInfo]`.
    case sessionList = 0x22
    /// H→G: JSON `SessionKillRequest`; SIGTERM to the session's process group; `result` `{}`.
    case sessionKill = 0x23
    /// H→G: JSON `FileReadRequest`; `result` `FileReadInfo`, then `data` chunks, then `end`.
    case fileRead = 0x30
    /// H→G: JSON `FileWriteRequest`, then `data` chunks and `end`; `result` `FileInfo` once renamed into place.
    case fileWrite = 0x31
    /// H→G: JSON `PathRequest`; `result` `FileInfo`.
    case fileStat = 0x32
    /// H→G: JSON `PathRequest`; `result` `FileListing`.
    case fileList = 0x33
    /// H→G: JSON `PathRequest`; mkdir -p; `result` `MakeDirectoryReply`. Only to agents listing `file_ops`.
    case fileMakeDirectory = 0x34
    /// H→G: JSON `MoveRequest`; rename(2); `result` `{}`. Only to agents listing `file_ops`.
    case fileMove = 0x35
    /// H→G: JSON `PathRequest`; rm -r; `result` `{}`. Only to agents listing `file_ops`.
    case fileRemove = 0x36
    /// H→G: JSON `WatchRequest`; `result` `{}` once watching, then `data` frames of JSON `[WatchEvent]`
    /// until `end` (the directory is gone), `error`, or the host's `kill`. Only to agents listing `watch`.
    case watch = 0x37
    /// H→G: JSON `ForwardRequest`; `result` `{}` once connected, then `data`/`end` both ways.
    case forward = 0x40
    /// H→G: empty; `result` `Activity`.
    case activity = 0x50
    /// H→G: JSON `GuestConfig`, applied once after boot; `result` `{}`.
    case configure = 0x60
    /// H→G, stream 0: `GuestClock` (i64 BE, the host's wall clock in ns since the epoch); the agent sets
    /// its own from it, no reply. Sent only to agents whose hello reply lists the `clock` capability.
    case clock = 0x61
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
        guard available >= Frame.headerSize else {
            compact()
            return nil
        }
        let b = start
        let length = Int(buffer[b]) << 24 | Int(buffer[b + 1]) << 16 | Int(buffer[b + 2]) << 8 | Int(buffer[b + 3])
        guard length <= Frame.maxPayload else { throw .frameTooLarge(length) }
        let stream = UInt32(buffer[b + 4]) << 24 | UInt32(buffer[b + 5]) << 16 | UInt32(buffer[b + 6]) << 8 | UInt32(buffer[b + 7])
        guard let type = FrameType(rawValue: buffer[b + 8]) else { throw .unknownFrameType(buffer[b + 8]) }
        guard available >= Frame.headerSize + length else {
            compact()
            return nil
        }
        let payloadStart = b + Frame.headerSize
        let payload = Array(buffer[payloadStart..<payloadStart + length])
        start = payloadStart + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return Frame(stream: stream, type: type, payload: payload)
    }

    private mutating func compact() {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
