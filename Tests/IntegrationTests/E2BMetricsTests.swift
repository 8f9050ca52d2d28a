import BhattiAPI
import BhattiCore
import BhattiHTTP
import Foundation
import Testing

@testable import BhattiDaemon

/// E2B's `get_metrics` against real guests, with the sampler on a clock the test moves: every field
/// the SDK requires, CPU use that follows a busy loop, no samples while paused, and no answer for
/// another user's sandbox.
@Suite("E2B metrics", .serialized)
struct E2BMetricsTests {
    static let fields: Set = [
        "timestamp", "timestampUnix", "cpuCount", "cpuUsedPct", "memUsed", "memTotal", "memCache", "diskUsed", "diskTotal",
    ]

    func e2b(_ d: TestDaemon, _ method: String, _ path: String, _ body: String = "", key: String) async throws -> HTTPClientResponse {
        try await d.raw(method, "/e2b" + path, headers: ["X-API-Key": key, "Content-Type": "application/json"], body: Array(body.utf8))
    }

    func create(_ d: TestDaemon, key: String) async throws -> String {
        let r = try await e2b(d, "POST", "/v2/sandboxes", #"{"templateID":"base","timeout":86400}"#, key: key)
        #expect(r.status == 201, "\(r.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        return try #require(object["sandboxID"] as? String)
    }

    func metrics(_ d: TestDaemon, _ id: String, _ query: String = "", key: String) async throws -> [[String: Any]] {
        let r = try await e2b(d, "GET", "/sandboxes/\(id)/metrics\(query)", key: key)
        #expect(r.status == 200, "\(r.text)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Any]], "\(r.text)")
    }

    /// The newest sample's `timestamp` (milliseconds): it changes when a sample is added.
    func newest(_ d: TestDaemon, _ id: String, key: String) async throws -> String? {
        try await metrics(d, id, key: key).last?["timestamp"] as? String
    }

    /// Moves the clock to the sampler's next round when that is what the clock waits for next.
    func nextRound(_ clock: ManualClock) {
        guard let next = clock.nextDeadline, clock.now < next, clock.now.duration(to: next) <= E2BMetrics.interval else { return }
        clock.advance(by: clock.now.duration(to: next))
    }

    @Test(
        "a fresh sandbox answers a sample with every field; a busy loop raises CPU use in a later one; paused, its history stops; another user's is 404"
    )
    func metrics() async throws {
        let clock = ManualClock()
        // No idle tiers: the sampler is the only timer on the clock besides the far E2B deadlines.
        try await withDaemon(warmAfter: "off", coldAfter: "off", clock: clock) { d in
            let admin = d.daemon.adminKey
            let id = try await create(d, key: admin)

            let first = try await metrics(d, id, key: admin)
            #expect(!first.isEmpty, "a hot sandbox answers at least the sample taken when asked")
            for sample in first {
                #expect(Set(sample.keys) == Self.fields, "\(sample)")
                #expect(sample["cpuCount"] as? Int == 1)
                let cpu = try #require(sample["cpuUsedPct"] as? Double)
                #expect(cpu >= 0 && cpu <= 100, "\(sample)")
                // The guest's MemTotal: its 1024 MiB less what the kernel keeps for itself.
                let memTotal = try #require(sample["memTotal"] as? Int)
                let memory = 1024 << 20
                #expect(abs(memTotal - memory) <= memory / 10, "\(sample)")
                let memUsed = try #require(sample["memUsed"] as? Int)
                #expect(memUsed > 0 && memUsed <= memTotal, "\(sample)")
                let memCache = try #require(sample["memCache"] as? Int)
                #expect((0...memTotal).contains(memCache), "\(sample)")
                let diskTotal = try #require(sample["diskTotal"] as? Int)
                let diskUsed = try #require(sample["diskUsed"] as? Int)
                #expect(diskTotal > 0 && (1...diskTotal).contains(diskUsed), "\(sample)")
                let unix = try #require(sample["timestampUnix"] as? Int)
                #expect(abs(Double(unix) - Date().timeIntervalSince1970) < 3600, "\(sample)")
                let text = try #require(sample["timestamp"] as? String)
                let parser = ISO8601DateFormatter()
                parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                let date = try #require(parser.date(from: text) ?? ISO8601DateFormatter().date(from: text), "\(text)")
                #expect(Int(date.timeIntervalSince1970.rounded(.down)) == unix, "\(sample)")
            }

            // A busy loop: a later sample's CPU use rises from the idle guest's.
            let busy = try await d.call(
                "POST", "/v1/sandboxes/\(id)/exec", json: #"{"cmd":["sh","-c","while :; do :; done"],"detach":true}"#)
            #expect(busy.status == 200, "\(busy.text)")
            var seen: [Double] = []
            let rose = try await eventually {
                nextRound(clock)
                seen = try await metrics(d, id, key: admin).compactMap { $0["cpuUsedPct"] as? Double }
                return (seen.last ?? 0) >= 50
            }
            #expect(rose, "CPU use of the samples so far: \(seen)")

            // Windows: whole seconds, both ends included (a round may still add a sample meanwhile,
            // so the answers are checked against the window, not counted against an earlier one).
            let second = try #require(try await metrics(d, id, key: admin).first?["timestampUnix"] as? Int)
            func seconds(_ query: String) async throws -> [Int] {
                try await metrics(d, id, query, key: admin).compactMap { $0["timestampUnix"] as? Int }
            }
            let upTo = try await seconds("?end=\(second)")
            #expect(!upTo.isEmpty && upTo.allSatisfy { $0 <= second }, "\(upTo)")
            let exactly = try await seconds("?start=\(second)&end=\(second)")
            #expect(!exactly.isEmpty && exactly.allSatisfy { $0 == second }, "\(exactly)")
            #expect(try await seconds("?start=\(second + 1)").allSatisfy { $0 > second })
            #expect(try await seconds("?start=\(Int(Date().timeIntervalSince1970) + 86400)").isEmpty)
            // Refused when not Unix seconds, or backwards.
            for query in ["?start=soon", "?end=-1", "?start=5&end=4", "?start=1.5"] {
                let refused = try await e2b(d, "GET", "/sandboxes/\(id)/metrics\(query)", key: admin)
                #expect(refused.status == 400 && refused.text.contains("\"code\":400"), "\(query): \(refused.text)")
            }

            // Another user's sandbox, made through E2B too, is sampled; neither sees the other's.
            let made = try await d.call("POST", "/v1/users", json: #"{"name":"ann"}"#)
            #expect(made.status == 201, "\(made.text)")
            let ann = try #require((try JSONSerialization.jsonObject(with: Data(made.body)) as? [String: Any])?["api_key"] as? String)
            let hers = try await create(d, key: ann)
            #expect(try await !metrics(d, hers, key: ann).isEmpty)
            for (sandbox, key) in [(hers, admin), (id, ann), ("no-such-sandbox", admin)] {
                let r = try await e2b(d, "GET", "/sandboxes/\(sandbox)/metrics", key: key)
                #expect(r.status == 404 && r.text.contains("\"code\":404") && r.text.contains("\"message\""), "\(r.status) \(r.text)")
            }

            // Paused (cold): its samples stay readable, none is added, and asking does not wake it.
            #expect(try await e2b(d, "POST", "/sandboxes/\(id)/pause", key: admin).status == 204)
            // A round that began before the pause may still add one: wait for a round to end (her
            // newest sample changes), and only then take the paused sandbox's newest.
            func roundEnds() async throws {
                let before = try await newest(d, hers, key: ann)
                #expect(
                    try await eventually {
                        nextRound(clock)
                        return try await newest(d, hers, key: ann) != before
                    }, "no sampling round ended")
            }
            try await roundEnds()
            let paused = try await newest(d, id, key: admin)
            #expect(paused != nil)
            try await roundEnds()
            #expect(try await newest(d, id, key: admin) == paused, "a paused sandbox was sampled")
            #expect(try await d.get(id).state == "cold")
        }
    }
}
