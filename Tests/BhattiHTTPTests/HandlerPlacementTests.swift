import BhattiSystem
import Foundation
import Glibc
import Testing

@testable import BhattiHTTP

/// The calling thread.
private func threadID() -> UInt { pthread_self() }

/// A handler whose `/loop…` paths run on the loop thread: `/loop/wait` waits on another thread,
/// `/loop/block` holds the thread for 300 ms, `/loop/sleep` sleeps until cancelled; any other
/// `/loop…` path answers at once. Each records the thread it ran on, before and after waiting.
private func placedHandler(
    _ threads: Shared<[String: [UInt]]>, _ finished: Shared<[String]>, started: Shared<[String]> = Shared([])
) -> ClosureHandler {
    ClosureHandler(placement: { $0.path.hasPrefix("/loop") ? .loop : .pool }) { request in
        started.update { $0.append(request.path) }
        var seen = [threadID()]
        switch request.path {
        case "/loop/wait":
            await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
                startThread(name: "test-resumer") {
                    usleep(50_000)
                    resume.resume()
                }
            }
            seen.append(threadID())
        case "/loop/block":
            usleep(300_000)
        case "/loop/sleep":
            try? await Task.sleep(for: .seconds(30))
            seen.append(threadID())
        default:
            break
        }
        threads.update { $0[request.path, default: []] += seen }
        finished.update { $0.append(request.path + (Task.isCancelled ? " cancelled" : "")) }
        return .text("done \(request.path)")
    }
}

@Suite(.timeLimit(.minutes(10))) struct HandlerPlacementTests {
    @Test func aLoopPlacedHandlerRunsOnTheLoopThreadThroughItsWaits() async throws {
        let threads = Shared<[String: [UInt]]>([:])
        let (server, endpoint) = try unixServer(placedHandler(threads, Shared([])))
        defer { server.shutdown() }
        let answers = try await offPool { () -> [String] in
            let c = try RawConnection(endpoint)
            defer { c.close() }
            var answers: [String] = []
            for path in ["/loop/wait", "/loop/now", "/loop/wait"] {
                try c.send("GET \(path) HTTP/1.1\r\n\r\n")
                answers.append(try c.readResponse().text)
            }
            return answers
        }
        #expect(answers == ["done /loop/wait", "done /loop/now", "done /loop/wait"])
        // One thread for every step of every request: the start, and the resumption after a wait
        // that another thread ended.
        let seen = threads.current
        let all = Set(seen.values.flatMap { $0 })
        #expect(seen["/loop/wait"]?.count == 4)
        #expect(all.count == 1)
        #expect(!all.contains(threadID()))
    }

    @Test func whileALoopPlacedStepRunsOtherConnectionsWait() async throws {
        let (finished, started) = (Shared<[String]>([]), Shared<[String]>([]))
        let (server, endpoint) = try unixServer(placedHandler(Shared([:]), finished, started: started))
        defer { server.shutdown() }
        let order = try await offPool { () -> [String] in
            let blocker = try RawConnection(endpoint)
            let other = try RawConnection(endpoint)
            defer {
                blocker.close()
                other.close()
            }
            try blocker.send("GET /loop/block HTTP/1.1\r\n\r\n")
            _ = eventually { started.current == ["/loop/block"] }
            // A pool-placed request: still read by the loop, which is busy with the blocker.
            try other.send("GET /pool HTTP/1.1\r\n\r\n")
            _ = try other.readResponse()
            let order = finished.current
            _ = try blocker.readResponse()
            return order
        }
        // By the time the other connection had its answer, the blocking step had ended.
        #expect(order.first == "/loop/block")
    }

    @Test func handlersThatNeverSuspendAreAnsweredKeptAliveAndPipelined() async throws {
        let (server, endpoint) = try unixServer(placedHandler(Shared([:]), Shared([])))
        defer { server.shutdown() }
        let (sequential, pipelined) = try await offPool { () -> ([String], [String]) in
            let c = try RawConnection(endpoint)
            defer { c.close() }
            var sequential: [String] = []
            for i in 0..<50 {
                try c.send("GET /loop/\(i) HTTP/1.1\r\n\r\n")
                sequential.append(try c.readResponse().text)
            }
            try c.send((0..<3).map { "GET /loop/p\($0) HTTP/1.1\r\n\r\n" }.joined())
            let pipelined = try (0..<3).map { _ in try c.readResponse().text }
            return (sequential, pipelined)
        }
        #expect(sequential == (0..<50).map { "done /loop/\($0)" })
        #expect(pipelined == ["done /loop/p0", "done /loop/p1", "done /loop/p2"])
    }

    @Test func shutdownCancelsAWaitingLoopPlacedHandlerAndItFinishes() async throws {
        let (finished, started) = (Shared<[String]>([]), Shared<[String]>([]))
        let (server, endpoint) = try unixServer(placedHandler(Shared([:]), finished, started: started))
        let c = try RawConnection(endpoint)
        defer { c.close() }
        try c.send("GET /loop/sleep HTTP/1.1\r\n\r\n")
        #expect(try await offPool { eventually { started.current == ["/loop/sleep"] } })
        server.shutdown()
        // Its resumption still runs, wherever the loop is by then (stopped or not).
        #expect(try await offPool { eventually { !finished.current.isEmpty } })
        #expect(finished.current == ["/loop/sleep cancelled"])
    }
}
