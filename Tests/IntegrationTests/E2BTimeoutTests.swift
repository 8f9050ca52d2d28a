import BhattiAPI
import BhattiCore
import BhattiHTTP
import BhattiStore
import Foundation
import Testing

@testable import BhattiDaemon

/// E2B timeouts on a clock the test moves, at the values the SDK sends (300 s, then 600 s), through
/// bhatti's own idle tiers: the sandbox lives to its deadline, no longer; `set_timeout` moves it; an
/// E2B pause clears it.
@Suite("E2B timeouts", .serialized)
struct E2BTimeoutTests {
    /// Moves `clock` to `target`, deadline by deadline, letting the daemon act at each.
    static func advance(_ clock: ManualClock, to target: ManualClock.Instant) async throws {
        while clock.now < target {
            let next = min(clock.nextDeadline.map { max($0, clock.now) } ?? target, target)
            clock.advance(by: clock.now.duration(to: next))
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func e2b(_ d: TestDaemon, _ method: String, _ path: String, _ body: String = "") async throws -> HTTPClientResponse {
        try await d.raw(
            method, "/e2b" + path, headers: ["X-API-Key": d.daemon.adminKey, "Content-Type": "application/json"], body: Array(body.utf8))
    }

    func create(_ d: TestDaemon, timeout: Int) async throws -> String {
        let r = try await e2b(d, "POST", "/v2/sandboxes", #"{"templateID":"base","timeout":\#(timeout)}"#)
        #expect(r.status == 201, "\(r.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        return try #require(object["sandboxID"] as? String)
    }

    func exists(_ d: TestDaemon, _ id: String) async throws -> Bool {
        try await d.call("GET", "/v1/sandboxes/\(id)").status == 200
    }

    @Test("a 300 s timeout: alive at 299 s; set_timeout 600 there: alive at 898 s, destroyed at 899 s; a paused one outlives its timeout")
    func timeouts() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            let t0 = clock.now
            let id = try await create(d, timeout: 300)
            // Its deadline is on the clock before the clock moves at all.
            #expect(try await eventually { clock.deadlines.contains(t0.advanced(by: .seconds(300))) })
            try await Self.advance(clock, to: t0.advanced(by: .seconds(299)))
            #expect(try await exists(d, id))

            #expect(try await e2b(d, "POST", "/sandboxes/\(id)/timeout", #"{"timeout":600}"#).status == 204)
            try await Self.advance(clock, to: t0.advanced(by: .seconds(898)))
            #expect(try await exists(d, id))
            try await Self.advance(clock, to: t0.advanced(by: .seconds(899)))
            #expect(try await eventually { try await !exists(d, id) }, "destroyed at its deadline")

            // Paused through the E2B API: no deadline until it is resumed.
            let t1 = clock.now
            let paused = try await create(d, timeout: 300)
            #expect(try await e2b(d, "POST", "/sandboxes/\(paused)/pause").status == 204)
            try await Self.advance(clock, to: t1.advanced(by: .seconds(900)))
            #expect(try await exists(d, paused), "a paused sandbox waits to be resumed")
            let resumed = try await e2b(d, "POST", "/sandboxes/\(paused)/connect", #"{"timeout":60}"#)
            #expect(resumed.status == 201, "\(resumed.text)")
            let t2 = clock.now
            try await Self.advance(clock, to: t2.advanced(by: .seconds(60)))
            #expect(try await eventually { try await !exists(d, paused) }, "destroyed at the deadline its connect set")
        }
    }
    @Test(
        "autoPause: at its 300 s deadline the sandbox goes cold with its memory, no longer timed; connect wakes it with a new deadline; refreshes extends it; a filesystem-only pause is refused"
    )
    func autoPause() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            let t0 = clock.now
            let made = try await e2b(d, "POST", "/v2/sandboxes", #"{"templateID":"base","timeout":300,"autoPause":true}"#)
            #expect(made.status == 201, "\(made.text)")
            let id = try #require((try JSONSerialization.jsonObject(with: Data(made.body)) as? [String: Any])?["sandboxID"] as? String)
            let info = try JSONSerialization.jsonObject(with: Data(try await e2b(d, "GET", "/sandboxes/\(id)").body)) as? [String: Any]
            let lifecycle = try #require(info?["lifecycle"] as? [String: Any])
            #expect(lifecycle["onTimeout"] as? String == "pause")
            #expect(lifecycle["autoResume"] as? Bool == true)
            // A process whose memory only a kept-memory pause keeps.
            _ = try await d.exec(id, ["sh", "-c", "sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > /tmp/sleeper"])
            let pid = try await d.exec(id, ["cat", "/tmp/sleeper"]).stdout

            #expect(try await eventually { clock.deadlines.contains(t0.advanced(by: .seconds(300))) })
            try await Self.advance(clock, to: t0.advanced(by: .seconds(300)))
            #expect(try await eventually { try await d.get(id).state == "cold" }, "paused (cold) at its deadline")
            let paused = try JSONSerialization.jsonObject(with: Data(try await e2b(d, "GET", "/sandboxes/\(id)").body)) as? [String: Any]
            #expect(paused?["state"] as? String == "paused")
            // No deadline while paused: an hour later it is still there, still cold.
            try await Self.advance(clock, to: t0.advanced(by: .seconds(3900)))
            #expect(try await d.get(id).state == "cold")

            let t1 = clock.now
            let woken = try await e2b(d, "POST", "/sandboxes/\(id)/connect", #"{"timeout":60}"#)
            #expect(woken.status == 201, "\(woken.text)")
            #expect(try await d.exec(id, ["sh", "-c", "kill -0 $(cat /tmp/sleeper) && cat /tmp/sleeper"]).stdout == pid)
            // refreshes only extends: 10 s asks for less than the 60 s left (and counts as E2B's 15 s).
            #expect(try await e2b(d, "POST", "/sandboxes/\(id)/refreshes", #"{"duration":10}"#).status == 204)
            #expect(try await e2b(d, "POST", "/sandboxes/\(id)/refreshes", #"{"duration":3601}"#).status == 400)
            try await Self.advance(clock, to: t1.advanced(by: .seconds(30)))
            #expect(try await e2b(d, "POST", "/sandboxes/\(id)/refreshes", #"{"duration":120}"#).status == 204)
            try await Self.advance(clock, to: t1.advanced(by: .seconds(149)))
            #expect(try await d.get(id).state != "cold", "paused before the deadline refreshes set")
            try await Self.advance(clock, to: t1.advanced(by: .seconds(150)))
            #expect(try await eventually { try await d.get(id).state == "cold" }, "paused at the refreshed deadline")

            let refused = try await e2b(d, "POST", "/v2/sandboxes", #"{"templateID":"base","autoPause":true,"autoPauseMemory":false}"#)
            #expect(refused.status == 400 && refused.text.contains("filesystem-only"), "\(refused.text)")
            #expect(try await e2b(d, "POST", "/sandboxes/\(id)/pause", #"{"memory":false}"#).status == 400)
        }
    }

    @Test("deadlines outlive a restart: one still ahead is kept, one that passed while the daemon was down fires at start")
    func acrossRestart() async throws {
        let d = try await TestDaemon.start()
        let kept = try await create(d, timeout: 3600)
        let lapsed = try await create(d, timeout: 3600)
        let data = d.dataDirectory
        await d.stop(keepData: true)
        // An hour passing while the daemon is down, for the second only: its stored deadline is now behind.
        try await SandboxStore(path: data + "/state.db").setE2BDeadline(
            try #require(SandboxID(rawValue: lapsed)), Date(timeIntervalSinceNow: -5))
        let again = try await TestDaemon.start(dataDirectory: data)
        do {
            #expect(try await eventually { try await !exists(again, lapsed) }, "destroyed at the start, its deadline gone by")
            #expect(try await exists(again, kept))
            let detail = try await e2b(again, "GET", "/sandboxes/\(kept)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(detail.body)) as? [String: Any])
            let text = try #require(object["endAt"] as? String)
            let parser = ISO8601DateFormatter()
            parser.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
            let end = try #require(parser.date(from: text), "endAt \(text)")
            let left = end.timeIntervalSinceNow
            #expect(left > 3000 && left <= 3600, "\(left) s left of the kept deadline")
        } catch {
            await again.stop()
            throw error
        }
        await again.stop()
    }

    @Test("an open E2B watcher holds its sandbox hot through ten idle minutes; removed, the sandbox cools to warm")
    func watcherHoldsHot() async throws {
        let clock = ManualClock()
        try await withDaemon(clock: clock) { d in
            // Made natively, so no E2B deadline shares the clock with its idle timer; the E2B API
            // hands out its envd token all the same.
            let id = try await d.create("watched").id
            let detail = try await e2b(d, "GET", "/sandboxes/\(id)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(detail.body)) as? [String: Any])
            let token = try #require(object["envdAccessToken"] as? String)
            func envd(_ call: String, _ body: String) async throws -> HTTPClientResponse {
                try await d.raw(
                    "POST", "/e2b/envd/filesystem.Filesystem/" + call,
                    headers: ["E2b-Sandbox-Id": id, "X-Access-Token": token, "Content-Type": "application/json"], body: Array(body.utf8))
            }
            let created = try await envd("CreateWatcher", #"{"path":"/workspace"}"#)
            #expect(created.status == 200, "\(created.text)")
            let watcher = try #require(
                (try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])?["watcherId"] as? String)
            try await d.driveIdle(clock, id, through: .seconds(600))
            #expect(try await d.get(id).state == "hot", "a watched sandbox cooled")
            #expect(try await envd("RemoveWatcher", #"{"watcherId":"\#(watcher)"}"#).status == 200)
            // The hold gone and the idle timer asleep again before the clock moves.
            let sandbox = try #require(SandboxID(rawValue: id))
            let settled = ContinuousClock.now + .seconds(60)
            while await d.daemon.service.holdCount(sandbox) > 0 || clock.sleeperCount == 0, ContinuousClock.now < settled {
                try await Task.sleep(for: .milliseconds(5))
            }
            _ = try await d.driveIdle(clock, id, to: "warm", limit: .seconds(600))
        }
    }
}
