/// An incremental HTTP/1.x request parser: feed bytes as they arrive, take requests out as they complete.
///
/// Pure (no I/O), so splits across reads and pipelining are unit-tested byte by byte. After an error
/// the parser stays failed: the connection must answer `error.status` and close, because the framing
/// of anything after the bad bytes is unknown.
public struct HTTPRequestParser: Sendable {
    /// What `next()` produces.
    public enum Event: Sendable {
        /// A complete request.
        case request(HTTPRequest)
        /// A head with `Expect: 100-continue` whose body has not started; answer `100 Continue` to get it.
        case expectContinue
        /// The head of a request on a streamed route (`HTTPLimits.streamsBody`) with `length` body bytes
        /// to come: take what is buffered with `takeBody(upTo:)` and read the rest from the socket
        /// yourself; the parser expects the next request after it. `length` is nil for a chunked body
        /// (`HTTPLimits.streamsChunkedBody`): keep feeding the parser and take the body de-chunked with
        /// `takeChunkedBody()` until it says the body ended.
        case streamedRequest(HTTPRequest, length: Int?)
    }

    private enum State {
        case head
        case body(remaining: Int)
        case chunked(ChunkedDecoder)
        /// A streamed request's head, held back while `100 Continue` is answered; nil length: chunked.
        case streamed(length: Int?, limit: Int)
        /// A streamed chunked body, de-chunked as `takeChunkedBody()` is called.
        case streamingChunks(ChunkedDecoder)
    }

    private let limits: HTTPLimits
    private var buffer = InputBuffer()
    private var state = State.head
    private var head: HeadReader
    private var pending: HTTPRequest?
    private var pendingBody: [UInt8] = []
    private var failure: HTTPParseError?

    /// A parser enforcing `limits`.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        head = HeadReader(expectsStartLine: true, maxBytes: limits.maxHeaderBytes, maxCount: limits.maxHeaderCount)
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Bytes fed but not yet consumed by a request.
    public var bufferedByteCount: Int { buffer.count }

    /// Takes up to `count` buffered bytes: the start of a streamed body, which the caller reads on from the socket.
    public mutating func takeBody(upTo count: Int) -> [UInt8] {
        buffer.take(min(count, buffer.count))
    }

    /// De-chunks what is buffered of a streamed chunked body: its next bytes (perhaps none yet), and
    /// whether the body ended there (the parser then expects the next request, already buffered or not).
    public mutating func takeChunkedBody() throws(HTTPParseError) -> (bytes: [UInt8], ended: Bool) {
        if let failure { throw failure }
        guard case .streamingChunks(var decoder) = state else { return ([], true) }
        var bytes: [UInt8] = []
        do {
            let ended = try decoder.decode(&buffer, into: &bytes)
            state = ended ? .head : .streamingChunks(decoder)
            return (bytes, ended)
        } catch {
            failure = error
            throw error
        }
    }

    /// Whether a request has started arriving but is not complete (its bytes would be lost at end of input).
    public var isMidRequest: Bool {
        if case .head = state { return !buffer.isEmpty || head.startLine != nil }
        return true
    }

    /// Whether part of a request head has arrived but not all of it (what a head timeout bounds).
    var isReadingHead: Bool {
        if case .head = state { return !buffer.isEmpty || head.startLine != nil }
        return false
    }

