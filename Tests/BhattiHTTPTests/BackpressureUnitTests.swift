import BhattiSystem
import Dispatch
import Synchronization
import Testing

@testable import BhattiHTTP

/// The HTTP layer's half of backpressure: a streamed response's producer waits while the client is
/// not taking the stream, and a WebSocket stops reading its socket while the consumer is behind.
@Suite("HTTP backpressure", .timeLimit(.minutes(10)))
struct BackpressureUnitTests {
    /// Polls `condition` every 5 ms; the deadline (the suite's hang deadline) only turns a hang into a failure.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let giveUp = ContinuousClock.now + .milliseconds(hangMilliseconds)
        while ContinuousClock.now < giveUp {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    @Test("send waits while more than highWater is queued, and goes on when the connection takes the queue")
    func sendWaitsForTheConnection() async throws {
        let stream = ResponseStream(highWater: 100)
        let returned = Atomic<Int>(0)
        let producer = Task {
            for _ in 0..<3 {
                #expect(await stream.send([UInt8](repeating: 1, count: 60)))
                returned.add(1, ordering: .sequentiallyConsistent)
            }
        }
        // 60 fits; 120 is over the mark: the second send waits with both chunks queued.
        #expect(try await Self.eventually { stream.waitingProducers == 1 })
        #expect(returned.load(ordering: .sequentiallyConsistent) == 1)
        #expect(stream.pendingBytes == 120)
        // The connection takes the queue (as its thread does once the socket has room): the producer goes on.
        #expect(stream.next(timeoutMilliseconds: 0) == .data([UInt8](repeating: 1, count: 120)))
        await producer.value
        #expect(returned.load(ordering: .sequentiallyConsistent) == 3)
        #expect(stream.pendingBytes == 60)
    }

    @Test("a waiting send returns false when the client goes away")
    func cancelEndsTheWait() async throws {
        let stream = ResponseStream(highWater: 10)
        let producer = Task { await stream.send([UInt8](repeating: 2, count: 11)) }
        #expect(try await Self.eventually { stream.waitingProducers == 1 })
        stream.cancel()
        #expect(await producer.value == false)
        #expect(stream.pendingBytes == 0)
    }

    @Test("a WebSocket stops reading past maxQueuedBytes, resumes as messages are taken, and delivers all in order")
    func webSocketReaderPauses() async throws {
        let (serverFD, clientFD) = try Pipe.socketPair()
        defer { clientFD.close() }
        let limit = 64 << 10
        let socket = WebSocket(fd: serverFD, role: .server, options: WebSocketOptions(pingInterval: nil, maxQueuedBytes: limit))
        startThread(name: "test-ws-reader") { socket.run() }
        let count = 200
        let size = 16 << 10
        let written = Atomic<Int>(0)
        startThread(name: "test-ws-writer") {
            for i in 0..<count {
                let payload = [UInt8](repeating: UInt8(i % 251), count: size)
                guard (try? clientFD.writeAll(encodeFrame(opcode: .binary, payload: payload, maskKey: randomMaskKey()))) != nil else {
                    return
                }
                written.add(1, ordering: .sequentiallyConsistent)
            }
        }
        // Nothing taken yet: the reader fills the queue to the mark and stops there; the rest (3 MiB)
        // stays with the writer, which the kernel's buffers block.
        #expect(try await Self.eventually { socket.queuedBytes >= limit })
        var most = 0
        var received: [WebSocketMessage] = []
        var iterator = socket.messages.makeAsyncIterator()
        while received.count < count, let message = try await iterator.next() {
            most = max(most, socket.queuedBytes)
            received.append(message)
        }
        #expect(most <= limit + size, "\(most) bytes were queued")
        #expect(written.load(ordering: .sequentiallyConsistent) == count)
        #expect(received == (0..<count).map { .binary([UInt8](repeating: UInt8($0 % 251), count: size)) })
        socket.close()
    }

    @Test("a peer that hangs up while the reader is paused ends the connection")
    func hangUpWhilePaused() async throws {
        let (serverFD, clientFD) = try Pipe.socketPair()
        let socket = WebSocket(fd: serverFD, role: .server, options: WebSocketOptions(pingInterval: nil, maxQueuedBytes: 1024))
        startThread(name: "test-ws-reader") { socket.run() }
        let frame = encodeFrame(opcode: .binary, payload: [UInt8](repeating: 7, count: 4096), maskKey: randomMaskKey())
        for _ in 0..<4 { try clientFD.writeAll(frame) }
        #expect(try await Self.eventually { socket.queuedBytes >= 1024 })
        clientFD.close()
        // Returns only once the reader saw the hang-up behind the unread frames.
        await socket.waitUntilEnded()
        socket.close()
    }

    @Test("while the reader is paused it keeps pinging the peer, and the peer's unread silence is not a keepalive timeout")
    func pingsWhilePaused() async throws {
        let (serverFD, clientFD) = try Pipe.socketPair()
        defer { clientFD.close() }
        let socket = WebSocket(
            fd: serverFD, role: .server, options: WebSocketOptions(pingInterval: .milliseconds(50), maxQueuedBytes: 1024))
        startThread(name: "test-ws-reader") { socket.run() }
        let frame = encodeFrame(opcode: .binary, payload: [UInt8](repeating: 7, count: 4096), maskKey: randomMaskKey())
        for _ in 0..<4 { try clientFD.writeAll(frame) }
        #expect(try await Self.eventually { socket.queuedBytes >= 1024 })
        // Pings keep coming (0x89: FIN + ping) while nothing is read: more than three intervals' worth,
        // past where an unpaused reader would have given up on a silent peer.
        var pings = 0
        var closed: WebSocketClose??
        var parser = WebSocketParser(expectsMaskedFrames: false, maxMessageBytes: 1 << 20)
        while pings < 6, closed == nil {
            let bytes = try clientFD.read(upTo: 4096)
            if bytes.isEmpty { break }
            parser.feed(bytes[...])
            while let event = try parser.next() {
                if case .ping = event { pings += 1 }
                if case .close(let status) = event { closed = status }
            }
        }
        #expect(pings >= 6)
        #expect(closed == nil, "the paused connection was ended: \(String(describing: closed))")
        socket.close()
    }
}
