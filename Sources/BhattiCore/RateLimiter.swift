import Synchronization

/// A token-bucket limit: `burst` tokens of capacity, refilled at `perMinute / 60` tokens a second.
///
/// `burst` lets a user who has been idle do a short flurry (e.g. create 10 sandboxes at once)
/// while `perMinute` bounds the sustained rate.
public struct RateLimit: Sendable, Equatable, Codable {
    public var perMinute: Double
    public var burst: Double

    /// Refuses limits the bucket cannot honour: no refill, or a bucket too small for one request.
    public init(perMinute: Double, burst: Double) throws(BhattiError) {
        self.perMinute = perMinute
        self.burst = burst
        try validate()
    }

    /// Checks a value that was built or edited field by field (e.g. through the `var`s).
    public func validated() throws(BhattiError) -> RateLimit {
        try validate()
        return self
    }

    private func validate() throws(BhattiError) {
        guard perMinute.isFinite, perMinute > 0 else {
            throw BhattiError(.invalidArgument, "rate limit per_minute must be a finite number above 0, got \(perMinute)")
        }
        guard burst.isFinite, burst >= 1 else {
            throw BhattiError(.invalidArgument, "rate limit burst must be a finite number of at least 1, got \(burst)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case perMinute = "per_minute"
        case burst
    }

    /// Decoding validates too, so a bad configuration file fails at load, not at the first request.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let perMinute = try c.decode(Double.self, forKey: .perMinute)
        let burst = try c.decode(Double.self, forKey: .burst)
        do {
            try self.init(perMinute: perMinute, burst: burst)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }
}

/// The outcome of `RateLimiter.take`.
public enum RateDecision: Equatable, Sendable {
    case allowed
    /// Refused; `retryAfter` is how long until the bucket holds enough tokens for the same request.
    case limited(retryAfter: Duration)

    /// `retryAfter` in whole seconds for an HTTP `Retry-After` header: rounded up, so a client that
    /// obeys it is not refused again, and at least 1, because `Retry-After: 0` invites a busy loop.
    /// 0 when allowed.
    public var retryAfterSeconds: Int {
        guard case .limited(let d) = self else { return 0 }
        let (s, atto) = d.components
        return Int(max(1, atto > 0 ? s + 1 : s))
    }
}

/// Per-key token buckets (e.g. one per user), safe to share between threads.
///
/// Each key keeps one number: the time at which its bucket will be full again (GCRA's
/// "theoretical arrival time"). Refill is computed from the clock on each `take`, so there is no
/// timer, and a key whose bucket has refilled is indistinguishable from one never seen: it can be
/// forgotten, which is what keeps memory bounded.
///
/// When a new key would exceed `maxKeys`, a sweep (amortised: it always frees at least a tenth of
/// the table, so it runs at most once per `maxKeys / 10` new keys) first drops refilled keys, and if
/// that is not enough, evicts the keys closest to refilled. This is "least recently used" weighted
/// by what eviction costs: an evicted key gets a fresh, full bucket, so evicting the key with the
/// least outstanding debt forgives the fewest tokens, and a key being hammered right now is the last
/// to go. Forgetting a drained key is a deliberate tradeoff for bounded memory; size `maxKeys` well
/// above the number of users so it only happens under abuse.
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    public let limit: RateLimit
    public let maxKeys: Int
    private let clock: @Sendable () -> Duration
    /// Seconds one token takes to refill (GCRA's emission interval).
    private let interval: Double
    /// Seconds a full bucket represents: how far ahead of now a key's full-again time may be.
    private let tolerance: Double
    /// Key → the time (seconds since the clock's origin) at which its bucket is full again.
    private let buckets: Mutex<[Key: Double]>

    /// `clock` returns the time since any fixed origin; tests pass a fake one.
    public init(limit: RateLimit, maxKeys: Int = 100_000, clock: @escaping @Sendable () -> Duration = RateLimiter.monotonicNow) {
        precondition(maxKeys >= 1, "maxKeys must be at least 1")
        self.limit = limit
        self.maxKeys = maxKeys
        self.clock = clock
        self.interval = 60 / limit.perMinute
        self.tolerance = limit.burst * interval
        self.buckets = Mutex([:])
    }

    /// Takes `cost` tokens from `key`'s bucket if it holds them.
    ///
    /// A cost above `burst` is treated as `burst` (it empties a full bucket) so it can ever succeed.
    public func take(_ key: Key, cost: Double = 1) -> RateDecision {
        precondition(cost >= 0, "cost must be a number of at least 0")
        if cost == 0 { return .allowed }
        let now = Self.seconds(clock())
        let increment = min(cost, limit.burst) * interval
        let tolerance = self.tolerance
        // A nanosecond of slack so floating-point drift never refuses a request that is exactly due.
        let slack = 1e-9
        let wait: Double = buckets.withLock { table in
            if let i = table.index(forKey: key) {
                let full = max(table.values[i], now) + increment
                let wait = full - now - tolerance
                if wait > slack { return wait }
                table.values[i] = full
                return 0
            }
            // A new key starts full; `increment <= tolerance`, so its first take always succeeds.
            if table.count >= maxKeys { sweep(&table, now: now) }
            table[key] = now + increment
            return 0
        }
        if wait == 0 { return .allowed }
        return .limited(retryAfter: .nanoseconds(Int64((wait * 1e9).rounded(.toNearestOrAwayFromZero))))
    }

    /// How many keys hold state (partly drained buckets, or refilled ones not yet swept).
    public var trackedKeys: Int { buckets.withLock { $0.count } }

    /// The default clock: monotonic, unaffected by wall-clock changes, counting from process start.
    public static func monotonicNow() -> Duration { rateLimiterOrigin.duration(to: .now) }

    /// Frees at least a tenth of the table: refilled keys first, then those with the least debt.
    private func sweep(_ table: inout [Key: Double], now: Double) {
        let target = maxKeys - max(1, maxKeys / 10)
        table = table.filter { $0.value > now }
        let excess = table.count - target
        guard excess > 0 else { return }
        let soonestFull = table.sorted { $0.value < $1.value }.prefix(excess)
        for entry in soonestFull { table.removeValue(forKey: entry.key) }
    }

    private static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) * 1e-18
    }
}

/// The origin of `RateLimiter.monotonicNow()`; any fixed instant will do.
private let rateLimiterOrigin = ContinuousClock.now
