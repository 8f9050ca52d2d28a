import BhattiSystem

extension HTTPClient {
    /// Opens a WebSocket at `path` (with the query) over the client's endpoint: sends the opening
    /// handshake with `headers`, checks the server's `Sec-WebSocket-Accept`, and starts the reader
    /// thread. Blocks until the server answers; call it off the cooperative pool.
    public func webSocket(
        path: String, headers: HTTPHeaders = [], options: WebSocketOptions = WebSocketOptions()
    ) throws(WebSocketError) -> WebSocket {
        let key = makeWebSocketKey()
        var fields = headers
        if !fields.contains("Host"), case .tcp(let host, let port) = endpoint {
            fields.set("Host", host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        }
        fields.set("Upgrade", "websocket")
        fields.set("Sec-WebSocket-Version", "13")
        fields.set("Sec-WebSocket-Key", key)
        let request: [UInt8]
        let fd: FileDescriptor
        do {
            request = try serializeRequest(method: "GET", path: path, headers: fields, body: [], connection: "Upgrade")
            fd = try connect()
        } catch {
            throw .http(error)
        }
        do throws(WebSocketError) {
            if timeoutMilliseconds > 0 { fd.setReceiveTimeout(milliseconds: timeoutMilliseconds) }
            do {
                try fd.writeAll(request)
            } catch {
                throw .http(.io(error))
            }
            var parser = HTTPResponseParser(requestMethod: "GET")
            let (status, answer, rest) = try readHead(fd, into: &parser)
            guard status == 101 else {
                throw .rejected(status: status, headers: answer, body: try readBody(fd, rest: rest, parser: &parser))
            }
            try verifyHandshake(answer, key: key, offered: fields.tokens(for: "Sec-WebSocket-Protocol"))
            // The reader polls before each read; the handshake's receive timeout must not cut it short.
            if timeoutMilliseconds > 0 { fd.setReceiveTimeout(milliseconds: 0) }
            let socket = WebSocket(fd: fd, role: .client, options: options, initialBytes: rest)
            startThread(name: "bhatti-ws-client") { socket.run() }
            return socket
        } catch {
            fd.close()
            throw error
        }
    }

    /// Reads the answer's head into `parser`; returns its status and headers, and the bytes after the
    /// head (frames a server may send at once after 101).
    private func readHead(
        _ fd: FileDescriptor, into parser: inout HTTPResponseParser
    ) throws(WebSocketError) -> (Int, HTTPHeaders, [UInt8]) {
        var received: [UInt8] = []
        var scanned = 0
        while true {
            if let end = headEnd(received, from: scanned) {
                parser.feed(received[..<end])
                do throws(HTTPParseError) {
                    guard case .head(let status, let headers)? = try parser.next() else {
                        throw HTTPParseError.malformed("no final status in the handshake answer")
                    }
                    return (status, headers, Array(received[end...]))
                } catch {
                    throw .http(.protocolError(error.message))
                }
            }
            guard received.count <= 64 * 1024 else { throw .http(.protocolError("handshake answer head too large")) }
            scanned = max(0, received.count - 3)
            let chunk = try readChunk(fd)
            guard !chunk.isEmpty else { throw .http(.closed) }
            received += chunk
        }
    }

    /// Reads the body of a refused upgrade (the server's error envelope), up to 1 MiB.
    private func readBody(_ fd: FileDescriptor, rest: [UInt8], parser: inout HTTPResponseParser) throws(WebSocketError) -> [UInt8] {
        var body: [UInt8] = []
        parser.feed(rest)
        while body.count < 1 << 20 {
            do throws(HTTPParseError) {
                while let event = try parser.next() {
                    switch event {
                    case .body(let piece): body += piece
                    case .end: return body
                    case .head: break
                    }
                }
            } catch {
                throw .http(.protocolError(error.message))
            }
            let chunk = try readChunk(fd)
            if chunk.isEmpty { return body }
            parser.feed(chunk)
        }
        return body
    }

    private func readChunk(_ fd: FileDescriptor) throws(WebSocketError) -> [UInt8] {
        do {
            return try fd.read(upTo: 16 * 1024)
        } catch {
            throw .http(error == .wouldBlock ? .timedOut : .io(error))
        }
    }
}

/// The offset just past the blank line that ends a head (`\r\n\r\n`), searching from `start`.
private func headEnd(_ bytes: [UInt8], from start: Int) -> Int? {
    var index = start
    while index + 4 <= bytes.count {
        if bytes[index] == 0x0D, bytes[index + 1] == 0x0A, bytes[index + 2] == 0x0D, bytes[index + 3] == 0x0A {
            return index + 4
        }
        index += 1
    }
    return nil
}

/// Checks a 101 answer against RFC 6455 §4.1: upgrade tokens, the accept key, and nothing negotiated
/// that was not offered (an unannounced extension or subprotocol would change what the frames mean).
func verifyHandshake(_ headers: HTTPHeaders, key: String, offered protocols: [String]) throws(WebSocketError) {
    guard headers.tokens(for: "Upgrade").contains("websocket") else { throw .handshake("missing Upgrade: websocket") }
    guard headers.tokens(for: "Connection").contains("upgrade") else { throw .handshake("missing Connection: Upgrade") }
    guard headers["Sec-WebSocket-Accept"]?.trimmingASCIIWhitespace() == webSocketAccept(key: key) else {
        throw .handshake("Sec-WebSocket-Accept does not match the key")
    }
    if let extensions = headers["Sec-WebSocket-Extensions"] { throw .handshake("extension not offered: \(extensions)") }
    for chosen in headers.tokens(for: "Sec-WebSocket-Protocol") where !protocols.contains(chosen) {
        throw .handshake("subprotocol not offered: \(chosen)")
    }
}
