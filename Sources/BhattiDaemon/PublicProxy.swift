import BhattiAPI
public import BhattiCore
import BhattiHTTP
import BhattiStore
import Foundation

/// Where preview URLs point: path-based `http://HOST:PORT/<alias>/` by default, host-based
/// `http://<alias>.<zone>/` when a zone is configured.
public struct PreviewURLs: Sendable {
    /// The base a path-based URL starts with, e.g. `http://127.0.0.1:8081`.
    public var base: String?
    public var zone: String?

    public func url(alias: String) -> String? {
        if let zone {
            let scheme = base.flatMap { URL(string: $0)?.scheme } ?? "http"
            let port = base.flatMap { URL(string: $0)?.port }.map { ":\($0)" } ?? ""
            return "\(scheme)://\(alias).\(zone)\(port)/"
        }
        return base.map { "\($0)/\(alias)/" }
    }
}

/// The public proxy's token buckets (config `proxy_rate_limits`).
public struct ProxyRateLimits: Codable, Equatable, Sendable {
    /// Per client address: sized for dev servers, whose pages pull hundreds of modules at once.
    public var perAddress = ProxyRateLimits.fixed(perMinute: 1500, burst: 500)
    public var perAlias = ProxyRateLimits.fixed(perMinute: 5000, burst: 2000)

    public init() {}

    enum CodingKeys: String, CodingKey {
        case perAddress = "per_address"
        case perAlias = "per_alias"
    }

    private static func fixed(perMinute: Double, burst: Double) -> RateLimit {
        try! RateLimit(perMinute: perMinute, burst: burst)
    }
}

/// The public preview proxy (`--proxy-listen`): no API key; the alias in the path (or the host, with a
/// zone) picks a published port. An unknown alias is 404 before any rate limit is charged, so probing
/// costs the prober nothing it can use; known ones are limited per client address and per alias.
struct PublicProxy: HTTPHandler {
    let service: SandboxService
    let zone: String?
    let perAddress: RateLimiter<String>
    let perAlias: RateLimiter<String>

    /// `clock` is what the buckets refill by (the monotonic one); tests pass one they move by hand.
    init(
        service: SandboxService, zone: String?, limits: ProxyRateLimits = ProxyRateLimits(),
        clock: @escaping @Sendable () -> Duration = RateLimiter<String>.monotonicNow
    ) {
        self.service = service
        self.zone = zone?.lowercased()
        perAddress = RateLimiter(limit: limits.perAddress, maxKeys: 50_000, clock: clock)
        perAlias = RateLimiter(limit: limits.perAlias, maxKeys: 50_000, clock: clock)
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard let (alias, target, prefix) = locate(request) else {
            return Self.text(404, "no preview at this address")
        }
        if prefix != nil, target.isEmpty || target.hasPrefix("?") {
            // `/<alias>` without the slash: relative links in the page would miss the prefix.
            var moved = HTTPResponse(status: 308)
            moved.headers.set("Location", "/\(alias)/\(target)")
            return moved
        }
        guard let (rule, ref) = (try? await service.route(alias: alias)) ?? nil else {
            return Self.text(404, "no preview at this address")
        }
        for decision in [perAddress.take(request.remoteAddress ?? "unix"), perAlias.take(alias)] {
            if case .limited = decision {
                var limited = Self.text(429, "too many requests")
                limited.headers.set("Retry-After", String(decision.retryAfterSeconds))
                return limited
            }
        }
        do {
            return try await ProxyHandler.open(request, ref: ref, port: rule.port, target: target, prefix: prefix, service: service)
        } catch let error as BhattiError {
            let status = HTTPStatusMapping.status(for: error.code)
            // The guest's own words only for a gateway failure; nothing internal leaks to the public.
            return Self.text(
                status, error.code == .badGateway ? "bad gateway: nothing answers on port \(rule.port)" : "preview unavailable")
        } catch {
            return Self.text(500, "preview unavailable")
        }
    }

    /// The alias and the upstream target; `prefix` is set for a path-based URL.
    private func locate(_ request: HTTPRequest) -> (alias: String, target: String, prefix: String?)? {
        if let zone, let host = request.headers["Host"]?.lowercased() {
            let name = host.split(separator: ":").first.map(String.init) ?? host
            if name.hasSuffix("." + zone) {
                let alias = String(name.dropLast(zone.count + 1))
                return alias.contains(".") ? nil : (alias, request.target.isEmpty ? "/" : request.target, nil)
            }
        }
        let target = request.target
        guard target.hasPrefix("/") else { return nil }
        let afterSlash = target.dropFirst()
        let end = afterSlash.firstIndex { $0 == "/" || $0 == "?" } ?? afterSlash.endIndex
        let alias = String(afterSlash[..<end])
        guard !alias.isEmpty else { return nil }
        return (alias, String(afterSlash[end...]), "/" + alias)
    }

    private static func text(_ status: Int, _ message: String) -> HTTPResponse {
        .text(status: status, message + "\n")
    }
}
