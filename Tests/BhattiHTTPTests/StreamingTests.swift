import BhattiSystem
import Glibc
import Testing

@testable import BhattiHTTP

@Suite struct StreamingTests {
    @Test func chunksReachTheClientBeforeTheProducerFinishes() async throws {
        let sawFirstChunk = Signal()
        let producerFinished = Shared(false)
        let handler = ClosureHandler { _ in
            let stream = ResponseStream()
            startThread(name: "test-producer") {
                stream.write("{\"line\":1}\n")
                // Only a client that already received line 1 releases line 2; a buffering server would
                // make this wait time out and the body would say so.
                let released = sawFirstChunk.wait()
                stream.write(released ? "{\"line\":2}\n" : "{\"timeout\":true}\n")
                producerFinished.update { $0 = true }
                stream.finish()
            }
            return .stream(stream)
        }
        let (server, endpoint) = try unixServer(handler)
        defer { server.shutdown() }
        let result = try await offPool { () -> (HTTPClientResponse, [String], Bool) in
            var chunks: [String] = []
            var finishedAtFirstChunk = true
            var framing: String?
            let response = try HTTPClient(endpoint: endpoint).stream(
                method: "GET", path: "/exec",
                onHead: { _, headers in framing = headers["Transfer-Encoding"] },
                onChunk: { chunk in
                    if chunks.isEmpty {
                        finishedAtFirstChunk = producerFinished.current
                        sawFirstChunk.fire()
                    }
                    chunks.append(string(chunk))
                })
            #expect(framing == "chunked")
            return (response, chunks, finishedAtFirstChunk)
        }
        #expect(result.0.status == 200)
        #expect(result.0.headers["Content-Type"] == "application/x-ndjson")
        #expect(result.1.joined() == "{\"line\":1}\n{\"line\":2}\n")
        #expect(result.1.first == "{\"line\":1}\n")
        #expect(!result.2)
    }

    @Test func producerClosuresRunAndFinishTheStream() async throws {
        let handler = ClosureHandler { request in
            .stream(
                ResponseStream { stream in
                    for i in 0..<3 { stream.write("\(i) \(request.path)\n") }
                })
        }
        let (server, endpoint) = try tcpServer(handler)
        defer { server.shutdown() }
        let response = try await offPool { try HTTPClient(endpoint: endpoint).send(method: "GET", path: "/p") }
        #expect(response.text == "0 /p\n1 /p\n2 /p\n")
    }

    @Test func streamsKeepTheConnectionAlive() async throws {
        let handler = ClosureHandler { _ in
            let stream = ResponseStream()
            stream.write("a")
            stream.write("b")
            stream.finish()
            return .stream(stream)
        }
        let (server, endpoint) = try unixServer(handler)
        defer { server.shutdown() }
        let bodies = try await offPool { () -> [String] in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            return try (0..<2).map { _ in
                try connection.send("GET /s HTTP/1.1\r\n\r\n")
                return try connection.readResponse().text
            }
        }
        #expect(bodies == ["ab", "ab"])
    }

    @Test func clientDisconnectMakesWriteReturnFalse() async throws {
        let outcome = Shared<(stoppedByFalse: Bool, cancelled: Bool)?>(nil)
        let done = Signal()
        let handler = ClosureHandler { _ in
            let stream = ResponseStream()
            startThread(name: "test-producer") {
                // Until refused: a stream that never notices the disconnect writes on past the test's wait.
                var accepted = true
                for _ in 0..<(hangMilliseconds / 5) where accepted {
                    accepted = stream.write("tick\n")
                    usleep(5_000)
                }
                outcome.update { $0 = (!accepted, stream.isCancelled) }
                done.fire()
            }
            return .stream(stream)
        }
        let (server, endpoint) = try unixServer(handler)
        defer { server.shutdown() }
        let stopped = try await offPool { () -> Bool in
            let connection = try RawConnection(endpoint)
            try connection.send("GET /follow HTTP/1.1\r\n\r\n")
            _ = try connection.read { string($0).contains("tick") }
            connection.close()
            return done.wait()
        }
        #expect(stopped)
        #expect(outcome.current?.stoppedByFalse == true)
        #expect(outcome.current?.cancelled == true)
    }

    @Test func quietStreamsNoticeTheDisconnectToo() async throws {
        let cancelled = Signal()
        let stream = ResponseStream()
        let handler = ClosureHandler { _ in
            stream.write("started\n")
            stream.onCancel { cancelled.fire() }
            return .stream(stream)
        }
        let (server, endpoint) = try tcpServer(handler)
        defer { server.shutdown() }
        let fired = try await offPool { () -> Bool in
            let connection = try RawConnection(endpoint)
            try connection.send("GET /quiet HTTP/1.1\r\n\r\n")
            _ = try connection.read { string($0).contains("started") }
            connection.close()
            return cancelled.wait()
        }
        #expect(fired)
        #expect(stream.isCancelled)
        #expect(!stream.write("more"))
    }

    @Test func http10StreamsRunUntilClose() async throws {
        let handler = ClosureHandler { _ in
            .stream(
                ResponseStream { stream in
                    stream.write("one\n")
                    stream.write("two\n")
                })
        }
        let (server, endpoint) = try unixServer(handler)
        defer { server.shutdown() }
        let wire = try await offPool { () -> String in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("GET /s HTTP/1.0\r\n\r\n")
            return string(try connection.read())
        }
        #expect(wire.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(!wire.contains("Transfer-Encoding"))
        #expect(wire.contains("Connection: close\r\n"))
        #expect(wire.hasSuffix("\r\n\r\none\ntwo\n"))
    }

    @Test func shutdownCancelsOpenStreams() async throws {
        let stream = ResponseStream()
        let cancelled = Signal()
        stream.onCancel { cancelled.fire() }
        let (server, endpoint) = try unixServer(
            ClosureHandler { _ in
                stream.write("x")
                return .stream(stream)
            })
        let fired = try await offPool { () -> Bool in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send("GET / HTTP/1.1\r\n\r\n")
            _ = try connection.read { string($0).contains("\r\n1\r\nx\r\n") }
            server.shutdown()
            return cancelled.wait() && connection.isClosedByPeer()
        }
        #expect(fired)
    }

    @Test func streamUnitBehaviour() {
        let stream = ResponseStream()
        #expect(stream.next(timeoutMilliseconds: 1) == .idle)
        #expect(stream.write("a"))
        #expect(stream.write([]))
        #expect(stream.write("b"))
        #expect(stream.pendingBytes == 2)
        #expect(stream.next(timeoutMilliseconds: 1) == .data(bytes("ab")))
        // What is queued when the producer has finished is the last of it, to go out with the end.
        let short = ResponseStream()
        short.write("x")
        short.write("y")
        short.finish()
        #expect(short.next(timeoutMilliseconds: 1) == .last(bytes("xy")))
        #expect(short.next(timeoutMilliseconds: 1) == .finished)
        stream.finish()
        #expect(!stream.write("late"))
        #expect(stream.next(timeoutMilliseconds: 1) == .finished)
        stream.cancel()
        #expect(stream.next(timeoutMilliseconds: 1) == .cancelled)
        var ran = false
        stream.onCancel {}
        ran = stream.isCancelled
        #expect(ran)
    }
}
