import BhattiSystem

/// What a response carries after its head.
public enum ResponseBody: Sendable {
    /// A complete body, sent with `Content-Length`.
    case bytes([UInt8])
    /// A body produced over time, sent with chunked encoding and flushed chunk by chunk.
    case stream(ResponseStream)
    /// No body: the connection switches to the WebSocket protocol (see `HTTPResponse.webSocket`).
    case webSocket(WebSocketUpgrade)
    /// No head and no body from the server: the connection is handed to the tunnel's handler, which
    /// writes the whole answer itself (a reverse proxy relaying an upstream's bytes); it closes after.
    case tunnel(RawTunnel)
}

/// A response as a handler returns it; the server adds the framing headers (`Content-Length` or
/// `Transfer-Encoding`, and `Connection`), replacing any the handler set.
public struct HTTPResponse: Sendable {
    /// The status code; the reason phrase is the standard one for it.
    public var status: Int
    /// Header fields to send (framing headers are the server's and are replaced).
    public var headers: HTTPHeaders
    /// The body: complete bytes or a stream.
    public var body: ResponseBody

    /// A response with the given parts.
    public init(status: Int, headers: HTTPHeaders = [], body: ResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response: `bytes` are sent as they are, with `Content-Type: application/json`.
    public static func json(status: Int = 200, bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .bytes(bytes))
    }

    /// A plain-text response.
    public static func text(status: Int = 200, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .bytes(Array(text.utf8)))
    }

    /// A streamed response (`Content-Type` defaults to NDJSON, the daemon's streaming format).
    public static func stream(
        status: Int = 200, headers: HTTPHeaders = ["Content-Type": "application/x-ndjson"], _ stream: ResponseStream
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .stream(stream))
    }

    /// The complete answer to a request that could not be parsed, closing the connection:
    /// `{"error":{"code":...,"message":...}}`.
    static func serializedError(_ error: HTTPParseError) -> [UInt8] {
        serializedError(status: error.status, code: error.code, message: error.message)
    }

    /// A complete error answer with the JSON envelope and `headers`, closing the connection.
    static func serializedError(status: Int, code: String, message: String, headers: HTTPHeaders = []) -> [UInt8] {
        var fields = headers
        fields.set("Content-Type", "application/json")
        return serialize(status: status, headers: fields, body: errorEnvelope(code: code, message: message), keepAlive: false)
    }

    /// `{"error":{"code":…,"message":…}}`.
    public static func errorEnvelope(code: String, message: String) -> [UInt8] {
        Array(#"{"error":{"code":"\#(jsonEscaped(code))","message":"\#(jsonEscaped(message))"}}"#.utf8)
    }

    /// A handler's `rejection` of an unreadable request, closing the connection (a body that is not
    /// complete bytes is replaced by the plain envelope).
    static func serializedRejection(_ response: HTTPResponse, for error: HTTPParseError) -> [UInt8] {
        guard case .bytes(let body) = response.body else { return serializedError(error) }
        return serialize(status: response.status, headers: response.headers, body: body, keepAlive: false)
    }
}

/// How a serialized response delimits its body.
enum BodyFraming: Equatable {
    /// `Content-Length: n`.
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// Neither header: the body ends when the connection closes (streams to HTTP/1.0 clients).
    case untilClose
    /// No body and no length (1xx, 204, 304).
    case none
}

extension HTTPResponse {
    /// Whether the status forbids a body (RFC 9110 §6.4.1).
    static func statusHasNoBody(_ status: Int) -> Bool {
        (100..<200).contains(status) || status == 204 || status == 304
    }

    /// The status line and headers, ending with the empty line. `connection` replaces the
    /// `Connection` value that `keepAlive` picks (`Upgrade` for 101).
    static func serializeHead(
        status: Int, headers: HTTPHeaders, framing: BodyFraming, keepAlive: Bool, connection: String? = nil
    ) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
        for (name, value) in headers {
            if headerNamesEqual(name, "Content-Length") || headerNamesEqual(name, "Transfer-Encoding")
                || headerNamesEqual(name, "Connection")
            {
                continue
            }
            // A CR or LF in a handler's value would split the response; they become spaces.
            text += "\(sanitized(name)): \(sanitized(value))\r\n"
        }
        switch framing {
        case .length(let n): text += "Content-Length: \(n)\r\n"
        case .chunked: text += "Transfer-Encoding: chunked\r\n"
        case .untilClose, .none: break
        }
        text += "Connection: \(connection ?? (keepAlive ? "keep-alive" : "close"))\r\n\r\n"
        return Array(text.utf8)
    }

    /// A response with a complete body, head and body in one buffer (one write).
    static func serialize(status: Int, headers: HTTPHeaders, body: [UInt8], keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        if statusHasNoBody(status) {
            return serializeHead(status: status, headers: headers, framing: .none, keepAlive: keepAlive)
        }
        var bytes = serializeHead(status: status, headers: headers, framing: .length(body.count), keepAlive: keepAlive)
        if !headOnly { bytes += body }
        return bytes
    }
}

/// One chunk of a chunked body: size in hex, CRLF, data, CRLF. Empty data would end the body, so callers skip it.
func chunkFrame(_ data: [UInt8]) -> [UInt8] {
    var frame = Array(String(data.count, radix: 16).utf8) + [0x0D, 0x0A]
    frame.reserveCapacity(frame.count + data.count + 2)
    frame += data
    frame += [0x0D, 0x0A]
    return frame
}

/// The chunk that ends a chunked body (no trailers).
let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

/// `HTTP/1.1 100 Continue`, the interim answer to `Expect: 100-continue`.
let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

private func sanitized(_ text: String) -> String {
    guard text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { return text }
    return String(text.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
}

/// The standard reason phrase (clients ignore it; it is for people reading traces).
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: "Continue"
    case 101: "Switching Protocols"
    case 103: "Early Hints"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 203: "Non-Authoritative Information"
    case 204: "No Content"
    case 205: "Reset Content"
    case 206: "Partial Content"
    case 300: "Multiple Choices"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 303: "See Other"
    case 304: "Not Modified"
    case 307: "Temporary Redirect"
    case 308: "Permanent Redirect"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 402: "Payment Required"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 406: "Not Acceptable"
    case 407: "Proxy Authentication Required"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 410: "Gone"
    case 411: "Length Required"
    case 412: "Precondition Failed"
    case 413: "Content Too Large"
    case 414: "URI Too Long"
    case 415: "Unsupported Media Type"
    case 416: "Range Not Satisfiable"
    case 417: "Expectation Failed"
    case 421: "Misdirected Request"
    case 422: "Unprocessable Content"
    case 423: "Locked"
    case 425: "Too Early"
    case 426: "Upgrade Required"
    case 428: "Precondition Required"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 451: "Unavailable For Legal Reasons"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    case 505: "HTTP Version Not Supported"
    case 507: "Insufficient Storage"
    case 511: "Network Authentication Required"
    // A code without a registered phrase (an upstream's, relayed): the class's name, never a bare number.
    case 100..<200: "Informational"
    case 200..<300: "Success"
    case 300..<400: "Redirection"
    case 400..<500: "Client Error"
    default: "Server Error"
    }
}
