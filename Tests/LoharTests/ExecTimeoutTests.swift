import BhattiEngine
import BhattiWire
import Foundation
import Testing

/// The time limit turns a timeout that never fires into a failure.
@Suite("Exec timeout", .timeLimit(.minutes(10)))
struct ExecTimeoutTests {
    @Test("a command past its timeout is killed, the exec throws timedOut, and the channel keeps serving")
    func timesOut() async throws {
        let h = try await AgentHarness.start()
        // A sleep of its own length names the process, so the test can see that it is gone afterwards;
        // longer than any test runs, so only the timeout ends the exec.
        let length = "3600.\(UInt32.random(in: 100_000...999_999))"
        await #expect(throws: AgentError.self) {
            _ = try await h.connection.exec(ExecRequest(argv: ["sleep", length]), timeout: .milliseconds(300))
        }
        // The kill went out: the agent counts no running exec, and no such process is left (each
        // waited for until it holds; the deadline only turns a hang into a failure).
        let giveUp = ContinuousClock.now + .seconds(60)
        var running = try await h.connection.activity().runningExecs
        while running > 0, ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(10))
            running = try await h.connection.activity().runningExecs
        }
        #expect(running == 0)
        var left = Self.processes(running: ["sleep", length])
        while left > 0, ContinuousClock.now < giveUp {
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
            guard case .timedOut = error else {
                Issue.record("expected timedOut, got \(error)")
                return
            }
        }
    }

    @Test("a command that finishes first returns its status, and the channel serves on")
    func finishesFirst() async throws {
        let h = try await AgentHarness.start()
        // A timeout no healthy run reaches however loaded (300 ms can pass before `sh` even starts on a
        // loaded machine); that a finished exec drops its deadline is the exec's defer and DeadlinesTests'.
        let status = try await h.connection.exec(ExecRequest(argv: ["sh", "-c", "exit 3"]), timeout: .seconds(600))
        #expect(status.code == 3)
        #expect(try await h.run(["echo", "still"]).1 == "still\n")
    }

    /// How many processes have exactly `argv` as their command line.
    static func processes(running argv: [String]) -> Int { pids(running: argv).count }

    /// The processes that have exactly `argv` as their command line.
    static func pids(running argv: [String]) -> [Int32] {
        let wanted = Array((argv.joined(separator: "\0") + "\0").utf8)
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { pid in
            FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { Array($0) == wanted } ?? false
        }
    }

    /// Waits until `condition` holds; the deadline only turns a hang into a failure.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let giveUp = ContinuousClock.now + .seconds(300)
        while !condition(), ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(10)) }
        return condition()
    }

    /// `eventually` for a condition that asks the agent.
    static func eventually(async condition: () async throws -> Bool) async throws -> Bool {
        let giveUp = ContinuousClock.now + .seconds(300)
        while try await !condition(), ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(10)) }
        return try await condition()
    }

    /// Waits until no process runs any of `commands`; what is left when the wait gives up is killed,
    /// so a failing test leaves nothing behind.
    static func allGone(_ commands: [[String]]) async throws -> Bool {
        let gone = try await eventually { commands.allSatisfy { pids(running: $0).isEmpty } }
        for pid in commands.flatMap(pids(running:)) { kill(pid, SIGKILL) }
        return gone
    }

    /// A sleep longer than any test, named by its own length so the test can find its process.
    static func uniqueSleep() -> [String] { ["sleep", "3600.\(UInt32.random(in: 100_000...999_999))"] }
}
