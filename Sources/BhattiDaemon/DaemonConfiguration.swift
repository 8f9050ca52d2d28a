public import BhattiCore
public import BhattiEngine
import Foundation

/// The daemon's settings: defaults, overridden by a JSON file, overridden by flags. Immutable once running.
public struct DaemonConfiguration: Codable, Equatable, Sendable {
    public var dataDirectory: String = "/var/lib/bhatti"
    /// The image registered as `default` (built by the admin, seen by every user); other images are
    /// `<data-dir>/images/<name>/` (see `ImageRegistry`).
    public var imageDirectory: String?
    /// The image a create without `image` boots.
    public var defaultImage: String = "default"
    /// `HOST:PORT` for the TCP listener; empty disables it.
    public var listen: String = "127.0.0.1:8080"
    public var accelerator: AcceleratorChoice = .auto
    /// Seconds to wait for a booting guest's agent.
    public var bootTimeoutSeconds: Int = 90
    /// Seconds a response may go without the client taking a byte before its connection is closed (a
    /// client that stops reading); 0 never closes it.
    public var clientWriteTimeoutSeconds: Int = 60
    /// The largest archive `POST /v1/images/{name}/import` takes (413 past it).
    public var maxImportBytes: Int = 16 << 30
    /// Whether to write the client config (~/.bhatti/config.json) on first start when absent.
    public var writeClientConfig: Bool = true
    /// Idle time before a hot sandbox is paused (`30s`, `500ms`, `5m`; `off` never).
    public var warmAfter: String = "30s"
    /// Time warm before a sandbox is snapshotted to disk.
    public var coldAfter: String = "30m"
    /// Keep a booted template snapshot per size so creates restore it instead of booting.
    public var templates: Bool = true
    /// `HOST:PORT` of the public preview proxy; empty disables it.
    public var proxyListen: String = "127.0.0.1:8081"
    /// With a zone, preview URLs are `<alias>.<zone>`; without, `/<alias>/` on the proxy.
    public var proxyZone: String?
    /// The proxy's address as users reach it (e.g. `https://preview.example.com`), for the URLs shown;
    /// default `http://<proxy_listen>`.
    public var proxyURL: String?
    /// PEM certificate chain and private key: with both, the public proxy speaks only HTTPS.
    public var proxyTLSCertificate: String?
    public var proxyTLSKey: String?
    /// The public proxy's per-address and per-alias token buckets.
    public var proxyRateLimits = ProxyRateLimits()
    /// Give sandboxes a network card on their user's network (namespaces, bridges, taps; needs root).
    public var network = true
    /// Where users' /24s come from.
    public var networkPool = "100.64.0.0/10"
    /// Let `public` egress reach private, loopback, link-local and multicast addresses (the operator's
    /// internal network); off, only a sandbox's own `allow_cidrs` open them.
    public var allowPrivateEgress = false
    /// The file naming the host's resolvers, where each user's DNS sends what it does not answer itself.
    public var resolvConf = "/etc/resolv.conf"
    /// The unprivileged system user whose group every QEMU runs in (each with a uid of its sandbox's own,
    /// in its own mount namespace; created when missing); empty runs QEMU as the daemon's user with the
    /// daemon's view of the filesystem.
    public var vmmUser = "bhatti-vmm"
    /// I/O limits for users without their own (`user create --disk-bytes-per-s …`); 0 is unlimited.
    public var ioLimits = IOLimits.unlimited
    /// Per-user token buckets by class of request; the admin is exempt.
    public var rateLimits = RateLimits()

    public init() {}

    /// The thermal policy these settings describe; throws on a malformed duration.
    public var thermalPolicy: ThermalPolicy {
        get throws {
            ThermalPolicy(
                warmAfter: try parseDuration(warmAfter, flag: "--warm-after"),
                coldAfter: try parseDuration(coldAfter, flag: "--cold-after"), templates: templates)
        }
    }

