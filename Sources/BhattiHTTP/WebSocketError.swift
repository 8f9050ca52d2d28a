public import BhattiSystem

/// Why a WebSocket failed or ended abnormally; the cases a peer causes map to the close code sent back.
public enum WebSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer broke RFC 6455 (reserved bits, unknown opcode, masking, lengths, fragmentation): close 1002.
    case protocolViolation(String)
    /// A text message or close reason that is not UTF-8: close 1007.
    case invalidUTF8
    /// A message larger than the limit: close 1009.
    case messageTooBig(limit: Int)
    /// Nothing arrived for three keepalive intervals: close 1011 and drop the connection.
    case timedOut
    /// The peer closed with a code other than 1000 or 1001 (its code and reason).
    case closed(WebSocketClose)
    /// The connection ended without a close handshake (reset, end of file, server shutdown): 1006.
    case abnormalClosure
    /// A send after the close handshake started.
    case notOpen
    /// Reading or writing the socket failed.
    case io(Errno)
    /// Connecting, or reading the server's handshake answer, failed.
    case http(HTTPClientError)
    /// The server answered the upgrade request with another status (the body is its error envelope).
    case rejected(status: Int, headers: HTTPHeaders, body: [UInt8])
    /// The server's 101 answer does not complete the handshake (wrong `Sec-WebSocket-Accept`, ...).
    case handshake(String)

    /// The close code to send for an error found in the peer's bytes (1011 for the rest).
    public var closeCode: UInt16 {
        switch self {
        case .protocolViolation: WebSocketCloseCode.protocolError
        case .invalidUTF8: WebSocketCloseCode.invalidData
        case .messageTooBig: WebSocketCloseCode.messageTooBig
        case .closed(let close): close.code
        case .abnormalClosure: 1006
        default: WebSocketCloseCode.internalError
        }
    }

    public var description: String {
        switch self {
        case .protocolViolation(let what): "protocol error: \(what)"
        case .invalidUTF8: "text is not valid UTF-8"
        case .messageTooBig(let limit): "message larger than \(limit) bytes"
        case .timedOut: "keepalive timeout"
        case .closed(let close): "closed by the peer: \(close)"
        case .abnormalClosure: "connection closed without a close handshake"
        case .notOpen: "the connection is closing"
        case .io(let errno): "connection failed: \(errno)"
        case .http(let error): error.description
        case .rejected(let status, _, let body): "upgrade refused with \(status): \(String(decoding: body, as: UTF8.self))"
        case .handshake(let what): "invalid handshake answer: \(what)"
        }
    }
}

/// Settings for one WebSocket connection.
public struct WebSocketOptions: Sendable {
    /// The largest message accepted (all fragments together); a larger one is refused with close 1009.
    public var maxMessageBytes: Int
    /// How long the connection may be quiet before a ping is sent; three intervals without a byte from
    /// the peer close it. nil: no keepalive.
    public var pingInterval: Duration?
    /// How long to wait for the peer's side of the close handshake before dropping the connection.
    public var closeTimeout: Duration
    /// Bytes of received messages that may wait for the consumer before the socket is no longer read
    /// (the peer's sends then block); one message may cross it.
    public var maxQueuedBytes: Int

    /// Options with the defaults: 16 MiB messages, a ping every 30 s of quiet, 5 s to finish closing,
    /// 1 MiB of received messages waiting at most.
    public init(
        maxMessageBytes: Int = 16 << 20, pingInterval: Duration? = .seconds(30), closeTimeout: Duration = .seconds(5),
        maxQueuedBytes: Int = 1 << 20
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.pingInterval = pingInterval
        self.closeTimeout = closeTimeout
        self.maxQueuedBytes = maxQueuedBytes
    }
}
