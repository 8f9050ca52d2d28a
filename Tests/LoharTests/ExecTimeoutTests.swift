import BhattiEngine
import BhattiWire
import Foundation
import Testing

@Suite("Exec timeout")
struct ExecTimeoutTests {
    @Test("a command past its timeout is killed, the exec throws timedOut, and the channel keeps serving")
    func timesOut() async throws {
        let h = try await AgentHarness.start()
        // A sleep of its own length names the process, so the test can see that it is gone afterwards.
        let length = "30.\(UInt32.random(in: 100_000...999_999))"
        let started = ContinuousClock.now
        await #expect(throws: AgentError.self) {
            _ = try await h.connection.exec(ExecRequest(argv: ["sleep", length]), timeout: .milliseconds(300))
        }
        let waited = ContinuousClock.now - started
        #expect(waited < .seconds(10))
        // The kill went out: the agent counts no running exec, and no such process is left.
        var running = try await h.connection.activity().runningExecs
        for _ in 0..<200 where running > 0 {
            try await Task.sleep(for: .milliseconds(10))
            running = try await h.connection.activity().runningExecs
        }
        #expect(running == 0)
        var left = Self.processes(running: ["sleep", length])
        for _ in 0..<200 where left > 0 {
            try await Task.sleep(for: .milliseconds(10))
            left = Self.processes(running: ["sleep", length])
        }
        #expect(left == 0)
        #expect(try await h.run(["echo", "after"]).1 == "after\n")
    }

    @Test("the error says it was the timeout")
    func errorKind() async throws {
        let h = try await AgentHarness.start()
        do {
            _ = try await h.connection.exec(ExecRequest(argv: ["sleep", "30"]), timeout: .milliseconds(100))
            Issue.record("the exec returned")
        } catch let error as AgentError {
            guard case .timedOut = error else { Issue.record("expected timedOut, got \(error)"); return }
        }
    }

    @Test("a command that finishes first returns its status, and the deadline later changes nothing")
    func finishesFirst() async throws {
        let h = try await AgentHarness.start()
        let status = try await h.connection.exec(ExecRequest(argv: ["sh", "-c", "exit 3"]), timeout: .milliseconds(300))
        #expect(status.code == 3)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.run(["echo", "still"]).1 == "still\n")
    }

    /// How many processes have exactly `argv` as their command line.
    static func processes(running argv: [String]) -> Int {
        let wanted = Array((argv.joined(separator: "\0") + "\0").utf8)
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { Int($0) != nil } ?? []
        return pids.filter { pid in
            FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { Array($0) == wanted } ?? false
        }.count
    }
}
