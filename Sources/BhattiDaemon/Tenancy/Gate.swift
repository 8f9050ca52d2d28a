public import BhattiAPI
public import BhattiCore
public import BhattiHTTP
import BhattiStore
import Foundation

/// Per-user rate limits by class of request (SPEC §8), from the config file's `rate_limits`.
public struct RateLimits: Codable, Equatable, Sendable {
    /// Creating sandboxes (fresh, fork, or from a snapshot): each one is a VM.
    public var create = RateLimits.fixed(perMinute: 10, burst: 10)
    /// Exec, shells, piped sessions and file uploads: work in the guest.
    public var exec = RateLimits.fixed(perMinute: 120, burst: 30)
    /// Everything else: reads, and cheap metadata writes.
    public var read = RateLimits.fixed(perMinute: 600, burst: 60)
    /// Failed authentications per source (a TCP client's address; the unix socket is one source).
    /// Past it a failure answers 429 and is not written to the audit log; a valid key always passes.
    public var authFailures = RateLimits.fixed(perMinute: 30, burst: 30)

    public init() {}

    enum CodingKeys: String, CodingKey {
        case create, exec, read
        case authFailures = "auth_failures"
    }

    /// Each class is optional in a config file: the ones left out keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        create = try c.decodeIfPresent(RateLimit.self, forKey: .create) ?? create
        exec = try c.decodeIfPresent(RateLimit.self, forKey: .exec) ?? exec
        read = try c.decodeIfPresent(RateLimit.self, forKey: .read) ?? read
        authFailures = try c.decodeIfPresent(RateLimit.self, forKey: .authFailures) ?? authFailures
    }

    /// The defaults above are valid by inspection; `RateLimit` validates whatever a config file says.
    private static func fixed(perMinute: Double, burst: Double) -> RateLimit {
        try! RateLimit(perMinute: perMinute, burst: burst)
    }
}

/// Which bucket a request draws from.
public enum RequestClass: String, Sendable, CaseIterable {
    case create, exec, read

    /// Classifies by route; a request no route serves (refused after the key check) is a read.
    public static func of(_ route: APIRoute?) -> RequestClass {
        switch route {
        case .createSandbox?, .restoreSnapshot?: .create
        case .exec?, .execSocket?, .shell?, .writeFile?: .exec
        default: .read
        }
    }
}

/// The door every authenticated route goes through: who is calling (Bearer key only), and whether
/// their bucket for this kind of request has a token. The admin, the host's operator, is not rate
/// limited: scripts and benchmarks on the host drive it hard on purpose.
///
/// Failed authentications are limited per source, not per key: a source past its budget gets 429
/// instead of 401, and its failures stop reaching the audit log, so a flood of bad keys neither
/// fills the log nor costs more than a refusal. The key is checked first, so a valid key is never
/// refused by this limit, whoever else shares its source (a NAT, the unix socket): keys carry 256
/// random bits, so the limit has no guessing to slow down, only noise to bound.
public final class Gate: Sendable {
    public let users: UserDirectory
    private let limiters: [RequestClass: RateLimiter<String>]
    private let failures: RateLimiter<String>
    private let events: EventLog

    /// At least this many users' buckets are kept per class; a user beyond it whose bucket is evicted
    /// gets a fresh one, which bounds memory whatever the number of users.
    public static let trackedUsers = 20_000
    /// Sources whose failed authentications are tracked; an evicted source starts afresh.
    public static let trackedSources = 50_000

