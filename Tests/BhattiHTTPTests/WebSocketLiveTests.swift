import BhattiSystem
import Testing

@testable import BhattiHTTP

/// Our client against our server: echo, a 1 MiB message, then a normal close.
private func exerciseEcho(_ endpoint: HTTPEndpoint, log: HandlerLog) async throws {
    let socket = try await connectWebSocket(endpoint, path: "/echo")
    try socket.send(text: "hi ✓")
    #expect(try await nextMessage(socket) == .text("hi ✓"))
    try socket.send(binary: [0, 1, 2, 255])
    #expect(try await nextMessage(socket) == .binary([0, 1, 2, 255]))
    let big = pattern(1 << 20)
    // A large send blocks until the peer has read most of it: off the pool.
    try await offPool { try socket.send(binary: big) }
    #expect(try await nextMessage(socket) == .binary(big))
    try socket.ping(bytes("are you there"))
    try socket.send(text: "")
    #expect(try await nextMessage(socket) == .text(""))
    socket.close()
    #expect(throws: WebSocketError.notOpen) { try socket.send(text: "late") }
    let (rest, error) = await drain(socket)
    #expect(rest.isEmpty && error == nil)
    #expect(socket.closeStatus == WebSocketClose(code: 1000))
    #expect(try await offPool { log.first() } == .some(nil))
}

