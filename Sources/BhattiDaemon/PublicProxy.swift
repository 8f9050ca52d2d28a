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

    /// The domain E2B's `get_host(port)` puts after `<port>-<sandbox id>.`: the zone, or `localhost`
    /// (which resolves to the loopback by itself), with the proxy's port when it is not the scheme's
    /// own; nil without a public proxy.
    public var e2bDomain: String? {
        guard let base, let url = URL(string: base) else { return zone }
        let port = url.port.map { ":\($0)" } ?? ""
        return (zone ?? "localhost") + port
    }

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
        if let (port, id) = Self.e2bHost(request.headers["Host"], zone: zone), let response = await e2bPort(request, port: port, id: id) {
            return response
        }
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
        if let limited = limited(request, alias: alias) { return limited }
        return await relay(request, ref: ref, port: rule.port, target: target, prefix: prefix)
    }

    /// `<port>-<sandbox id>.<zone>` (or `.localhost`, which resolves to the loopback by itself), the
    /// host E2B's `get_host(port)` names: any port of a sandbox made through the E2B API, whose ports
    /// are public as E2B's are. Every other sandbox is reached only through its published aliases:
    /// nil, and the host is taken as an alias.
    private func e2bPort(_ request: HTTPRequest, port: Int, id: String) async -> HTTPResponse? {
        guard let sandboxID = SandboxID(rawValue: id), (try? await service.store.isE2BSandbox(sandboxID)) == true,
            let record = try? await service.sandbox(sandboxID)
        else { return nil }
        if let limited = limited(request, alias: "\(port)-\(id)") { return limited }
        let ref = SandboxRef(record.id.rawValue, owner: record.userID ?? "")
        return await relay(request, ref: ref, port: port, target: request.target.isEmpty ? "/" : request.target, prefix: nil)
    }

    /// 429 with `Retry-After` when the client's address or the alias has run out of requests.
    private func limited(_ request: HTTPRequest, alias: String) -> HTTPResponse? {
        for decision in [perAddress.take(request.remoteAddress ?? "unix"), perAlias.take(alias)] {
            if case .limited = decision {
                var limited = Self.text(429, "too many requests")
                limited.headers.set("Retry-After", String(decision.retryAfterSeconds))
                return limited
            }
        }
        return nil
    }

    private func relay(_ request: HTTPRequest, ref: SandboxRef, port: Int, target: String, prefix: String?) async -> HTTPResponse {
        do {
            return try await ProxyHandler.open(request, ref: ref, port: port, target: target, prefix: prefix, service: service)
        } catch let error as BhattiError {
            let status = HTTPStatusMapping.status(for: error.code)
            // The guest's own words only for a gateway failure; nothing internal leaks to the public.
            return Self.text(status, error.code == .badGateway ? "bad gateway: nothing answers on port \(port)" : "preview unavailable")
        } catch {
            return Self.text(500, "preview unavailable")
        }
    }

    /// The port and sandbox id of an E2B host, `<port>-<id>.<zone or localhost>[:port]`.
    static func e2bHost(_ host: String?, zone: String?) -> (port: Int, id: String)? {
        guard let host = host?.lowercased() else { return nil }
        let name = host.split(separator: ":").first.map(String.init) ?? host
        guard
            let label = [zone, "localhost"].compactMap({ $0 }).lazy.compactMap({ zone in
                name.hasSuffix("." + zone) ? String(name.dropLast(zone.count + 1)) : nil
            }).first
        else { return nil }
        let parts = label.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(parts[0]), (1...65535).contains(port),
            parts[1].count == 16, parts[1].allSatisfy(\.isHexDigit)
        else { return nil }
        return (port, String(parts[1]))
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
