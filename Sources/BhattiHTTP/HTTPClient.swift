public import BhattiSystem
import Glibc

/// Why a client request failed, keeping the OS error where there is one.
public enum HTTPClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Connecting failed: ENOENT or ECONNREFUSED mean nothing is listening (the daemon is not running).
    case connect(Errno)
    /// Reading or writing failed after the connection was made.
    case io(Errno)
    /// The receive timeout passed with no bytes from the server.
    case timedOut
    /// The server closed the connection before a complete response.
    case closed
    /// The server's bytes are not a valid HTTP response.
    case protocolError(String)
    /// The request cannot be sent as given (a method, path or header that would break the message).
    case invalidRequest(String)

    /// Whether nothing is listening at the endpoint (as opposed to a failure mid-exchange).
    public var isUnreachable: Bool {
        if case .connect(let errno) = self { return errno == .noEntry || errno == .connectionRefused }
        return false
    }

    public var description: String {
        switch self {
        case .connect(let errno): "cannot connect: \(errno)"
        case .io(let errno): "connection failed: \(errno)"
        case .timedOut: "timed out waiting for the server"
        case .closed: "the server closed the connection before answering"
        case .protocolError(let what): "invalid response: \(what)"
        case .invalidRequest(let what): "invalid request: \(what)"
        }
    }
}

/// A complete response as the client received it.
public struct HTTPClientResponse: Sendable {
    /// The final status code (interim 1xx answers are skipped).
    public var status: Int
    /// The response header fields in the order received.
    public var headers: HTTPHeaders
    /// The de-chunked body (empty for `stream`, which hands it to `onChunk` instead).
    public var body: [UInt8]

