import BhattiAPI
import BhattiCore
import BhattiHTTP
import BhattiStore
import Foundation
import Synchronization
import Testing

@testable import BhattiDaemon

/// The gate's failed-authentication budget, per source, driven by a fake clock. No VM, no server.
@Suite("Gate")
struct GateTests {
    /// A clock that moves only when told.
    final class FakeClock: Sendable {
        private let time = Mutex<Duration>(.zero)
        func advance(_ d: Duration) { time.withLock { $0 += d } }
        var read: @Sendable () -> Duration { { self.time.withLock { $0 } } }
    }

    func request(key: String?, from address: String?) -> HTTPRequest {
        var r = HTTPRequest(method: "GET", target: "/v1/sandboxes", headers: key.map { ["Authorization": "Bearer \($0)"] } ?? [])
        r.remoteAddress = address
        return r
    }

    /// 401, 429 with its wait, or the admitted user's name.
    func outcome(_ gate: Gate, key: String?, from address: String?) -> String {
        do {
            return try gate.admit(request(key: key, from: address), route: .listSandboxes).user.name
        } catch {
            if let wait = error.retryAfter { return "\(HTTPStatusMapping.status(for: error.error.code)) retry \(wait)" }
            return "\(HTTPStatusMapping.status(for: error.error.code))"
        }
    }

    @Test("bad keys: each source has its own budget, then 429 with Retry-After until it refills; a valid key always passes")
    func failureBudgetPerSource() async throws {
        let dir = "/tmp/bhi-gate-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SandboxStore(path: dir + "/state.db")
        let admin = APIKey.generate()
        let users = try await UserDirectory.load(store: store, adminKey: admin, adminKeyPath: dir + "/admin.key")
        let (_, ann) = try await users.create(name: "ann", maxSandboxes: nil, maxCPUs: nil, maxMemoryMB: nil)
        let events = EventLog(store: store, log: Logger(sink: { _ in }))
        var limits = RateLimits()
        limits.authFailures = try RateLimit(perMinute: 60, burst: 3)
        let clock = FakeClock()
        let gate = Gate(users: users, limits: limits, events: events, clock: clock.read)

        let a = "192.0.2.1"
        let b = "192.0.2.2"
        // Source a spends its burst (a missing key counts as a failure too), then is refused for a second.
        #expect(outcome(gate, key: "bht_wrong", from: a) == "401")
        #expect(outcome(gate, key: nil, from: a) == "401")
        #expect(outcome(gate, key: "bht_wrong", from: a) == "401")
        #expect(outcome(gate, key: "bht_wrong", from: a) == "429 retry 1")
        #expect(outcome(gate, key: "bht_wrong", from: a) == "429 retry 1")
        // Valid keys from that same source still pass: the key is checked before the budget.
        #expect(outcome(gate, key: admin, from: a) == "admin")
        #expect(outcome(gate, key: ann, from: a) == "ann")
        // Other sources, the unix socket among them, have budgets of their own.
        #expect(outcome(gate, key: "bht_wrong", from: b) == "401")
        #expect(outcome(gate, key: "bht_wrong", from: nil) == "401")
        // One token back after a second (60/min): one more 401, then refused again.
        clock.advance(.seconds(1))
        #expect(outcome(gate, key: "bht_wrong", from: a) == "401")
        #expect(outcome(gate, key: "bht_wrong", from: a) == "429 retry 1")

        // Only the failures that were answered 401 reach the audit log, each naming its source.
        await events.flushed()
        let logged = try await store.events(matching: EventFilter(kindPrefix: "auth"))
        #expect(logged.count == 6, "\(logged.map { $0.detail ?? "" })")
        #expect(logged.filter { $0.detail?.hasSuffix("from \(a)") == true }.count == 4)
        #expect(logged.contains { $0.detail == "no key: GET /v1/sandboxes from \(a)" })
        #expect(logged.contains { $0.detail == "invalid key: GET /v1/sandboxes from unix socket" })
    }

    @Test("rate_limits in a config file: a class left out keeps its default; auth_failures is read")
    func configuredClasses() throws {
        let partial = try JSONDecoder().decode(RateLimits.self, from: Data(#"{"auth_failures":{"per_minute":5,"burst":2}}"#.utf8))
        var expected = RateLimits()
        expected.authFailures = try RateLimit(perMinute: 5, burst: 2)
        #expect(partial == expected)
        #expect(try JSONDecoder().decode(RateLimits.self, from: Data("{}".utf8)) == RateLimits())
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(RateLimits.self, from: Data(#"{"auth_failures":{"per_minute":0,"burst":2}}"#.utf8))
        }
    }
}