    enum CodingKeys: String, CodingKey {
        case dataDirectory = "data_dir"
        case imageDirectory = "image_dir"
        case defaultImage = "default_image"
        case listen
        case accelerator = "accel"
        case bootTimeoutSeconds = "boot_timeout_s"
        case clientWriteTimeoutSeconds = "client_write_timeout_s"
        case maxImportBytes = "max_import_bytes"
        case writeClientConfig = "write_client_config"
        case warmAfter = "warm_after"
        case coldAfter = "cold_after"
        case templates
        case rateLimits = "rate_limits"
        case proxyListen = "proxy_listen"
        case proxyZone = "proxy_zone"
        case proxyURL = "proxy_url"
        case proxyRateLimits = "proxy_rate_limits"
        case proxyTLSCertificate = "proxy_tls_cert"
        case proxyTLSKey = "proxy_tls_key"
        case network
        case networkPool = "network_pool"
        case allowPrivateEgress = "allow_private_egress"
        case resolvConf = "resolv_conf"
        case vmmUser = "vmm_user"
        case ioLimits = "io_limits"
    }

    /// A private daemon for tests and benchmarks: its own data directory, no TCP unless asked, and the
    /// user's client config left alone.
    public static func isolated(dataDirectory: String, imageDirectory: String, listen: String = "") -> DaemonConfiguration {
        var config = DaemonConfiguration()
        config.dataDirectory = dataDirectory
        config.imageDirectory = imageDirectory
        config.listen = listen
        config.proxyListen = ""
        // Namespaces need root and outlive a test's data directory: network tests turn it on and clean up.
        config.network = false
        config.writeClientConfig = false
        // Background template boots would compete with the tests for the CPU; the template test turns them on.
        config.templates = false
        return config
    }

    /// The image directory: explicit, or `<data-dir>/images/default`.
    public var resolvedImageDirectory: String { imageDirectory ?? dataDirectory + "/images/default" }

