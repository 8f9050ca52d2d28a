import BhattiAPI
import BhattiCore
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

@testable import BhattiDaemon

/// The idle tiers under the settings users run (warm after 30 s, cold after 30 min), with the timers
/// on a `ManualClock` the test moves: a sandbox cools again after every kind of wake, any number of
/// times, at its deadline and not before.
@Suite("Idle tiers on a driven clock", .serialized, .timeLimit(.minutes(10)))
struct IdleCycleTests {
    static let warmAfter = Duration.seconds(30)
    static let coldAfter = Duration.seconds(30 * 60)

    /// Hot → warm at exactly warm-after, never before: each idle check that finds the guest's CPU
    /// busy (a just-restored guest under TCG can be, for a moment) counts idleness again from there.
    func coolsToWarm(_ d: TestDaemon, _ clock: ManualClock, _ sandbox: String, after wake: String) async throws {
        let record = try await d.get(sandbox)
        #expect(record.state == "hot", "\(wake) did not wake \(sandbox)")
        // A stream (the proxy's exchange) ends a moment after its answer: idleness counts from its end.
        let id = try #require(SandboxID(rawValue: record.id))
        let ended = ContinuousClock.now + .seconds(60)
        while await d.daemon.service.holdCount(id) > 0, ContinuousClock.now < ended { try await Task.sleep(for: .milliseconds(5)) }
        // And the timer asleep on the clock: no idle check from before the wake still in flight.
        while clock.sleeperCount == 0, ContinuousClock.now < ended { try await Task.sleep(for: .milliseconds(5)) }
        let busyBefore = d.logEvents.count("sandbox.idle_check_busy")
        let idle = try await d.driveIdle(clock, sandbox, to: "warm", limit: Self.warmAfter * 20)
        let busy = d.logEvents.count("sandbox.idle_check_busy") - busyBefore
        #expect(idle == Self.warmAfter * (1 + busy), "cooled after \(idle) with \(busy) busy checks following \(wake)")
    }

    @Test("hot → warm → wake → warm → cold → wake → warm, through exec, start, files, sessions and the proxy")
    func everyWakeCoolsAgain() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            _ = try await d.create("cyc")
            // A server for the proxy wake, started in its own session so no exec stays open.
            _ = try await d.exec("cyc", ["sh", "-c", "setsid python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 < /dev/null &"])
            let served = ContinuousClock.now + .seconds(60)
            while try await d.exec("cyc", ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000"]).exitCode != 0, ContinuousClock.now < served {
                try await Task.sleep(for: .milliseconds(100))
            }
            try await coolsToWarm(d, clock, "cyc", after: "create")