@Suite(.timeLimit(.minutes(10))) struct WebSocketLiveTests {
    @Test func echoOverUnixSocket() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try unixServer(webSocketRoutes(log: log))
        defer { server.shutdown() }
        try await exerciseEcho(endpoint, log: log)
    }

    @Test func echoOverTCP() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try tcpServer(webSocketRoutes(log: log))
        defer { server.shutdown() }
        try await exerciseEcho(endpoint, log: log)
    }

    @Test func serverCloseCodeReachesTheClient() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try unixServer(webSocketRoutes(log: log))
        defer { server.shutdown() }
        let socket = try await connectWebSocket(endpoint, path: "/close/4001")
        try socket.send(text: "x")
        let (messages, error) = await drain(socket)
        #expect(messages.isEmpty)
        #expect(error == .closed(WebSocketClose(code: 4001, reason: "bye")))
        #expect(socket.closeStatus == WebSocketClose(code: 4001, reason: "bye"))
        // The server's stream ends with the echo of its own code.
        #expect(try await offPool { log.first() } == .some(.closed(WebSocketClose(code: 4001))))
    }

    @Test func clientCloseCodeReachesTheServer() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try tcpServer(webSocketRoutes(log: log))
        defer { server.shutdown() }
        let socket = try await connectWebSocket(endpoint, path: "/echo")
        socket.close(code: 4002, reason: "done")
        _ = await drain(socket)
        #expect(try await offPool { log.first() } == .some(.closed(WebSocketClose(code: 4002, reason: "done"))))
    }

    @Test func aHandlerThatReturnsClosesNormally() async throws {
        let (server, endpoint) = try unixServer(webSocketRoutes())
        defer { server.shutdown() }
        let socket = try await connectWebSocket(endpoint, path: "/bye")
        let (messages, error) = await drain(socket)
        #expect(messages == [.text("bye")])
        #expect(error == nil)
        #expect(socket.closeStatus == WebSocketClose(code: 1000))
    }

    @Test func pingsAreAnsweredAndCloseIsEchoed() async throws {
        let (server, endpoint) = try unixServer(webSocketRoutes())
        defer { server.shutdown() }
        let (pong, closing) = try await offPool { () -> ([UInt8], [UInt8]) in
            let (connection, early) = try rawWebSocket(endpoint, path: "/echo")
            defer { connection.close() }
            #expect(early.isEmpty)
            let key: [UInt8] = [9, 8, 7, 6]
            try connection.fd.writeAll(encodeFrame(opcode: .ping, payload: bytes("abc"), maskKey: key))
            let pong = try connection.read { $0.count >= 5 }
            try connection.fd.writeAll(encodeFrame(opcode: .close, payload: closePayload(code: 1000, reason: "ok"), maskKey: key))
            // The server echoes the code and closes the TCP connection first.
            return (pong, try connection.read())
        }
        #expect(pong == [0x8A, 0x03] + bytes("abc"))
        #expect(closing == [0x88, 0x02, 0x03, 0xE8])
    }

    @Test func protocolErrorsCloseWith1002() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try tcpServer(webSocketRoutes(log: log))
        defer { server.shutdown() }
        let received = try await offPool { () -> [UInt8] in
            let (connection, _) = try rawWebSocket(endpoint, path: "/echo")
            defer { connection.close() }
            try connection.fd.writeAll(encodeFrame(opcode: .text, payload: bytes("unmasked")))
            return try connection.read()
        }
        let error = WebSocketError.protocolViolation("unmasked frame from the client")
        #expect(serverEvents(received) == [.close(WebSocketClose(code: 1002, reason: error.description))])
        #expect(try await offPool { log.first() } == .some(error))
    }

    @Test func oversizedMessagesCloseWith1009() async throws {
        let (server, endpoint) = try unixServer(webSocketRoutes(options: WebSocketOptions(maxMessageBytes: 1024)))
        defer { server.shutdown() }
        let socket = try await connectWebSocket(endpoint, path: "/echo")
        try socket.send(binary: pattern(1024))
        #expect(try await nextMessage(socket) == .binary(pattern(1024)))
        try socket.send(binary: pattern(1025))
        let (messages, error) = await drain(socket)
        #expect(messages.isEmpty)
        #expect(error == .closed(WebSocketClose(code: 1009, reason: "message larger than 1024 bytes")))
    }

    @Test func keepalivePingsKeepAnIdleConnectionOpen() async throws {
        // The server pings after an interval of quiet and gives up after three without a byte. This
        // client says nothing but the pong to each ping: the fourth ping comes more than a whole timeout
        // window after the client last spoke, so counting pings (not sleeping) shows the pongs kept it
        // open. 500 ms leaves a loaded machine two intervals to get each pong out.
        let fast = WebSocketOptions(pingInterval: .milliseconds(500))
        let (server, endpoint) = try unixServer(webSocketRoutes(options: fast))
        defer { server.shutdown() }
        let (pings, answer) = try await offPool { () -> (Int, WebSocketEvent?) in
            let (connection, early) = try rawWebSocket(endpoint, path: "/echo")
            defer { connection.close() }
            var parser = WebSocketParser(expectsMaskedFrames: false)
            parser.feed(early)
            func next() throws -> WebSocketEvent? {
                while true {
                    if let event = try parser.next() { return event }
                    let chunk = try connection.fd.read(upTo: 65536)
                    if chunk.isEmpty { return nil }
                    parser.feed(chunk)
                }
            }
            let mask: [UInt8] = [1, 2, 3, 4]
            var pings = 0
            var answer: WebSocketEvent?
            while answer == nil, let event = try next() {
                switch event {
                case .ping(let payload):
                    pings += 1
                    try connection.fd.writeAll(encodeFrame(opcode: .pong, payload: payload, maskKey: mask))
                    if pings == 4 { try connection.fd.writeAll(encodeFrame(opcode: .text, payload: bytes("still here"), maskKey: mask)) }
                default:
                    answer = event
                }
            }
            return (pings, answer)
        }
        #expect(pings >= 4)
        #expect(answer == .message(.text("still here")))
    }

    @Test func aSilentPeerIsClosedAfterThreeIntervals() async throws {
        let log = HandlerLog()
        let fast = WebSocketOptions(pingInterval: .milliseconds(50))
        let (server, endpoint) = try tcpServer(webSocketRoutes(options: fast, log: log))
        defer { server.shutdown() }
        let received = try await offPool { () -> [UInt8] in
            let (connection, early) = try rawWebSocket(endpoint, path: "/echo")
            defer { connection.close() }
            // Read everything until the server drops the connection, answering nothing.
            return early + (try connection.read())
        }
        let events = serverEvents(received)
        #expect(events.first == .ping([]))
        #expect(events.last == .close(WebSocketClose(code: 1011, reason: "keepalive timeout")))
        #expect(try await offPool { log.first() } == .some(.timedOut))
    }

    @Test func concurrentSendersNeverInterleaveFrames() async throws {
        let (server, endpoint) = try unixServer(webSocketRoutes())
        defer { server.shutdown() }
        let socket = try await connectWebSocket(endpoint, path: "/echo")
        try await offPool {
            let senders = (0..<4).map { sender in
                Background { () -> Bool in
                    (0..<25).allSatisfy { _ in (try? socket.send(binary: [UInt8](repeating: UInt8(sender), count: 20_000))) != nil }
                }
            }
            #expect(senders.allSatisfy { $0.result() == true })
        }
        var counts = [Int](repeating: 0, count: 4)
        for try await message in socket.messages {
            guard case .binary(let data) = message, let first = data.first, data.count == 20_000,
                data.allSatisfy({ $0 == first })
            else {
                Issue.record("a message was torn")
                break
            }
            counts[Int(first)] += 1
            if counts.reduce(0, +) == 100 { break }
        }
        #expect(counts == [25, 25, 25, 25])
        socket.close()
    }

    @Test func nonUpgradeRequestsGet400() async throws {
        let (server, endpoint) = try tcpServer(webSocketRoutes())
        defer { server.shutdown() }
        let response = try await offPool { try HTTPClient(endpoint: endpoint).send(method: "GET", path: "/echo") }
        #expect(response.status == 400)
        #expect(response.headers["Sec-WebSocket-Version"] == "13")
        #expect(response.text == #"{"error":{"code":"bad_request","message":"not a WebSocket upgrade: missing Upgrade: websocket"}}"#)
        let refused = await #expect(throws: WebSocketError.self) { try await connectWebSocket(endpoint, path: "/missing") }
        guard case .rejected(let status, _, let body) = refused else {
            Issue.record("expected a refusal, got \(String(describing: refused))")
            return
        }
        #expect(status == 404 && string(body) == "no route")
    }

    @Test func serverShutdownEndsTheStream() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try unixServer(webSocketRoutes(log: log))
        let socket = try await connectWebSocket(endpoint, path: "/echo")
        try socket.send(text: "a")
        #expect(try await nextMessage(socket) == .text("a"))
        server.shutdown()
        let (_, error) = await drain(socket)
        #expect(error == .abnormalClosure)
        // The handler returns: its task is cancelled (ending its stream) as the socket shuts down.
        #expect(try await offPool { log.first() } != .none)
    }
}
