import COpenSSL

/// What a handler returns (inside `HTTPResponse.webSocket`) to take the connection over as a WebSocket.
public struct WebSocketUpgrade: Sendable {
    /// Limits and timers for the connection.
    public var options: WebSocketOptions
    /// Runs in a task once the 101 answer is sent; the connection closes (1000) when it returns.
    public var handler: @Sendable (WebSocket) async -> Void

    /// An upgrade that serves the socket with `handler`.
    public init(options: WebSocketOptions = WebSocketOptions(), handler: @escaping @Sendable (WebSocket) async -> Void) {
        self.options = options
        self.handler = handler
    }
}

extension HTTPResponse {
    /// Accepts a WebSocket upgrade: the server answers 101 (with `headers` added, e.g.
    /// `Sec-WebSocket-Protocol`) and runs `handler`, which should return once `messages` ends. A request
    /// that is not a valid opening handshake gets 400 with the JSON error body instead.
    public static func webSocket(
        headers: HTTPHeaders = [], options: WebSocketOptions = WebSocketOptions(),
        _ handler: @escaping @Sendable (WebSocket) async -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: 101, headers: headers, body: .webSocket(WebSocketUpgrade(options: options, handler: handler)))
    }
}

extension HTTPRequest {
    /// Whether the request is a valid RFC 6455 opening handshake (GET, HTTP/1.1, `Upgrade: websocket`,
    /// `Connection: Upgrade`, version 13, a 16-byte base64 key).
    public var isWebSocketUpgrade: Bool { webSocketHandshakeProblem == nil }

    /// Why the request is not a valid opening handshake (RFC 6455 §4.2.1), or nil when it is.
    var webSocketHandshakeProblem: String? {
        guard method == "GET" else { return "a WebSocket upgrade must be a GET request" }
        guard version == .http1_1 else { return "a WebSocket upgrade needs HTTP/1.1" }
        guard headers.tokens(for: "Upgrade").contains("websocket") else { return "missing Upgrade: websocket" }
        guard headers.tokens(for: "Connection").contains("upgrade") else { return "missing Connection: Upgrade" }
        guard headers["Sec-WebSocket-Version"]?.trimmingASCIIWhitespace() == "13" else {
            return "Sec-WebSocket-Version must be 13"
        }
        guard let key = headers["Sec-WebSocket-Key"], isValidWebSocketKey(key.trimmingASCIIWhitespace()) else {
            return "missing or invalid Sec-WebSocket-Key"
        }
        return nil
    }
}

/// The GUID that RFC 6455 §1.3 appends to the client's key before hashing.
private let webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
func webSocketAccept(key: String) -> String {
    let input = Array((key.trimmingASCIIWhitespace() + webSocketGUID).utf8)
    var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
    _ = SHA1(input, input.count, &digest)
    return base64(digest)
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
func makeWebSocketKey() -> String {
    var generator = SystemRandomNumberGenerator()
    return base64((0..<16).map { _ in generator.next() as UInt8 })
}

/// Standard base64 with padding (libcrypto's encoder).
func base64(_ bytes: [UInt8]) -> String {
    var out = [UInt8](repeating: 0, count: (bytes.count + 2) / 3 * 4 + 1)
    let count = EVP_EncodeBlock(&out, bytes, Int32(bytes.count))
    return String(decoding: out[0..<Int(count)], as: UTF8.self)
}

/// Whether `key` is base64 of 16 bytes: 22 alphabet characters and `==`.
private func isValidWebSocketKey(_ key: String) -> Bool {
    let bytes = Array(key.utf8)
    guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
    return bytes[..<22].allSatisfy { byte in
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "+"), UInt8(ascii: "/"): true
        default: false
        }
    }
}

extension HTTPResponse {
    /// The 101 answer to a valid opening handshake, with the handler's `headers` and the accept key.
    static func webSocketAcceptHead(headers: HTTPHeaders, key: String) -> [UInt8] {
        var fields = headers
        fields.set("Upgrade", "websocket")
        fields.set("Sec-WebSocket-Accept", webSocketAccept(key: key))
        return serializeHead(status: 101, headers: fields, framing: .none, keepAlive: false, connection: "Upgrade")
    }

    /// The 400 answer to a request for a WebSocket route that is not a valid opening handshake.
    static func webSocketRefusal(_ problem: String) -> [UInt8] {
        // RFC 6455 §4.4: a refused version is answered with the versions the server speaks.
        serializedError(
            status: 400, code: "bad_request", message: "not a WebSocket upgrade: \(problem)",
            headers: ["Sec-WebSocket-Version": "13"])
    }
}
