import BhattiCore
import BhattiHTTP
import Foundation

/// Per-user rate limits by class of request (SPEC §8), from the config file's `rate_limits`.
public struct RateLimits: Codable, Equatable, Sendable {
    /// Creating sandboxes (fresh, fork, or from a snapshot): each one is a VM.
    public var create = RateLimits.fixed(perMinute: 10, burst: 10)
    /// Exec, shells, piped sessions and file uploads: work in the guest.
    public var exec = RateLimits.fixed(perMinute: 120, burst: 30)
    /// Everything else: reads, and cheap metadata writes.
    public var read = RateLimits.fixed(perMinute: 600, burst: 60)

    public init() {}

    /// The defaults above are valid by inspection; `RateLimit` validates whatever a config file says.
    private static func fixed(perMinute: Double, burst: Double) -> RateLimit {
        try! RateLimit(perMinute: perMinute, burst: burst)
    }
}

/// Which bucket a request draws from.
public enum RequestClass: String, Sendable, CaseIterable {
    case create, exec, read

    /// Classifies by method and path segments (`["v1", "sandboxes", id, …]`).
    public static func of(method: String, parts: [String]) -> RequestClass {
        guard parts.count >= 2, parts[0] == "v1" else { return .read }
        switch (method, parts.count) {
        case ("POST", 2) where parts[1] == "sandboxes": return .create
        case ("POST", 4) where parts[1] == "snapshots" && parts[3] == "restore": return .create
        default: break
        }
        guard parts[1] == "sandboxes", parts.count >= 4 else { return .read }
        switch (method, parts[3]) {
        case ("POST", "exec"), ("GET", "shell"), ("GET", "exec"), ("PUT", "files"): return .exec
        default: return .read
        }
    }
}

/// The door every authenticated route goes through: who is calling (Bearer key only), and whether
/// their bucket for this kind of request has a token. The admin, the host's operator, is not rate
/// limited: scripts and benchmarks on the host drive it hard on purpose.
public final class Gate: Sendable {
    public let users: UserDirectory
    private let limiters: [RequestClass: RateLimiter<String>]
    private let events: EventLog

    /// At least this many users' buckets are kept per class; a user beyond it whose bucket is evicted
    /// gets a fresh one, which bounds memory whatever the number of users.
    public static let trackedUsers = 20_000

    /// `clock` is what the buckets refill by (the monotonic one); tests pass one they move by hand.
    public init(
        users: UserDirectory, limits: RateLimits, events: EventLog,
        clock: @escaping @Sendable () -> Duration = RateLimiter<String>.monotonicNow
    ) {
        self.users = users
        self.events = events
        limiters = [
            .create: RateLimiter(limit: limits.create, maxKeys: Self.trackedUsers, clock: clock),
            .exec: RateLimiter(limit: limits.exec, maxKeys: Self.trackedUsers, clock: clock),
            .read: RateLimiter(limit: limits.read, maxKeys: Self.trackedUsers, clock: clock),
        ]
    }

    /// Buckets held across the classes: bounded by `trackedUsers` each, whatever the number of users.
    public var trackedBuckets: Int { limiters.values.reduce(0) { $0 + $1.trackedKeys } }

    /// The caller, or `unauthenticated` (401) / `rateLimited` (429, with the wait in `retryAfter`).
    public func admit(_ request: HTTPRequest, parts: [String]) throws(GateRefusal) -> Caller {
        if request.query.keys.contains(where: { ["token", "access_token", "api_key", "key"].contains($0.lowercased()) }) {
            throw refuse(request, "tokens in query strings are refused; send Authorization: Bearer <key>", reason: "query token")
        }
        guard let header = request.headers["Authorization"] else {
            throw refuse(request, "authorization required: send Authorization: Bearer <key>", reason: "no key")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), let user = users.authenticate(key: String(header.dropFirst(prefix.count))) else {
            throw refuse(request, "invalid api key", reason: "invalid key")
        }
        let caller = Caller(user: user)
        if !user.isAdmin, let limiter = limiters[RequestClass.of(method: request.method, parts: parts)] {
            let decision = limiter.take(user.id)
            if decision != .allowed {
                let wait = decision.retryAfterSeconds
                throw GateRefusal(error: BhattiError(.rateLimited, "rate limit exceeded; retry in \(wait) s"), retryAfter: wait)
            }
        }
        return caller
    }

    private func refuse(_ request: HTTPRequest, _ message: String, reason: String) -> GateRefusal {
        // Never the key itself: only what was wrong and where.
        events.record("auth.failed", detail: "\(reason): \(request.method) \(request.path)")
        return GateRefusal(error: BhattiError(.unauthenticated, message), retryAfter: nil)
    }
}

/// Why the gate said no, and for a rate limit how long to wait (`Retry-After`).
public struct GateRefusal: Error {
    public let error: BhattiError
    public let retryAfter: Int?
}
