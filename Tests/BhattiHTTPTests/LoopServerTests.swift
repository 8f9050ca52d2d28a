import BhattiSystem
import Foundation
import Testing

@testable import BhattiHTTP

/// The threads of this process now.
private func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
}

/// `count` bytes of a pattern with a period of 251 (prime, so a dropped or repeated block shows), made
/// quickly: tests build it on the cooperative pool.
private func largeBody(_ count: Int) -> [UInt8] {
    let period = (0..<251).map { UInt8($0) }
    var body: [UInt8] = []
    body.reserveCapacity(count + period.count)
    while body.count < count { body.append(contentsOf: period) }
    return Array(body.prefix(count))
}

/// Polls `condition` every 20 ms until it holds or the wait counts as a hang; whether it came true.
func eventually(milliseconds: Int = hangMilliseconds, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(milliseconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// What the event loop buys: connections that cost no thread, and clients too slow to hold anything up.
@Suite(.timeLimit(.minutes(10))) struct LoopServerTests {
    @Test func manyIdleKeepAliveConnectionsCostNoThreads() async throws {
        // Idle for as long as any run takes to open the rest: a loaded machine took minutes, and the
        // default two-minute idle timeout closed the first connections before the count.
        let (server, endpoint) = try unixServer(limits: HTTPLimits(idleTimeoutMilliseconds: 3_600_000))
        defer { server.shutdown() }
        let count = 300
        let result = try await offPool { () -> (before: Int, during: Int, open: Int, statuses: Set<Int>, answers: [String]) in
            let probe = try RawConnection(endpoint)
            defer { probe.close() }
            // One exchange first, so the loop thread and the handler's pool threads already exist.
            try probe.send("GET /warm HTTP/1.1\r\n\r\n")
            _ = try probe.readResponse()
            let before = threadCount()
            var idle: [RawConnection] = []
            defer { for connection in idle { connection.close() } }
            var statuses: Set<Int> = []
            for i in 0..<count {
                let connection = try RawConnection(endpoint)
                try connection.send("GET /idle/\(i) HTTP/1.1\r\n\r\n")
                statuses.insert(try connection.readResponse().status)
                idle.append(connection)
            }
            let during = threadCount()
            let open = server.connectionCount
            var answers: [String] = []
            for i in 0..<5 {
                try probe.send("GET /busy/\(i) HTTP/1.1\r\n\r\n")
                answers.append(try probe.readResponse().text)
            }
            return (before, during, open, statuses, answers)
        }
        #expect(result.statuses == [200])
        #expect(result.open == count + 1)
        // Thread-per-connection would add `count` or more. The count is the whole test process's, so
        // suites running beside this one add their own threads meanwhile (28 once, from the session
        // tests): half of `count` is the slack, and still far below what a thread per connection costs.
        #expect(result.during - result.before < count / 2, "threads went from \(result.before) to \(result.during)")
        #expect(result.answers == (0..<5).map { "GET /busy/\($0)  " })
    }

    @Test func aHeadThatNeverCompletesIsClosedAfterTheHeaderTimeout() async throws {
        let (server, endpoint) = try tcpServer(limits: HTTPLimits(headerTimeoutMilliseconds: 500))
        defer { server.shutdown() }
        let result = try await offPool { () -> (closed: Bool, idleAnswer: String, open: Int) in
            // Connected but silent: between requests only the (long) idle limit applies.
            let idle = try RawConnection(endpoint)
            defer { idle.close() }
            let slow = try RawConnection(endpoint)
            defer { slow.close() }
            try slow.send("GET / HTTP/1.1\r\nHost: x\r\n")
            // Bytes that keep coming do not extend the head's deadline: a header line every 100 ms
            // until the server closes. A deadline each line pushed back would never come (a hang).
            let giveUp = ContinuousClock.now + .milliseconds(hangMilliseconds)
            while try slow.fd.poll(timeoutMilliseconds: 100) == 0, ContinuousClock.now < giveUp {
                try? slow.send("X-Drip: 1\r\n")
            }
            let closed = slow.isClosedByPeer()
            try idle.send("GET /still-here HTTP/1.1\r\n\r\n")
            return (closed, try idle.readResponse().text, server.connectionCount)
        }
        #expect(result.closed)
        #expect(result.idleAnswer == "GET /still-here  ")
        #expect(result.open == 1)
    }

    @Test func aSlowReaderDoesNotStallOtherConnections() async throws {
        let big = largeBody(4 << 20)
        let handler = ClosureHandler { request in
            request.path == "/big" ? HTTPResponse(status: 200, body: .bytes(big)) : .text("small \(request.path)")
        }
        // The slow reader waits out all twenty answers before it reads again: on a loaded machine that
        // took longer than the default write timeout once, and the server rightly closed it. Only a
        // hang may close it here.
        let (server, endpoint) = try unixServer(handler, limits: HTTPLimits(writeTimeoutMilliseconds: hangMilliseconds))
        defer { server.shutdown() }
        let result = try await offPool { () -> (answers: [String], received: Int, intact: Bool) in
            let slow = try RawConnection(endpoint)
            defer { slow.close() }
            // Far more than the socket buffers hold: once its head arrives, the rest waits in the
            // server for the reader.
            try slow.send("GET /big HTTP/1.1\r\n\r\n")
            let separator: [UInt8] = Array("\r\n\r\n".utf8)
            let first = try slow.read { $0.firstRange(of: separator) != nil }
            let bodySoFar = Array(first[(first.firstRange(of: separator)?.upperBound ?? first.count)...])
            let other = try RawConnection(endpoint)
            defer { other.close() }
            var answers: [String] = []
            for i in 0..<20 {
                try other.send("GET /\(i) HTTP/1.1\r\n\r\n")
                answers.append(try other.readResponse().text)
            }
            let rest = try slow.read { bodySoFar.count + $0.count >= big.count }
            return (answers, bodySoFar.count + rest.count, bodySoFar + rest == big)
        }
        #expect(result.answers == (0..<20).map { "small /\($0)" })
        #expect(result.intact, "\(result.received) of \(big.count) bytes")
    }

    @Test func aClientThatStopsReadingIsClosedAfterTheWriteTimeout() async throws {
        let big = largeBody(4 << 20)
        let (server, endpoint) = try unixServer(
            ClosureHandler { _ in HTTPResponse(status: 200, body: .bytes(big)) },
            limits: HTTPLimits(writeTimeoutMilliseconds: 300))
        defer { server.shutdown() }
        let (opened, closed) = try await offPool { () -> (Bool, Bool) in
            let stuck = try RawConnection(endpoint)
            defer { stuck.close() }
            try stuck.send("GET /big HTTP/1.1\r\n\r\n")
            let opened = eventually { server.connectionCount == 1 }
            return (opened, eventually { server.connectionCount == 0 })
        }
        #expect(opened)
        #expect(closed)
    }

    @Test func fiftyPipelinedRequestsInOneWriteAreAnsweredInOrder() async throws {
        // Later requests finish their handlers faster, so only serial answering keeps the order.
        let handler = ClosureHandler { request in
            let n = Int(request.path.dropFirst()) ?? 0
            try? await Task.sleep(for: .microseconds((50 - n) * 200))
            return .text("\(n):\(request.method):\(string(request.body))")
        }
        let (server, endpoint) = try tcpServer(handler)
        defer { server.shutdown() }
        var wire = ""
        var expected: [String] = []
        for i in 0..<50 {
            if i % 3 == 0 {
                wire += "POST /\(i) HTTP/1.1\r\nContent-Length: \(String(i).count + 1)\r\n\r\nb\(i)"
                expected.append("\(i):POST:b\(i)")
            } else if i % 3 == 1 {
                wire += "PUT /\(i) HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n"
                expected.append("\(i):PUT:c")
            } else {
                wire += "GET /\(i) HTTP/1.1\r\n\r\n"
                expected.append("\(i):GET:")
            }
        }
        let request = wire
        let bodies = try await offPool { () -> [String] in
            let connection = try RawConnection(endpoint)
            defer { connection.close() }
            try connection.send(request)
            return try (0..<50).map { _ in try connection.readResponse().text }
        }
        #expect(bodies == expected)
    }

    /// A client that closes while its handler runs cancels the handler (nobody will read the answer):
    /// seen as a hang-up over a unix socket, as end of input (a FIN) over TCP.
    @Test func aClientThatClosesCancelsItsHandler() async throws {
        for tcp in [false, true] {
            let (started, ended) = (Signal(), Shared<String?>(nil))
            let handler = ClosureHandler { _ in
                started.fire()
                try? await Task.sleep(for: .seconds(30))
                ended.update { $0 = Task.isCancelled ? "cancelled" : "ran out" }
                return .text("late")
            }
            let (server, endpoint) = try tcp ? tcpServer(handler) : unixServer(handler)
            defer { server.shutdown() }
            let seen = try await offPool { () -> String? in
                let c = try RawConnection(endpoint)
                try c.send("GET /slow HTTP/1.1\r\n\r\n")
                guard started.wait() else { return "never started" }
                c.close()
                _ = eventually { ended.current != nil }
                return ended.current
            }
            #expect(seen == "cancelled", tcp ? "over TCP" : "over a unix socket")
        }
    }
}
