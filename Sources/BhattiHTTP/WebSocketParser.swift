/// What the parser takes out of the byte stream.
enum WebSocketEvent: Equatable, Sendable {
    /// A whole data message, fragments joined, text checked as UTF-8.
    case message(WebSocketMessage)
    /// A ping and its payload (the connection answers with a pong carrying the same bytes).
    case ping([UInt8])
    /// A pong (an answer to our ping, or an unsolicited heartbeat).
    case pong([UInt8])
    /// A close frame: its status, nil when it carried none.
    case close(WebSocketClose?)
}

/// An incremental RFC 6455 frame decoder and message assembler: feed bytes as they arrive, take
/// events out as frames complete.
///
/// Pure (no I/O), so splits across reads are unit-tested byte by byte. Every check that a frame
/// header allows is made before its payload is buffered, so an oversized message is refused without
/// reading it. After an error the parser stays failed: the connection must close with
/// `error.closeCode`, because what follows the bad bytes cannot be framed.
struct WebSocketParser: Sendable {
    private struct Header {
        var fin: Bool
        var opcode: WebSocketOpcode
        var length: Int
        var maskKey: [UInt8]?
    }

    private let expectsMaskedFrames: Bool
    private let maxMessageBytes: Int
    private var input = InputBuffer()
    /// A header whose payload has not fully arrived.
    private var header: Header?
    /// The payloads so far of a fragmented message, and its kind (text or binary).
    private var fragments: [UInt8] = []
    private var fragmentedOpcode: WebSocketOpcode?
    private var failure: WebSocketError?

    /// A parser for frames from a client (`expectsMaskedFrames`, as a server reads them) or from a
    /// server (unmasked), refusing messages over `maxMessageBytes`.
    init(expectsMaskedFrames: Bool, maxMessageBytes: Int = 16 << 20) {
        self.expectsMaskedFrames = expectsMaskedFrames
        self.maxMessageBytes = maxMessageBytes
    }

    /// Appends received bytes.
    mutating func feed(_ bytes: some Collection<UInt8>) { input.append(contentsOf: bytes) }

    /// The next event, or nil when more bytes are needed.
    mutating func next() throws(WebSocketError) -> WebSocketEvent? {
        if let failure { throw failure }
        do {
            return try advance()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func advance() throws(WebSocketError) -> WebSocketEvent? {
        while true {
            if header == nil {
                guard let parsed = try readHeader() else { return nil }
                header = parsed
            }
            guard let current = header, input.count >= current.length else { return nil }
            var payload = input.take(current.length)
            header = nil
            if let key = current.maskKey { applyMask(&payload, key: key) }
            if let event = try complete(current, payload: payload) { return event }
        }
    }

    /// Parses and checks a frame header once all of it has arrived (2 to 14 bytes).
    private mutating func readHeader() throws(WebSocketError) -> Header? {
        guard input.count >= 2 else { return nil }
        let first = input[0]
        let second = input[1]
        // No extension is negotiated, so every reserved bit must be clear.
        guard first & 0x70 == 0 else { throw .protocolViolation("reserved bits set") }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw .protocolViolation("unknown opcode \(first & 0x0F)")
        }
        let fin = first & 0x80 != 0
        let masked = second & 0x80 != 0
        guard masked == expectsMaskedFrames else {
            throw .protocolViolation(masked ? "masked frame from the server" : "unmasked frame from the client")
        }
        let shortLength = Int(second & 0x7F)
        if opcode.isControl {
            guard fin else { throw .protocolViolation("fragmented control frame") }
            guard shortLength <= maxControlPayload else { throw .protocolViolation("control frame longer than 125 bytes") }
        }
        let lengthBytes = shortLength == 126 ? 2 : shortLength == 127 ? 8 : 0
        let headerBytes = 2 + lengthBytes + (masked ? 4 : 0)
        guard input.count >= headerBytes else { return nil }
        var length = UInt64(shortLength)
        if lengthBytes > 0 {
            length = 0
            for offset in 0..<lengthBytes { length = length << 8 | UInt64(input[2 + offset]) }
            guard length >> 63 == 0 else { throw .protocolViolation("64-bit length with the high bit set") }
            // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
            guard length >= (lengthBytes == 2 ? 126 : 0x1_0000) else { throw .protocolViolation("length not in its shortest form") }
        }
        switch opcode {
        case .continuation:
            guard fragmentedOpcode != nil else { throw .protocolViolation("continuation frame outside a fragmented message") }
        case .text, .binary:
            guard fragmentedOpcode == nil else { throw .protocolViolation("new message inside a fragmented one") }
        case .close, .ping, .pong:
            break
        }
        if !opcode.isControl, length > UInt64(maxMessageBytes - fragments.count) {
            throw .messageTooBig(limit: maxMessageBytes)
        }
        let maskKey = masked ? input.peek((headerBytes - 4)..<headerBytes) : nil
        input.skip(headerBytes)
        return Header(fin: fin, opcode: opcode, length: Int(length), maskKey: maskKey)
    }

    /// Turns a complete frame into an event; nil for a fragment that does not end its message.
    private mutating func complete(_ header: Header, payload: [UInt8]) throws(WebSocketError) -> WebSocketEvent? {
        switch header.opcode {
        case .ping: return .ping(payload)
        case .pong: return .pong(payload)
        case .close: return .close(try parseClosePayload(payload))
        case .text, .binary, .continuation:
            if header.opcode != .continuation { fragmentedOpcode = header.opcode }
            // A single-frame message keeps its payload array instead of copying it.
            if fragments.isEmpty { fragments = payload } else { fragments += payload }
            guard header.fin else { return nil }
            let kind = fragmentedOpcode
            let body = fragments
            fragmentedOpcode = nil
            fragments = []
            guard kind == .text else { return .message(.binary(body)) }
            guard let text = String(validating: body, as: UTF8.self) else { throw .invalidUTF8 }
            return .message(.text(text))
        }
    }
}
