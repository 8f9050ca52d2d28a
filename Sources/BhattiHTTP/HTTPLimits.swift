/// Bounds on what a server accepts from a client; a request over a limit is answered 431 or 413 and the
/// connection is closed.
public struct HTTPLimits: Sendable {
    /// The most bytes in the request line plus header fields (and in chunked-body trailers).
    public var maxHeaderBytes: Int
    /// The most header fields in one request.
    public var maxHeaderCount: Int
    /// The most body bytes for a route without its own limit.
    public var maxBodyBytes: Int
    /// A route's own body limit (uploads), asked once per request after the head is read; nil keeps `maxBodyBytes`.
    public var routeBodyLimit: (@Sendable (_ method: String, _ path: String) -> Int?)?
    /// Routes whose handler starts once the head is read and pulls the body from `request.bodyStream`
    /// (uploads), asked after the head is read. Only Content-Length bodies stream unless
    /// `streamsChunkedBody` also names the route: a chunked body is refused there with 400, since
    /// the handler could not know its size up front.
    public var streamsBody: (@Sendable (_ method: String, _ path: String) -> Bool)?
    /// Streamed routes whose handler copes with a body of unknown size (it spools it): a chunked body
    /// streams there too, de-chunked, with `RequestBodyStream.length` nil. Asked only of streamed routes.
    public var streamsChunkedBody: (@Sendable (_ method: String, _ path: String) -> Bool)?
    /// How many bytes of a streamed body may wait for the handler before the socket stops being read.
    public var maxQueuedBodyBytes: Int
    /// How long a connection may sit without sending a byte before it is closed; 0 waits forever.
    public var idleTimeoutMilliseconds: Int
    /// How long a request head (line and header fields) may take from its first byte to its last,
    /// however slowly the bytes trickle in (slowloris); the connection is closed after it. 0: no limit.
    public var headerTimeoutMilliseconds: Int
    /// How long writing a response may go without the client taking a byte before the connection is
    /// closed (a client that stops reading); 0: no limit.
    public var writeTimeoutMilliseconds: Int

    /// Limits with the defaults: 64 KiB of head, 100 fields, 1 MiB of body, two minutes idle, ten
    /// seconds for a head, a minute without write progress.
    public init(
        maxHeaderBytes: Int = 64 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 1 << 20,
        idleTimeoutMilliseconds: Int = 120_000,
        headerTimeoutMilliseconds: Int = 10_000,
        writeTimeoutMilliseconds: Int = 60_000,
        routeBodyLimit: (@Sendable (_ method: String, _ path: String) -> Int?)? = nil,
        streamsBody: (@Sendable (_ method: String, _ path: String) -> Bool)? = nil,
        streamsChunkedBody: (@Sendable (_ method: String, _ path: String) -> Bool)? = nil,
        maxQueuedBodyBytes: Int = 1 << 20
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        self.headerTimeoutMilliseconds = headerTimeoutMilliseconds
        self.writeTimeoutMilliseconds = writeTimeoutMilliseconds
        self.routeBodyLimit = routeBodyLimit
        self.streamsBody = streamsBody
        self.streamsChunkedBody = streamsChunkedBody
        self.maxQueuedBodyBytes = maxQueuedBodyBytes
    }

    /// The body limit for one request.
    func bodyLimit(method: String, path: String) -> Int {
        routeBodyLimit?(method, path) ?? maxBodyBytes
    }
}

/// Why bytes could not be parsed as an HTTP/1.x message.
public enum HTTPParseError: Error, Equatable, Sendable {
    /// The request line and headers exceed `maxHeaderBytes`.
    case headersTooLarge
    /// More than `maxHeaderCount` header fields.
    case tooManyHeaders
    /// The body exceeds the body limit (declared or received).
    case bodyTooLarge(limit: Int)
    /// A transfer coding other than `chunked`.
    case unsupportedTransferEncoding(String)
    /// An HTTP version other than 1.0 or 1.1.
    case unsupportedVersion(String)
    /// Anything else that breaks the grammar, with what was wrong.
    case malformed(String)

    /// The status a server answers with.
    public var status: Int {
        switch self {
        case .headersTooLarge, .tooManyHeaders: 431
        case .bodyTooLarge: 413
        case .unsupportedTransferEncoding: 501
        case .unsupportedVersion: 505
        case .malformed: 400
        }
    }

    /// The machine-readable code in the JSON error body.
    public var code: String {
        switch self {
        case .headersTooLarge, .tooManyHeaders, .bodyTooLarge: "too_large"
        case .unsupportedTransferEncoding: "not_implemented"
        case .unsupportedVersion: "unsupported_version"
        case .malformed: "bad_request"
        }
    }

    /// A human-readable explanation.
    public var message: String {
        switch self {
        case .headersTooLarge: "request headers are too large"
        case .tooManyHeaders: "too many request headers"
        case .bodyTooLarge(let limit): "request body is larger than \(limit) bytes"
        case .unsupportedTransferEncoding(let coding): "unsupported transfer encoding: \(coding)"
        case .unsupportedVersion(let version): "unsupported HTTP version: \(version)"
        case .malformed(let what): "malformed request: \(what)"
        }
    }
}
