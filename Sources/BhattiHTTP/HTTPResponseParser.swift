/// An incremental HTTP/1.x response parser for the client: head, body pieces as they are decoded, end;
/// then the next response's head, for connections that carry several.
struct HTTPResponseParser {
    enum Event: Equatable {
        /// The final (non-1xx) status and headers.
        case head(status: Int, headers: HTTPHeaders)
        /// Decoded body bytes, in arrival order (not aligned to the server's chunks).
        case body([UInt8])
        /// The body is complete.
        case end
    }

    private enum State {
        case head
        case body(remaining: Int)
        case chunked(ChunkedDecoder)
        case untilClose
        case ending
    }

    private let requestMethod: String
    private let maxHeaderBytes: Int
    private let maxHeaderCount: Int
    private var buffer = InputBuffer()
    private var state = State.head
    private var head: HeadReader

    /// A parser for the answer to a `requestMethod` request (HEAD answers have no body).
    init(requestMethod: String, maxHeaderBytes: Int = 64 * 1024, maxHeaderCount: Int = 200) {
        self.requestMethod = requestMethod
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        head = HeadReader(expectsStartLine: true, maxBytes: maxHeaderBytes, maxCount: maxHeaderCount)
    }

    mutating func feed(_ bytes: some Collection<UInt8>) { buffer.append(contentsOf: bytes) }

    /// Whether the body ends only when the server closes the connection.
    var bodyRunsUntilClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// The next event, or nil when more bytes are needed.
    mutating func next() throws(HTTPParseError) -> Event? {
        while true {
            switch state {
            case .head:
                guard try head.read(from: &buffer) else { return nil }
                let status = try Self.statusCode(head.startLine ?? [])
                let headers = head.headers
                head = HeadReader(expectsStartLine: true, maxBytes: maxHeaderBytes, maxCount: maxHeaderCount)
                // Interim answers (100 Continue) precede the real one; 101 hands the socket to another protocol.
                if (100..<200).contains(status) && status != 101 { continue }
                state = try framing(status: status, headers: headers)
                return .head(status: status, headers: headers)
            case .body(let remaining):
                if remaining == 0 {
                    state = .ending
                    continue
                }
                guard !buffer.isEmpty else { return nil }
                let piece = buffer.take(remaining)
                state = .body(remaining: remaining - piece.count)
                return .body(piece)
            case .chunked(var decoder):
                var piece: [UInt8] = []
                let done = try decoder.decode(&buffer, into: &piece)
                state = done ? .ending : .chunked(decoder)
                if !piece.isEmpty { return .body(piece) }
                if !done { return nil }
            case .untilClose:
                return buffer.isEmpty ? nil : .body(buffer.takeAll())
            case .ending:
                // Ready for the next response on the same connection.
                state = .head
                return .end
            }
        }
    }

    private func framing(status: Int, headers: HTTPHeaders) throws(HTTPParseError) -> State {
        if requestMethod == "HEAD" || HTTPResponse.statusHasNoBody(status) { return .ending }
        let codings = headers.tokens(for: "Transfer-Encoding")
        if !codings.isEmpty {
            return codings.last == "chunked" ? .chunked(ChunkedDecoder(limit: Int.max)) : .untilClose
        }
        guard let text = headers["Content-Length"] else { return .untilClose }
        guard let length = Int(text), length >= 0 else { throw .malformed("invalid Content-Length") }
        return .body(remaining: length)
    }

    /// Parses `HTTP/1.1 200 OK` (the reason phrase may be empty or missing).
    private static func statusCode(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        let parts = line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { throw .malformed("invalid status line") }
        _ = try parseVersion(parts[0])
        guard parts[1].count == 3, parts[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let status = Int(String(decoding: parts[1], as: UTF8.self))
        else { throw .malformed("invalid status code") }
        return status
    }
}
