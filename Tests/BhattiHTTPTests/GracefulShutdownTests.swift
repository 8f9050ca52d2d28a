import BhattiSystem
import Synchronization
import Testing

@testable import BhattiHTTP

/// A gate async handlers wait at (without blocking a pool thread) until the test opens it.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A kept-alive connection that has had one exchange; the server closing it shows a drain has begun.
private func idleConnection(_ endpoint: HTTPEndpoint) throws -> RawConnection {
    let connection = try RawConnection(endpoint)
    try connection.send("GET /idle HTTP/1.1\r\n\r\n")
    _ = try connection.readResponse()
    return connection
}

/// Sends one request and reads the answer on its own thread; nil status when the connection failed.
private func backgroundRequest(_ endpoint: HTTPEndpoint, path: String) -> Background<Result<HTTPClientResponse, HTTPClientError>> {
    Background {
        do throws(HTTPClientError) {
            return .success(try HTTPClient(endpoint: endpoint).send(method: "GET", path: path))
        } catch {
            return .failure(error)
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct GracefulShutdownTests {
    @Test func inFlightRequestsFinishWhileNewConnectionsAreRefused() async throws {
        let entered = Signal()
        let gate = Gate()
        let handler = ClosureHandler { request in
            guard request.path == "/slow" else { return .text("quick") }
            entered.fire()
            await gate.wait()
            return .text("finished after the drain began")
        }
        let (server, endpoint) = try unixServer(handler)
        let result = try await offPool {
            () -> (
                idleClosed: Bool, refusal: HTTPClientError?, openDuring: Int,
                answer: Result<HTTPClientResponse, HTTPClientError>?, shutdown: Task<Void, Never>
            ) in
            let idle = try idleConnection(endpoint)
            defer { idle.close() }
            let client = backgroundRequest(endpoint, path: "/slow")
            #expect(entered.wait())
            // A grace period no test outlives: the drain must end when the request does, and the
            // suite's time limit turns a drain that waits out the grace period into a failure.
            let shutdown = Task { await server.shutdown(gracePeriod: .seconds(3600)) }
            let idleClosed = idle.isClosedByPeer()
            var refusal: HTTPClientError?
            do throws(HTTPClientError) {
                _ = try HTTPClient(endpoint: endpoint).send(method: "GET", path: "/late")
            } catch {
                refusal = error
            }
            let openDuring = server.connectionCount
            gate.open()
            return (idleClosed, refusal, openDuring, client.result(), shutdown)
        }
        #expect(result.idleClosed)
        #expect(result.refusal == .connect(.noEntry))
        #expect(result.openDuring == 1)
        let response = try #require(try result.answer?.get())
        #expect(response.status == 200)
        #expect(response.text == "finished after the drain began")
        #expect(response.headers["Connection"] == "close")
        await result.shutdown.value
        #expect(server.connectionCount == 0)
        #expect(throws: Errno.invalid) { try server.listen(host: "127.0.0.1", port: 0) }
    }

    @Test func aHandlerThatOutlivesTheGracePeriodIsCancelled() async throws {
        let entered = Signal()
        let cancelled = Signal()
        let handler = ClosureHandler { _ in
            entered.fire()
            // Longer than any test runs: only the cancellation ends it.
            try? await Task.sleep(for: .seconds(3600))
            if Task.isCancelled { cancelled.fire() }
            return .text("too late")
        }
        let (server, endpoint) = try tcpServer(handler)
        let client = try await offPool { () -> Background<Result<HTTPClientResponse, HTTPClientError>> in
            let client = backgroundRequest(endpoint, path: "/forever")
            #expect(entered.wait())
            return client
        }
        // The drain returning at all shows it did not wait for the handler (the suite's time limit
        // turns that into a failure); not before the grace period, since a timer never fires early.
        let took = await ContinuousClock().measure { await server.shutdown(gracePeriod: .milliseconds(300)) }
        #expect(took >= .milliseconds(300))
        let (wasCancelled, answer) = try await offPool { (cancelled.wait(), client.result()) }
        #expect(wasCancelled)
        guard case .failure(let error) = answer else {
            Issue.record("expected the connection to close, got \(String(describing: answer))")
            return
        }
        #expect(error == .closed)
    }

    @Test func aStreamUnderWayFinishesAndItsConnectionCloses() async throws {
        let gate = Gate()
        let handler = ClosureHandler { request in
            guard request.path == "/stream" else { return .text("quick") }
            return .stream(
                ResponseStream { stream in
                    stream.write("1\n")
                    await gate.wait()
                    stream.write("2\n")
                })
        }
        let (server, endpoint) = try unixServer(handler)
        let result = try await offPool {
            () -> (first: String, idleClosed: Bool, rest: String, closed: Bool, shutdown: Task<Void, Never>) in
            let idle = try idleConnection(endpoint)
            defer { idle.close() }
            let streaming = try RawConnection(endpoint)
            defer { streaming.close() }
            try streaming.send("GET /stream HTTP/1.1\r\n\r\n")
            let first = string(try streaming.read { string($0).contains("1\n") })
            // A grace period no test outlives: a loaded machine may take long to see the idle close.
            let shutdown = Task { await server.shutdown(gracePeriod: .seconds(3600)) }
            let idleClosed = idle.isClosedByPeer()
            gate.open()
            let rest = string(try streaming.read { string($0).hasSuffix("0\r\n\r\n") })
            return (first, idleClosed, rest, streaming.isClosedByPeer(), shutdown)
        }
        #expect(result.first.contains("Connection: keep-alive"))
        #expect(result.idleClosed)
        #expect(result.rest.contains("2\n"))
        #expect(result.rest.hasSuffix("0\r\n\r\n"))
        #expect(result.closed)
        await result.shutdown.value
        #expect(server.connectionCount == 0)
    }

    @Test func webSocketsAreAskedToGoAway() async throws {
        let log = HandlerLog()
        let (server, endpoint) = try unixServer(webSocketRoutes(log: log))
        let socket = try await connectWebSocket(endpoint, path: "/echo")
        try socket.send(text: "a")
        #expect(try await nextMessage(socket) == .text("a"))
        // As above: the drain ends with the socket's close, not with the grace period.
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(3600)) }
        let (_, error) = await drain(socket)
        #expect(error == nil)
        #expect(socket.closeStatus?.code == WebSocketCloseCode.goingAway)
        #expect(try await offPool { log.first() } == .some(nil))
        await shutdown.value
    }
}
