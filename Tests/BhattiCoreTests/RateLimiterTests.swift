import Foundation
import Synchronization
import Testing

@testable import BhattiCore

/// A clock that moves only when told, so refill is deterministic.
private final class FakeClock: Sendable {
    private let time = Mutex<Duration>(.zero)
    var now: Duration { time.withLock { $0 } }
    func advance(_ d: Duration) { time.withLock { $0 += d } }
    var read: @Sendable () -> Duration { { self.now } }
}

private func limiter(perMinute: Double, burst: Double, maxKeys: Int = 100_000) throws -> (RateLimiter<String>, FakeClock) {
    let clock = FakeClock()
    return (RateLimiter(limit: try RateLimit(perMinute: perMinute, burst: burst), maxKeys: maxKeys, clock: clock.read), clock)
}

@Suite("Rate limiter")
struct RateLimiterTests {
    @Test("a full bucket allows burst requests, then refuses")
    func burstThenLimited() throws {
        let (rl, _) = try limiter(perMinute: 10, burst: 10)
        for _ in 0..<10 { #expect(rl.take("u") == .allowed) }
        #expect(rl.take("u") != .allowed)
    }

    @Test("retryAfter is the time until one token: 10/min gives 6 s once the burst is spent")
    func retryAfter() throws {
        let (rl, clock) = try limiter(perMinute: 10, burst: 10)
        for _ in 0..<10 { _ = rl.take("u") }
        #expect(rl.take("u") == .limited(retryAfter: .seconds(6)))
        #expect(rl.take("u").retryAfterSeconds == 6)
        clock.advance(.milliseconds(5500))
        #expect(rl.take("u") == .limited(retryAfter: .milliseconds(500)))
        #expect(rl.take("u").retryAfterSeconds == 1)
        clock.advance(.milliseconds(500))
        #expect(rl.take("u") == .allowed)
    }

    @Test("retryAfterSeconds rounds up, is at least 1, and is 0 when allowed")
    func retryAfterSecondsRounding() {
        #expect(RateDecision.limited(retryAfter: .seconds(6)).retryAfterSeconds == 6)
        #expect(RateDecision.limited(retryAfter: .milliseconds(6001)).retryAfterSeconds == 7)
        #expect(RateDecision.limited(retryAfter: .nanoseconds(1)).retryAfterSeconds == 1)
        #expect(RateDecision.limited(retryAfter: .zero).retryAfterSeconds == 1)
        #expect(RateDecision.allowed.retryAfterSeconds == 0)
    }

    @Test("refill over time grants again, never beyond burst")
    func refill() throws {
        let (rl, clock) = try limiter(perMinute: 120, burst: 5)
        for _ in 0..<5 { #expect(rl.take("u") == .allowed) }
        #expect(rl.take("u") != .allowed)
        clock.advance(.seconds(1))  // 2 tokens at 2/s
        #expect(rl.take("u") == .allowed)
        #expect(rl.take("u") == .allowed)
        #expect(rl.take("u") != .allowed)
        clock.advance(.seconds(3600))  // long idle: full again, but only burst
        for _ in 0..<5 { #expect(rl.take("u") == .allowed) }
        #expect(rl.take("u") != .allowed)
    }

    @Test("fractional refill accumulates across takes")
    func fractionalRefill() throws {
        let (rl, clock) = try limiter(perMinute: 60, burst: 1)  // 1 token/s
        #expect(rl.take("u") == .allowed)
        clock.advance(.milliseconds(400))
        #expect(rl.take("u") == .limited(retryAfter: .milliseconds(600)))
        clock.advance(.milliseconds(400))
        #expect(rl.take("u") == .limited(retryAfter: .milliseconds(200)))
        clock.advance(.milliseconds(200))
        #expect(rl.take("u") == .allowed)
        // A rate whose interval is not exact in binary still grants on time, many times over.
        let (odd, oddClock) = try limiter(perMinute: 7, burst: 1)
        for _ in 0..<1000 {
            #expect(odd.take("u") == .allowed)
            #expect(odd.take("u") != .allowed)
            oddClock.advance(.nanoseconds(Int64((60e9 / 7).rounded(.up))))
        }
    }

    @Test("keys have independent buckets")
    func independentKeys() throws {
        let (rl, _) = try limiter(perMinute: 10, burst: 2)
        #expect(rl.take("a") == .allowed)
        #expect(rl.take("a") == .allowed)
        #expect(rl.take("a") != .allowed)
        #expect(rl.take("b") == .allowed)
        #expect(rl.take("b") == .allowed)
        #expect(rl.take("b") != .allowed)
        #expect(rl.trackedKeys == 2)
    }

    @Test("cost above 1 takes several tokens; cost above burst empties a full bucket; cost 0 is free")
    func cost() throws {
        let (rl, clock) = try limiter(perMinute: 60, burst: 10)
        #expect(rl.take("u", cost: 4) == .allowed)
        #expect(rl.take("u", cost: 4) == .allowed)
        // 2 left; 4 needs 2 more tokens: 2 s.
        #expect(rl.take("u", cost: 4) == .limited(retryAfter: .seconds(2)))
        #expect(rl.take("u", cost: 2) == .allowed)
        clock.advance(.seconds(10))
        #expect(rl.take("u", cost: 50) == .allowed)
        #expect(rl.take("u") == .limited(retryAfter: .seconds(1)))
        #expect(rl.take("v", cost: 0) == .allowed)
        #expect(rl.trackedKeys == 1)
    }

    @Test("memory stays bounded: 10,000 keys through a 1,000-key table")
    func boundedMemory() throws {
        for step in [Duration.zero, .milliseconds(1)] {
            let (rl, clock) = try limiter(perMinute: 10, burst: 10, maxKeys: 1000)
            for i in 0..<10_000 {
                #expect(rl.take("user-\(i)") == .allowed)
                #expect(rl.trackedKeys <= 1000)
                clock.advance(step)
            }
        }
    }

    @Test("a sweep drops refilled keys and keeps a drained one")
    func refilledKeysGoFirst() throws {
        let (rl, clock) = try limiter(perMinute: 10, burst: 10, maxKeys: 10)
        for _ in 0..<10 { _ = rl.take("drained") }
        for i in 0..<9 { _ = rl.take("light-\(i)") }  // 1 token each: full again after 6 s
        #expect(rl.trackedKeys == 10)
        clock.advance(.milliseconds(6500))  // the light keys are full; "drained" has 1.08 tokens
        #expect(rl.take("new") == .allowed)  // table full: sweeps
        #expect(rl.trackedKeys == 2)
        // Kept, not reset to a full bucket: one token, then a wait.
        #expect(rl.take("drained") == .allowed)
        #expect(rl.take("drained") == .limited(retryAfter: .milliseconds(5500)))
    }

    @Test("with every key drained, the table evicts those closest to full and keeps the most drained")
    func evictsLeastDebtFirst() throws {
        let (rl, _) = try limiter(perMinute: 60, burst: 10, maxKeys: 10)
        for i in 0..<10 { #expect(rl.take("k\(i)", cost: Double(i + 1)) == .allowed) }
        #expect(rl.take("new") == .allowed)  // frees a tenth: evicts k0, the least drained
        #expect(rl.trackedKeys == 10)
        #expect(rl.take("k9") == .limited(retryAfter: .seconds(1)))  // still drained: kept
        // k0 was evicted, so it starts again with a full bucket (the documented tradeoff).
        for _ in 0..<10 { #expect(rl.take("k0") == .allowed) }
    }

    @Test("concurrent takes on one key with a frozen clock allow exactly burst")
    func concurrency() async throws {
        let (rl, _) = try limiter(perMinute: 120, burst: 37)
        let allowed = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var n = 0
                    for _ in 0..<500 where rl.take("shared") == .allowed { n += 1 }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        #expect(allowed == 37)
    }

    @Test("RateLimit round-trips through JSON with snake_case keys")
    func codable() throws {
        let limit = try RateLimit(perMinute: 120, burst: 20)
        let data = try JSONEncoder().encode(limit)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Double])
        #expect(object == ["per_minute": 120, "burst": 20])
        #expect(try JSONDecoder().decode(RateLimit.self, from: data) == limit)
        let fractional = try JSONDecoder().decode(RateLimit.self, from: Data(#"{"per_minute": 0.5, "burst": 1}"#.utf8))
        #expect(fractional.perMinute == 0.5)
    }

    @Test("invalid limits are refused", arguments: [(0.0, 10.0), (-1, 10), (10, 0.5), (10, 0), (.infinity, 10), (10, .nan)])
    func validation(perMinute: Double, burst: Double) throws {
        #expect(throws: BhattiError.self) { try RateLimit(perMinute: perMinute, burst: burst) }
        var edited = try RateLimit(perMinute: 1, burst: 1)
        edited.perMinute = perMinute
        edited.burst = burst
        #expect(throws: BhattiError.self) { try edited.validated() }
    }

    @Test("decoding refuses invalid limits and camelCase keys")
    func decodingValidates() {
        for json in [#"{"per_minute": 0, "burst": 10}"#, #"{"per_minute": 10, "burst": 0}"#, #"{"perMinute": 10, "burst": 10}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(RateLimit.self, from: Data(json.utf8)) }
        }
    }
}