    /// A response with the given parts.
    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body decoded as UTF-8 (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client, one connection per request (for the CLI and tests; never call it on the
/// cooperative pool).
public final class HTTPClient: Sendable {
    /// Where requests go.
    public let endpoint: HTTPEndpoint
    let timeoutMilliseconds: Int

    /// A client for `endpoint`; `timeoutMilliseconds` bounds each wait for response bytes (0: no bound).
    public init(endpoint: HTTPEndpoint, timeoutMilliseconds: Int = 0) {
        self.endpoint = endpoint
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Sends a request and reads the whole response. `path` includes any query. Sends `Host: localhost`
    /// and `Content-Length` for bodies.
    public func send(method: String, path: String, headers: HTTPHeaders = [], body: [UInt8] = []) throws(HTTPClientError)
        -> HTTPClientResponse
    {
        var received: [UInt8] = []
        var response = try exchange(method: method, path: path, headers: headers, body: body, onHead: { _, _ in }) {
            received += $0
        }
        response.body = received
        return response
    }

    /// Sends a request and hands the body to `onChunk` piece by piece as it arrives (chunked or
    /// length-delimited; pieces are not aligned to lines). Returns the status and headers, body empty.
    public func stream(
        method: String, path: String, headers: HTTPHeaders = [], body: [UInt8] = [],
        onHead: (Int, HTTPHeaders) -> Void = { _, _ in }, onChunk: ([UInt8]) -> Void
    ) throws(HTTPClientError) -> HTTPClientResponse {
        try exchange(method: method, path: path, headers: headers, body: body, onHead: onHead, onBody: onChunk)
    }

    /// Sends a request whose body, exactly `length` bytes, is pulled from `next` piece by piece (nil:
    /// no more) and written as it comes, so a large file never sits in memory; reads the whole
    /// response. A body that ends short of `length`, or runs past it, fails the request
    /// (`invalidRequest`) before the server could take it as complete. A server that answers early
    /// (413) and closes stops the body; its answer is returned. With `onChunk`, the response body goes
    /// there piece by piece as it arrives instead of into the returned response.
    public func send(
        method: String, path: String, headers: HTTPHeaders = [], length: Int, body next: () -> [UInt8]?,
        onChunk: (([UInt8]) -> Void)? = nil
    ) throws(HTTPClientError) -> HTTPClientResponse {
        var received: [UInt8] = []
        let head = try serializeRequest(method: method, path: path, headers: headers, body: [], contentLength: length)
        let fd = try connect()
        defer { fd.close() }
        if timeoutMilliseconds > 0 { fd.setReceiveTimeout(milliseconds: timeoutMilliseconds) }
        var response = try withoutActuallyEscaping(next) { (next) throws(HTTPClientError) -> HTTPClientResponse in
            try Self.exchange(
                on: fd, request: head, body: (length, next), method: method, onHead: { _, _ in },
                onBody: { chunk in
                    if let onChunk { onChunk(chunk) } else { received += chunk }
                }
            )
            .response
        }
        response.body = received
        return response
    }

    private func exchange(
        method: String, path: String, headers: HTTPHeaders, body: [UInt8],
        onHead: (Int, HTTPHeaders) -> Void, onBody: ([UInt8]) -> Void
    ) throws(HTTPClientError) -> HTTPClientResponse {
        let request = try serializeRequest(method: method, path: path, headers: headers, body: body)
        let fd = try connect()
        defer { fd.close() }
        if timeoutMilliseconds > 0 { fd.setReceiveTimeout(milliseconds: timeoutMilliseconds) }
        return try Self.exchange(on: fd, request: request, method: method, onHead: onHead, onBody: onBody).response
    }

    /// Writes `request` on `fd` and reads one response. `reusable`: the connection may carry another
    /// request (the response was delimited and the server did not ask to close); `sawBytes`: the server
    /// answered at all (a kept-alive connection the server had already closed answers nothing).
    /// `body`: the rest of the request after `request`, pulled piece by piece (`length` bytes in all).
    static func exchange(
        on fd: FileDescriptor, request: [UInt8], body: (length: Int, next: () -> [UInt8]?)? = nil, method: String,
        onHead: (Int, HTTPHeaders) -> Void, onBody: ([UInt8]) -> Void
    ) throws(HTTPClientError) -> (response: HTTPClientResponse, reusable: Bool) {
        var writeError: Errno?
        do {
            try fd.writeAll(request)
            if let body {
                var sent = 0
                while let chunk = body.next() {
                    guard sent + chunk.count <= body.length else {
                        throw HTTPClientError.invalidRequest("the body runs past its length, \(body.length) bytes")
                    }
                    try fd.writeAll(chunk)
                    sent += chunk.count
                }
                guard sent == body.length else {
                    throw HTTPClientError.invalidRequest("the body ended after \(sent) of its \(body.length) bytes")
                }
            }
        } catch let error as HTTPClientError {
            throw error
        } catch {
            // The server may have answered early (413) and closed: its answer can still be read.
            let error = error as? Errno ?? Errno(rawValue: EIO)
            guard error == .brokenPipe || error == Errno(rawValue: ECONNRESET) else { throw .io(error) }
            writeError = error
        }
        var parser = HTTPResponseParser(requestMethod: method)
        var head: HTTPClientResponse?
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            do throws(HTTPParseError) {
                while let event = try parser.next() {
                    switch event {
                    case .head(let status, let headers):
                        head = HTTPClientResponse(status: status, headers: headers, body: [])
                        onHead(status, headers)
                    case .body(let bytes):
                        onBody(bytes)
                    case .end:
                        guard let head else { throw HTTPParseError.malformed("body without a head") }
                        let close = head.headers.tokens(for: "Connection").contains("close")
                        return (head, writeError == nil && !close)
                    }
                }
            } catch {
                throw .protocolError(error.message)
            }
            let count: Int
            do {
                count = try fd.read(into: &readBuffer)
            } catch {
                if error == .wouldBlock { throw .timedOut }
                throw .io(writeError ?? error)
            }
            if count == 0 {
                if parser.bodyRunsUntilClose, let head { return (head, false) }
                if let writeError { throw .io(writeError) }
                throw .closed
            }
            parser.feed(readBuffer[0..<count])
        }
    }

    func connect() throws(HTTPClientError) -> FileDescriptor {
        do {
            switch endpoint {
            case .unix(let path): return try Socket.connect(unixPath: path)
            case .tcp(let host, let port): return try Socket.connect(host: host, port: port)
            }
        } catch {
            throw .connect(error)
        }
    }
}

/// The bytes of a request: request line, `Host`, the caller's headers, `Content-Length`, `Connection`
/// (`close`: one request per connection), body. Validates what would otherwise let a value split the message.
/// `contentLength`: the body's length when the body follows separately (`body` is then empty).
func serializeRequest(
    method: String, path: String, headers: HTTPHeaders, body: [UInt8], connection: String = "close", contentLength: Int? = nil
) throws(HTTPClientError) -> [UInt8] {
    guard !method.isEmpty, method.utf8.allSatisfy(isTokenByte) else { throw .invalidRequest("invalid method") }
    guard path.first == "/", path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
        throw .invalidRequest("path must start with / and be percent-encoded")
    }
    var text = "\(method) \(path) HTTP/1.1\r\n"
    if !headers.contains("Host") { text += "Host: localhost\r\n" }
    for (name, value) in headers {
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { throw .invalidRequest("invalid header name \(name)") }
        guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
            throw .invalidRequest("line break in header \(name)")
        }
        if headerNamesEqual(name, "Content-Length") || headerNamesEqual(name, "Transfer-Encoding")
            || headerNamesEqual(name, "Connection")
        {
            continue
        }
        text += "\(name): \(value)\r\n"
    }
    if let contentLength {
        text += "Content-Length: \(contentLength)\r\n"
    } else if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
        text += "Content-Length: \(body.count)\r\n"
    }
    text += "Connection: \(connection)\r\n\r\n"
    return Array(text.utf8) + body
}