    /// `clock` drives every bucket (the time since any fixed origin); tests pass a fake one.
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
        failures = RateLimiter(limit: limits.authFailures, maxKeys: Self.trackedSources, clock: clock)
    }

    /// Buckets held across the classes: bounded by `trackedUsers` each, whatever the number of users.
    public var trackedBuckets: Int { limiters.values.reduce(0) { $0 + $1.trackedKeys } }

    /// The caller, or `unauthenticated` (401) / `rateLimited` (429, with the wait in `retryAfter`).
    /// `apiKeyHeader`: a header that carries the key bare, in place of `Authorization: Bearer`
    /// (E2B's `X-API-Key`).
    public func admit(_ request: HTTPRequest, route: APIRoute?, apiKeyHeader: String? = nil) throws(GateRefusal) -> Caller {
        try admit(request, as: RequestClass.of(route), apiKeyHeader: apiKeyHeader)
    }

    /// The same for a request classed by its caller (the E2B API, whose routes are not `APIRoute`s).
    public func admit(_ request: HTTPRequest, as kind: RequestClass, apiKeyHeader: String? = nil) throws(GateRefusal) -> Caller {
        let user: UserRecord
        switch authenticate(request, apiKeyHeader: apiKeyHeader) {
        case .success(let found): user = found
        case .failure(let failure): throw refuse(request, failure)
        }
        if !user.isAdmin { try charge(user.id, kind) }
        return Caller(user: user)
    }

    /// Takes a token from the user's bucket for `kind`, or `rateLimited` (429). For requests that
    /// prove themselves some other way than a key (E2B's envd, by a sandbox's token), charged to the
    /// sandbox's owner; the admin is not charged.
    public func charge(_ userID: String, _ kind: RequestClass) throws(GateRefusal) {
        guard userID != users.adminID, let limiter = limiters[kind] else { return }
        let decision = limiter.take(userID)
        if decision != .allowed {
            let wait = decision.retryAfterSeconds
            throw GateRefusal(error: BhattiError(.rateLimited, "rate limit exceeded; retry in \(wait) s"), retryAfter: wait)
        }
    }

    /// Why a request names no user; `message` is for the client, `reason` for the audit log.
    struct AuthFailure: Error {
        let message: String
        let reason: String
    }

    private func authenticate(_ request: HTTPRequest, apiKeyHeader: String?) -> Result<UserRecord, AuthFailure> {
        if request.query.keys.contains(where: { ["token", "access_token", "api_key", "key"].contains($0.lowercased()) }) {
            return .failure(
                AuthFailure(message: "tokens in query strings are refused; send Authorization: Bearer <key>", reason: "query token"))
        }
        if let apiKeyHeader {
            guard let key = request.headers[apiKeyHeader] else {
                return .failure(AuthFailure(message: "authorization required: send \(apiKeyHeader): <key>", reason: "no key"))
            }
            guard let user = users.authenticate(key: key) else {
                return .failure(AuthFailure(message: "invalid api key", reason: "invalid key"))
            }
            return .success(user)
        }
        guard let header = request.headers["Authorization"] else {
            return .failure(AuthFailure(message: "authorization required: send Authorization: Bearer <key>", reason: "no key"))
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), let user = users.authenticate(key: String(header.dropFirst(prefix.count))) else {
            return .failure(AuthFailure(message: "invalid api key", reason: "invalid key"))
        }
        return .success(user)
    }

    /// Where a request came from, for the failure budget: the peer address over TCP (the client's,
    /// through the TLS terminator); every unix-socket client is one source.
    static func source(of request: HTTPRequest) -> String { request.remoteAddress ?? "unix socket" }

    private func refuse(_ request: HTTPRequest, _ failure: AuthFailure) -> GateRefusal {
        let source = Self.source(of: request)
        let decision = failures.take(source)
        if decision != .allowed {
            let wait = decision.retryAfterSeconds
            return GateRefusal(
                error: BhattiError(.rateLimited, "too many failed authentications from \(source); retry in \(wait) s"), retryAfter: wait)
        }
        // Never the key itself: only what was wrong, where, and from where.
        events.record(
            EventRetention.authFailed, detail: "\(failure.reason): \(request.method) \(BhattiError.shortened(request.path)) from \(source)")
        return GateRefusal(error: BhattiError(.unauthenticated, failure.message), retryAfter: nil)
    }
}

/// Why the gate said no, and for a rate limit how long to wait (`Retry-After`).
public struct GateRefusal: Error {
    public let error: BhattiError
    public let retryAfter: Int?
}
