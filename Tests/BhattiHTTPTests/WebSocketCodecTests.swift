import Testing

@testable import BhattiHTTP

/// Every event `bytes` parse into, fed whole or one byte at a time.
private func events(
    _ bytes: [UInt8], fromClient: Bool = false, maxMessageBytes: Int = 16 << 20, byteByByte: Bool = false
) throws(WebSocketError) -> [WebSocketEvent] {
    var parser = WebSocketParser(expectsMaskedFrames: fromClient, maxMessageBytes: maxMessageBytes)
    var out: [WebSocketEvent] = []
    let pieces: [[UInt8]] = byteByByte ? bytes.map { [$0] } : [bytes]
    for piece in pieces {
        parser.feed(piece)
        while let event = try parser.next() { out.append(event) }
    }
    return out
}

/// The error parsing `bytes` raises, if any.
private func failure(_ bytes: [UInt8], fromClient: Bool = false, maxMessageBytes: Int = 16 << 20) -> WebSocketError? {
    do {
        _ = try events(bytes, fromClient: fromClient, maxMessageBytes: maxMessageBytes)
        return nil
    } catch {
        return error
    }
}

private let hello = bytes("Hello")
/// The masking key of the RFC 6455 §5.7 examples.
private let rfcKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

@Suite struct WebSocketCodecTests {
    // RFC 6455 §5.7, example by example.
    @Test func unmaskedTextGolden() throws {
        let wire: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        #expect(encodeFrame(opcode: .text, payload: hello) == wire)
        #expect(try events(wire) == [.message(.text("Hello"))])
    }

    @Test func maskedTextGolden() throws {
        let wire: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(encodeFrame(opcode: .text, payload: hello, maskKey: rfcKey) == wire)
        #expect(try events(wire, fromClient: true) == [.message(.text("Hello"))])
    }