            let wakes: [(String, @Sendable (TestDaemon) async throws -> Void)] = [
                (
                    "exec",
                    { d in
                        let code = try await d.exec("cyc", ["true"]).exitCode
                        #expect(code == 0)
                    }
                ),
                (
                    "start",
                    { d in
                        let r = try await d.call("POST", "/v1/sandboxes/cyc/start")
                        #expect(r.status == 200, "\(r.text)")
                    }
                ),
                (
                    "files",
                    { d in
                        let r = try await d.call("GET", "/v1/sandboxes/cyc/files?path=/etc/hostname")
                        #expect(r.status == 200, "\(r.text)")
                    }
                ),
                (
                    "sessions",
                    { d in
                        let r = try await d.call("GET", "/v1/sandboxes/cyc/sessions")
                        #expect(r.status == 200, "\(r.text)")
                    }
                ),
                (
                    "proxy",
                    { d in
                        let r = try await d.call("GET", "/v1/sandboxes/cyc/proxy/8000/")
                        #expect(r.status == 200, "\(r.status) \(r.text.prefix(200))")
                    }
                ),
            ]
            for (name, wake) in wakes {
                // From warm: woken, then warm again after 30 s.
                #expect(try await d.get("cyc").state == "warm")
                try await wake(d)
                try await coolsToWarm(d, clock, "cyc", after: "\(name) from warm")
                // Warm → cold after 30 minutes, not before; woken from cold, then warm again.
                let warmFor = try await d.driveIdle(clock, "cyc", to: "cold", limit: Self.coldAfter)
                #expect(warmFor >= Self.coldAfter, "cold after \(warmFor) warm")
                try await wake(d)
                try await coolsToWarm(d, clock, "cyc", after: "\(name) from cold")
            }
        }
    }

    @Test("a busy guest stays hot for as long as it is busy, then cools; keep_hot never cools")
    func busyAndKeptHot() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            _ = try await d.create("busy")
            let r = try await d.call(
                "POST", "/v1/sandboxes/busy/exec",
                json: #"{"cmd":["sh","-c","echo $$ > /tmp/busy.pid; while :; do :; done"],"detach":true}"#)
            #expect(r.status == 200, "\(r.text)")
            // Ten minutes of driven time: every idle check finds the guest busy.
            let start = clock.now
            try await d.driveIdle(clock, "busy", through: .seconds(600))
            #expect(start.duration(to: clock.now) >= .seconds(600))
            // No idle check in flight (the timer asleep on the clock) before the loop ends.
            let asleep = ContinuousClock.now + .seconds(60)
            while clock.sleeperCount == 0, ContinuousClock.now < asleep { try await Task.sleep(for: .milliseconds(5)) }
            #expect(try await d.exec("busy", ["sh", "-c", "kill $(cat /tmp/busy.pid)"]).exitCode == 0)
            try await coolsToWarm(d, clock, "busy", after: "the busy loop ended")

            // keep_hot: the timer stops for good; two driven hours change nothing.
            #expect(try await d.call("PATCH", "/v1/sandboxes/busy", json: #"{"keep_hot":true}"#).status == 200)
            _ = try await d.exec("busy", ["true"])
            let settled = ContinuousClock.now + .seconds(60)
            while clock.sleeperCount > 0, ContinuousClock.now < settled { try await Task.sleep(for: .milliseconds(10)) }
            #expect(clock.sleeperCount == 0, "a timer still runs for a keep_hot sandbox")
            clock.advance(by: .seconds(7200))
            #expect(try await d.get("busy").state == "hot")
            #expect(clock.sleeperCount == 0)

            // Clearing keep_hot lets it cool again from the next use.
            #expect(try await d.call("PATCH", "/v1/sandboxes/busy", json: #"{"keep_hot":false}"#).status == 200)
            _ = try await d.exec("busy", ["true"])
            try await coolsToWarm(d, clock, "busy", after: "keep_hot cleared")
        }
    }

    @Test("a snapshot that keeps failing is retried after 2, 4 and 8 s, then the sandbox is marked error with the reason")
    func snapshotRetriesThenError() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            let sb = try await d.create("stuck")
            try await coolsToWarm(d, clock, "stuck", after: "create")
            let dir = d.dataDirectory + "/sandboxes/" + sb.id
            // Immutable directory: even root cannot create the device-state file in it.
            #expect(try await runTool("chattr", ["+i", dir]) == 0)
            // The first try at 30 minutes warm, then 2, 4 and 8 s later: the fourth failure gives up.
            let failedFor = try await d.driveIdle(clock, "stuck", to: "error", limit: Self.coldAfter + .seconds(14))
            #expect(try await runTool("chattr", ["-i", dir]) == 0)
            #expect(failedFor >= Self.coldAfter + .seconds(14))
            let seen = try await d.get("stuck")
            #expect(seen.stateReason?.contains("snapshot failed 4 times") == true, "\(seen.stateReason ?? "")")
            #expect(d.logEvents.count("sandbox.snapshot_failed") == 4)
            // The VM was never taken down by the failures (it stays paused, as it was warm); start
            // resumes it, and destroy still cleans everything up.
            #expect(!qemuProcesses(mentioning: sb.id).isEmpty)
            #expect(try await d.post("stuck", "start").state == "hot")
            #expect(try await d.exec("stuck", ["true"], timeout: 60).exitCode == 0)
            #expect(try await d.call("DELETE", "/v1/sandboxes/stuck").status == 200)
            #expect(qemuProcesses(mentioning: sb.id).isEmpty)
        }
    }
}