    /// The next event, or nil when more bytes are needed.
    public mutating func next() throws(HTTPParseError) -> Event? {
        if let failure { throw failure }
        do {
            return try advance()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func advance() throws(HTTPParseError) -> Event? {
        while true {
            switch state {
            case .head:
                guard try head.read(from: &buffer) else { return nil }
                let request = try Self.request(startLine: head.startLine ?? [], headers: head.headers)
                head = HeadReader(
                    expectsStartLine: true, maxBytes: limits.maxHeaderBytes, maxCount: limits.maxHeaderCount)
                let limit = limits.bodyLimit(method: request.method, path: request.path)
                let streams = limits.streamsBody?(request.method, request.path) ?? false
                switch try Self.framing(of: request.headers, limit: limit) {
                case .length(0):
                    return .request(request)
                case .length(let length) where streams:
                    state = .streamed(length: length, limit: limit)
                case .length(let length):
                    state = .body(remaining: length)
                case .chunked where streams:
                    guard limits.streamsChunkedBody?(request.method, request.path) == true else {
                        throw .malformed("this route needs a Content-Length body, not a chunked one")
                    }
                    state = .streamed(length: nil, limit: limit)
                case .chunked:
                    state = .chunked(
                        ChunkedDecoder(
                            limit: limit, trailerBytes: limits.maxHeaderBytes, trailerCount: limits.maxHeaderCount))
                }
                pending = request
                pendingBody = []
                let expectation = request.headers["Expect"]?.lowercased()
                if request.version == .http1_1, expectation == "100-continue", buffer.isEmpty {
                    return .expectContinue
                }
            case .streamed(let length, let limit):
                state =
                    length == nil
                    ? .streamingChunks(
                        ChunkedDecoder(limit: limit, trailerBytes: limits.maxHeaderBytes, trailerCount: limits.maxHeaderCount))
                    : .head
                guard let request = pending else { return nil }
                pending = nil
                return .streamedRequest(request, length: length)
            case .body(let remaining):
                guard buffer.count >= remaining else { return nil }
                pendingBody = buffer.take(remaining)
                return completePending()
            case .streamingChunks:
                // The body is taken with `takeChunkedBody()`; nothing else comes before its end.
                return nil
            case .chunked(var decoder):
                let done = try decoder.decode(&buffer, into: &pendingBody)
                state = .chunked(decoder)
                guard done else { return nil }
                return completePending()
            }
        }
    }

    private mutating func completePending() -> Event? {
        state = .head
        guard var request = pending else { return nil }
        request.body = pendingBody
        pending = nil
        pendingBody = []
        return .request(request)
    }

    /// Parses `METHOD SP target SP HTTP/x.y`.
    private static func request(startLine: [UInt8], headers: HTTPHeaders) throws(HTTPParseError) -> HTTPRequest {
        let parts = startLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("request line must be: method target version") }
        guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte) else { throw .malformed("invalid method") }
        let version = try parseVersion(parts[2])
        let target = String(decoding: parts[1], as: UTF8.self)
        guard let decoded = RequestTarget(target) else { throw .malformed("invalid request target") }
        // Fields that must appear once (RFC 9110 §5.3: they are not lists): with two, one reader (a
        // proxy in front) may act on the first and another on the last, e.g. two different keys.
        for name in Self.singletonFields where headers.repeats(name) {
            throw .malformed("more than one \(name) header")
        }
        return HTTPRequest(
            method: String(decoding: parts[0], as: UTF8.self), target: target, decoded: decoded, version: version,
            headers: headers)
    }

    /// Header fields refused when repeated: credentials, and the target host (RFC 9112 §3.2).
    static let singletonFields = ["Authorization", "Proxy-Authorization", "Host"]

    private enum Framing: Equatable {
        case length(Int)
        case chunked
    }

    /// How the body is delimited (RFC 9112 §6.3); both headers at once is a smuggling vector, so it is refused.
    private static func framing(of headers: HTTPHeaders, limit: Int) throws(HTTPParseError) -> Framing {
        let codings = headers.tokens(for: "Transfer-Encoding")
        if !codings.isEmpty || headers.contains("Transfer-Encoding") {
            guard !headers.contains("Content-Length") else {
                throw .malformed("both Content-Length and Transfer-Encoding")
            }
            guard codings.last == "chunked" else { throw .malformed("request body must end with chunked coding") }
            if let other = codings.first(where: { $0 != "chunked" }) { throw .unsupportedTransferEncoding(other) }
            guard codings.count == 1 else { throw .malformed("chunked applied more than once") }
            return .chunked
        }
        let lengths = headers.values(for: "Content-Length").flatMap { $0.split(separator: ",") }
        guard let first = lengths.first else { return .length(0) }
        let text = first.trimmingASCIIWhitespace()
        guard lengths.allSatisfy({ $0.trimmingASCIIWhitespace() == text }) else {
            throw .malformed("conflicting Content-Length values")
        }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .malformed("invalid Content-Length")
        }
        // Digits beyond Int's range are certainly over any limit.
        guard let length = Int(text), length <= limit else { throw .bodyTooLarge(limit: limit) }
        return .length(length)
    }
}

/// Parses `HTTP/1.0` or `HTTP/1.1`.
func parseVersion(_ bytes: some Collection<UInt8>) throws(HTTPParseError) -> HTTPVersion {
    let text = String(decoding: bytes, as: UTF8.self)
    switch text {
    case "HTTP/1.1": return .http1_1
    case "HTTP/1.0": return .http1_0
    default:
        let digits = text.utf8.dropFirst(5)
        if text.hasPrefix("HTTP/"), digits.count == 3, digits.dropFirst().first == 0x2E,
            digits.allSatisfy({ $0 == 0x2E || ($0 >= 0x30 && $0 <= 0x39) })
        {
            throw .unsupportedVersion(text)
        }
        throw .malformed("invalid HTTP version")
    }
}