    /// Reads a JSON config file; unknown keys are refused so a typo is not silently ignored.
    public static func load(file path: String) throws -> DaemonConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BhattiError(.invalidArgument, "cannot read config file \(path)")
        }
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let object else { throw BhattiError(.invalidArgument, "config file \(path) is not a JSON object") }
        let known = Set([
            "data_dir", "image_dir", "default_image", "listen", "accel", "boot_timeout_s", "client_write_timeout_s", "write_client_config",
            "warm_after", "max_import_bytes",
            "cold_after", "templates", "rate_limits", "proxy_listen", "proxy_zone", "proxy_url", "proxy_rate_limits", "proxy_tls_cert",
            "proxy_tls_key", "network", "network_pool", "vmm_user", "io_limits", "allow_private_egress", "resolv_conf",
        ])
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw BhattiError(.invalidArgument, "config file \(path): unknown key \"\(unknown)\"")
        }
        var merged = DaemonConfiguration()
        let decoded: PartialConfiguration
        do { decoded = try JSONDecoder().decode(PartialConfiguration.self, from: data) } catch {
            throw BhattiError(.invalidArgument, "config file \(path): \(error)", cause: error)
        }
        if let v = decoded.data_dir { merged.dataDirectory = v }
        if let v = decoded.image_dir { merged.imageDirectory = v }
        if let v = decoded.default_image { merged.defaultImage = v }
        if let v = decoded.listen { merged.listen = v }
        if let v = decoded.accel { merged.accelerator = v }
        if let v = decoded.boot_timeout_s { merged.bootTimeoutSeconds = v }
        if let v = decoded.max_import_bytes {
            guard v > 0 else { throw BhattiError(.invalidArgument, "config file \(path): max_import_bytes must be more than 0, got \(v)") }
            merged.maxImportBytes = v
        }
        if let v = decoded.client_write_timeout_s {
            guard v >= 0 else {
                throw BhattiError(.invalidArgument, "config file \(path): client_write_timeout_s must be 0 or more, got \(v)")
            }
            merged.clientWriteTimeoutSeconds = v
        }
        if let v = decoded.write_client_config { merged.writeClientConfig = v }
        if let v = decoded.warm_after { merged.warmAfter = v }
        if let v = decoded.cold_after { merged.coldAfter = v }
        if let v = decoded.templates { merged.templates = v }
        if let v = decoded.rate_limits { merged.rateLimits = v }
        if let v = decoded.proxy_listen { merged.proxyListen = v }
        if let v = decoded.proxy_zone { merged.proxyZone = v }
        if let v = decoded.proxy_url { merged.proxyURL = v }
        if let v = decoded.proxy_rate_limits { merged.proxyRateLimits = v }
        if let v = decoded.proxy_tls_cert { merged.proxyTLSCertificate = v }
        if let v = decoded.proxy_tls_key { merged.proxyTLSKey = v }
        if (merged.proxyTLSCertificate == nil) != (merged.proxyTLSKey == nil) {
            throw BhattiError(.invalidArgument, "config file \(path): proxy_tls_cert and proxy_tls_key go together")
        }
        if let v = decoded.network { merged.network = v }
        if let v = decoded.network_pool { merged.networkPool = v }
        if let v = decoded.allow_private_egress { merged.allowPrivateEgress = v }
        if let v = decoded.resolv_conf { merged.resolvConf = v }
        if let v = decoded.vmm_user { merged.vmmUser = v }
        if let v = decoded.io_limits {
            do { try v.validate() } catch { throw BhattiError(.invalidArgument, "config file \(path): io_limits: \(error.message)") }
            merged.ioLimits = v
        }
        _ = try merged.thermalPolicy
        return merged
    }

    /// Splits `listen` into host and port; nil when TCP is disabled.
    public func listenAddress() throws -> (host: String, port: Int)? {
        try Self.address(listen, flag: "--listen")
    }

    /// Splits `proxy_listen`; nil when the public proxy is disabled.
    public func proxyAddress() throws -> (host: String, port: Int)? {
        try Self.address(proxyListen, flag: "--proxy-listen")
    }

    static func address(_ listen: String, flag: String) throws -> (host: String, port: Int)? {
        if listen.isEmpty { return nil }
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw BhattiError(.invalidArgument, "\(flag) must be HOST:PORT, got \"\(listen)\"")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        return (host, port)
    }
}

private struct PartialConfiguration: Decodable {
    var data_dir: String?
    var image_dir: String?
    var default_image: String?
    var listen: String?
    var accel: AcceleratorChoice?
    var boot_timeout_s: Int?
    var client_write_timeout_s: Int?
    var max_import_bytes: Int?
    var write_client_config: Bool?
    var warm_after: String?
    var cold_after: String?
    var templates: Bool?
    var rate_limits: RateLimits?
    var proxy_listen: String?
    var proxy_zone: String?
    var proxy_url: String?
    var proxy_rate_limits: ProxyRateLimits?
    var proxy_tls_cert: String?
    var proxy_tls_key: String?
    var network: Bool?
    var network_pool: String?
    var allow_private_egress: Bool?
    var resolv_conf: String?
    var vmm_user: String?
    var io_limits: IOLimits?
}

/// `500ms`, `30s`, `5m`, `2h` (a bare number is seconds); `off` or `never` gives nil.
public func parseDuration(_ text: String, flag: String) throws -> Duration? {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    if t == "off" || t == "never" { return nil }
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where t.hasSuffix(suffix) {
        let number = t.dropLast(suffix.count)
        if let n = Double(number), n >= 0, suffix != "s" || !number.hasSuffix("m") {
            return .milliseconds(Int64((n * scale * 1000).rounded()))
        }
    }
    if let n = Double(t), n >= 0 { return .milliseconds(Int64((n * 1000).rounded())) }
    throw BhattiError(.invalidArgument, "\(flag) must be a duration like 500ms, 30s, 5m or off, got \"\(text)\"")
}