    @Test func fragmentedTextGolden() throws {
        let first: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6C]
        let second: [UInt8] = [0x80, 0x02, 0x6C, 0x6F]
        #expect(encodeFrame(opcode: .text, payload: bytes("Hel"), fin: false) == first)
        #expect(encodeFrame(opcode: .continuation, payload: bytes("lo")) == second)
        #expect(try events(first + second) == [.message(.text("Hello"))])
        #expect(try events(first) == [])
    }

    @Test func pingAndPongGolden() throws {
        let ping: [UInt8] = [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        let maskedPong: [UInt8] = [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(encodeFrame(opcode: .ping, payload: hello) == ping)
        #expect(encodeFrame(opcode: .pong, payload: hello, maskKey: rfcKey) == maskedPong)
        #expect(try events(ping) == [.ping(hello)])
        #expect(try events(maskedPong, fromClient: true) == [.pong(hello)])
    }

    @Test func sixteenAndSixtyFourBitLengthsGolden() throws {
        let small = [UInt8](repeating: 0xAB, count: 256)
        let wire256 = encodeFrame(opcode: .binary, payload: small)
        #expect(Array(wire256.prefix(4)) == [0x82, 0x7E, 0x01, 0x00])
        #expect(wire256.count == 4 + 256)
        let large = (0..<65536).map { UInt8(truncatingIfNeeded: $0) }
        let wire64k = encodeFrame(opcode: .binary, payload: large)
        #expect(Array(wire64k.prefix(10)) == [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00])
        #expect(wire64k.count == 10 + 65536)
        #expect(try events(wire256 + wire64k) == [.message(.binary(small)), .message(.binary(large))])
        let masked = encodeFrame(opcode: .binary, payload: large, maskKey: rfcKey)
        #expect(Array(masked.prefix(14)) == [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00] + rfcKey)
        #expect(try events(masked, fromClient: true) == [.message(.binary(large))])
    }

    @Test func acceptKeyGolden() {
        // RFC 6455 §1.3.
        #expect(webSocketAccept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(makeWebSocketKey().utf8.count == 24)
        #expect(base64([]) == "" && base64(bytes("f")) == "Zg==" && base64(bytes("foob")) == "Zm9vYg==")
    }

    @Test func controlFramesBetweenFragmentsAndByteByByteFeeding() throws {
        let key: [UInt8] = [1, 2, 3, 4]
        let wire =
            encodeFrame(opcode: .binary, payload: [1, 2], fin: false, maskKey: key)
            + encodeFrame(opcode: .ping, payload: bytes("p"), maskKey: key)
            + encodeFrame(opcode: .continuation, payload: [3], fin: false, maskKey: key)
            + encodeFrame(opcode: .continuation, payload: [4, 5], maskKey: key)
            + encodeFrame(opcode: .text, payload: bytes("é✓"), maskKey: key)
            + encodeFrame(opcode: .close, payload: closePayload(code: 1000, reason: "bye"), maskKey: key)
        let expected: [WebSocketEvent] = [
            .ping(bytes("p")), .message(.binary([1, 2, 3, 4, 5])), .message(.text("é✓")),
            .close(WebSocketClose(code: 1000, reason: "bye")),
        ]
        #expect(try events(wire, fromClient: true) == expected)
        #expect(try events(wire, fromClient: true, byteByByte: true) == expected)
    }

    /// Frames straddle the points where the shared input buffer drops what it consumed: a header or a
    /// payload split across a compaction must come out whole.
    @Test func framesAcrossBufferCompactionsComeOutWholeAndInOrder() throws {
        let key: [UInt8] = [9, 8, 7, 6]
        let payloads: [[UInt8]] = (0..<400).map { i in (0..<(i * 37 % 300)).map { UInt8(truncatingIfNeeded: $0 &+ i) } }
        var wire: [UInt8] = []
        for payload in payloads { wire += encodeFrame(opcode: .binary, payload: payload, maskKey: key) }
        var parser = WebSocketParser(expectsMaskedFrames: true)
        var out: [WebSocketEvent] = []
        var at = 0
        for step in [7, 13, 4096, 1, 5000].cycled(until: wire.count) {
            let end = min(wire.count, at + step)
            parser.feed(wire[at..<end])
            at = end
            while let event = try parser.next() { out.append(event) }
        }
        #expect(out == payloads.map { .message(.binary($0)) })
    }

    @Test func inputBufferPeeksWithoutConsuming() {
        var buffer = InputBuffer()
        buffer.append(contentsOf: [1, 2, 3, 4, 5])
        #expect(buffer[0] == 1 && buffer[4] == 5)
        #expect(buffer.peek(1..<3) == [2, 3])
        #expect(buffer.count == 5)
        buffer.skip(2)
        #expect(buffer[0] == 3)
        #expect(buffer.take(10) == [3, 4, 5])
        #expect(buffer.isEmpty)
    }

    @Test func emptyMessagesAndCloseWithoutStatus() throws {
        let wire =
            encodeFrame(opcode: .text, payload: []) + encodeFrame(opcode: .binary, payload: [])
            + encodeFrame(opcode: .close, payload: [])
        #expect(try events(wire) == [.message(.text("")), .message(.binary([])), .close(nil)])
    }

    @Test func messagesOverTheLimitAreRefusedWith1009() {
        let limit = 1000
        let exact = encodeFrame(opcode: .binary, payload: [UInt8](repeating: 1, count: limit))
        #expect(failure(exact, maxMessageBytes: limit) == nil)
        // Refused from the header alone: the 1001 payload bytes never arrive.
        let over = Array(encodeFrame(opcode: .binary, payload: [UInt8](repeating: 1, count: limit + 1)).prefix(4))
        #expect(failure(over, maxMessageBytes: limit) == .messageTooBig(limit: limit))
        let fragmented =
            encodeFrame(opcode: .text, payload: [UInt8](repeating: 0x61, count: 600), fin: false)
            + encodeFrame(opcode: .continuation, payload: [UInt8](repeating: 0x61, count: 401))
        let error = failure(fragmented, maxMessageBytes: limit)
        #expect(error == .messageTooBig(limit: limit))
        #expect(error?.closeCode == 1009)
        let huge: [UInt8] = [0x82, 0x7F, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]
        #expect(failure(huge) == .messageTooBig(limit: 16 << 20))
    }

    @Test(
        arguments: [
            ("reserved bit", [0xC1, 0x00], false),
            ("unknown opcode", [0x83, 0x00], false),
            ("unknown control opcode", [0x8B, 0x00], false),
            ("unmasked client frame", [0x81, 0x01, 0x61], true),
            ("masked server frame", [0x81, 0x81, 1, 2, 3, 4, 0x60], false),
            ("control frame over 125 bytes", [0x89, 0x7E, 0x00, 0x7E] + [UInt8](repeating: 0, count: 126), false),
            ("fragmented control frame", [0x09, 0x00], false),
            ("16-bit length under 126", [0x82, 0x7E, 0x00, 0x05, 1, 2, 3, 4, 5], false),
            ("64-bit length under 65536", [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0x01, 0x00], false),
            ("64-bit length with the high bit", [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], false),
            ("continuation without a message", [0x80, 0x01, 0x61], false),
            ("new message inside a fragmented one", [0x01, 0x01, 0x61, 0x81, 0x01, 0x62], false),
            ("close with a one-byte payload", [0x88, 0x01, 0x03], false),
            ("close with reserved code 1005", [0x88, 0x02, 0x03, 0xED], false),
            ("close with code 999", [0x88, 0x02, 0x03, 0xE7], false),
            ("close with unassigned code 2000", [0x88, 0x02, 0x07, 0xD0], false),
        ] as [(String, [UInt8], Bool)])
    func protocolErrorsCloseWith1002(name: String, wire: [UInt8], fromClient: Bool) {
        let error = failure(wire, fromClient: fromClient)
        guard case .protocolViolation = error else {
            Issue.record("\(name): expected a protocol violation, got \(String(describing: error))")
            return
        }
        #expect(error?.closeCode == 1002, "\(name)")
    }

    @Test func invalidUTF8ClosesWith1007() {
        #expect(failure([0x81, 0x02, 0xC3, 0x28]) == .invalidUTF8)
        #expect(failure([0x88, 0x04, 0x03, 0xE8, 0xFF, 0xFE]) == .invalidUTF8)
        // A character split across fragments is fine; only the whole message must be UTF-8.
        #expect(failure([0x01, 0x01, 0xC3, 0x80, 0x01, 0xA9]) == nil)
        #expect(WebSocketError.invalidUTF8.closeCode == 1007)
    }

    @Test func theParserStaysFailed() throws {
        var parser = WebSocketParser(expectsMaskedFrames: false)
        parser.feed([0xC1, 0x00] + encodeFrame(opcode: .text, payload: hello))
        #expect(throws: WebSocketError.protocolViolation("reserved bits set")) { try parser.next() }
        #expect(throws: WebSocketError.protocolViolation("reserved bits set")) { try parser.next() }
    }

    @Test func closePayloads() throws {
        #expect(closePayload(code: 1000, reason: "bye") == [0x03, 0xE8] + bytes("bye"))
        #expect(closePayload(code: 1005, reason: "") == [0x03, 0xE8])
        let long = closePayload(code: 4000, reason: String(repeating: "é", count: 100))
        #expect(long.count == 2 + 122)
        #expect(try parseClosePayload(long)?.reason == String(repeating: "é", count: 61))
        #expect(try parseClosePayload([]) == nil)
        #expect(try parseClosePayload([0x0F, 0xA0, 0x68]) == WebSocketClose(code: 4000, reason: "h"))
    }

    @Test func maskingMatchesTheBytewiseDefinition() {
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        for count in 0..<40 {
            let original = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            for start in [0, min(3, count)] {
                var masked = original
                applyMask(&masked, from: start, key: key)
                let expected = original.enumerated().map { $0 < start ? $1 : $1 ^ key[($0 - start) % 4] }
                #expect(masked == expected, "count \(count) start \(start)")
            }
        }
        #expect(randomMaskKey().count == 4)
    }

    @Test func handshakeRequestValidation() {
        let valid: HTTPHeaders = [
            ("Host", "x"), ("Upgrade", "WebSocket"), ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]
        #expect(HTTPRequest(method: "GET", target: "/ws", headers: valid).isWebSocketUpgrade)
        #expect(!HTTPRequest(method: "POST", target: "/ws", headers: valid).isWebSocketUpgrade)
        #expect(!HTTPRequest(method: "GET", target: "/ws", version: .http1_0, headers: valid).isWebSocketUpgrade)
        for (name, value) in [
            ("Upgrade", "h2c"), ("Connection", "close"), ("Sec-WebSocket-Version", "8"), ("Sec-WebSocket-Key", "short=="),
        ] {
            var headers = valid
            headers.set(name, value)
            #expect(!HTTPRequest(method: "GET", target: "/ws", headers: headers).isWebSocketUpgrade, "\(name): \(value)")
            headers.remove(name)
            #expect(!HTTPRequest(method: "GET", target: "/ws", headers: headers).isWebSocketUpgrade, "no \(name)")
        }
    }

    @Test func handshakeAnswerVerification() throws {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let good: HTTPHeaders = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ]
        try verifyHandshake(good, key: key, offered: [])
        var wrong = good
        wrong.set("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        #expect(throws: WebSocketError.handshake("Sec-WebSocket-Accept does not match the key")) {
            try verifyHandshake(wrong, key: key, offered: [])
        }
        var extended = good
        extended.add("Sec-WebSocket-Extensions", "permessage-deflate")
        #expect(throws: WebSocketError.self) { try verifyHandshake(extended, key: key, offered: []) }
        var chosen = good
        chosen.add("Sec-WebSocket-Protocol", "shell")
        try verifyHandshake(chosen, key: key, offered: ["shell"])
        #expect(throws: WebSocketError.self) { try verifyHandshake(chosen, key: key, offered: []) }
        let head = string(HTTPResponse.webSocketAcceptHead(headers: ["Sec-WebSocket-Protocol": "shell"], key: key))
        #expect(
            head
                == "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Protocol: shell\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: Upgrade\r\n\r\n"
        )
    }
}

extension Array where Element == Int {
    /// The steps, repeated, until they add up to at least `total`.
    fileprivate func cycled(until total: Int) -> [Int] {
        var out: [Int] = []
        var sum = 0
        while sum < total, !isEmpty {
            for step in self where sum < total {
                out.append(step)
                sum += step
            }
        }
        return out
    }
}
