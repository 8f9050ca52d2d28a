import BhattiSystem
import Foundation

/// Per-user networks (DESIGN §4): each user has a network namespace holding a bridge with the user's
/// /24 gateway; each VM has a persistent tap in it, attached to the bridge, which the engine opens
/// inside the namespace and hands to QEMU as an open fd. Users are isolated by construction: separate
/// namespaces share no link, and none has a link to the host's namespace, so a sandbox can reach the
/// sandboxes of its own user and nothing else (no egress yet).
///
/// Names carry a prefix derived from the data directory, so two daemons (tests run several) never
/// touch each other's namespaces. Every step is idempotent: after a crash or a host reboot, bringing a
/// sandbox back re-creates whatever is missing.
public actor NetworkManager {
    /// `bh` + 6 hex of the data directory's SHA-256.
    public nonisolated let prefix: String
    /// The pool's first address (100.64.0.0/10 by default): user `i` gets the /24 at `base + i * 256`.
    public nonisolated let base: UInt32
    public nonisolated let capacity: Int
    /// Name servers the guests are told about.
    public nonisolated let dns: [String]

    public init(dataDirectory: String, pool: String = "100.64.0.0/10", dns: [String] = []) throws {
        prefix = "bh" + String(sha256Hex(Array(dataDirectory.utf8)).prefix(6))
        guard let (address, length) = Self.parseCIDR(pool), length <= 24 else {
            throw EngineError.unsupported("network pool must be an IPv4 CIDR of /24 or larger, got \(pool)")
        }
        base = address & ~((1 << (32 - UInt32(length))) - 1)
        capacity = 1 << (24 - length)
        self.dns = dns
    }

    public nonisolated func namespace(index: Int) -> String { "\(prefix)-\(index)" }

    /// The user's gateway (the bridge's address) and prefix length.
    public nonisolated func gateway(index: Int) -> String { Self.format(base + UInt32(index) * 256 + 1) }

    /// A sandbox's address in the user's /24: host 2…254.
    public nonisolated func address(index: Int, host: Int) -> String { Self.format(base + UInt32(index) * 256 + UInt32(host)) }

    /// Creates the user's namespace and bridge when missing.
    public func ensureUser(index: Int) async throws {
        guard index >= 0, index < capacity else { throw EngineError.unsupported("the network pool has no /24 left (\(capacity) users)") }
        let ns = namespace(index: index)
        if !FileManager.default.fileExists(atPath: "/run/netns/" + ns) {
            try await ip(["netns", "add", ns])
        }
        if (try? await ip(["-n", ns, "link", "show", "br0"])) == nil {
            try await ip(["-n", ns, "link", "set", "lo", "up"])
            try await ip(["-n", ns, "link", "add", "br0", "type", "bridge"])
            try await ip(["-n", ns, "addr", "add", gateway(index: index) + "/24", "dev", "br0"])
            try await ip(["-n", ns, "link", "set", "br0", "up"])
        }
    }

    /// The card of sandbox `id` at `host` in user `index`'s network: its tap made (persistent, on the
    /// bridge) when missing.
    public func attach(id: String, index: Int, host: Int) async throws -> NetworkInterface {
        try await ensureUser(index: index)
        let ns = namespace(index: index), tap = Self.tapName(id)
        if (try? await ip(["-n", ns, "link", "show", tap])) == nil {
            try await ip(["-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"])
            try await ip(["-n", ns, "link", "set", tap, "master", "br0"])
        }
        try await ip(["-n", ns, "link", "set", tap, "up"])
        return NetworkInterface(
            namespace: ns, tap: tap, mac: NetworkInterface.mac(for: id), address: address(index: index, host: host) + "/24",
            gateway: gateway(index: index), dns: dns)
    }

    /// Removes sandbox `id`'s tap.
    public func detach(id: String, index: Int) async {
        try? await ip(["-n", namespace(index: index), "link", "del", Self.tapName(id)])
    }

    /// Removes a user's namespace (with its bridge and any taps left in it).
    public func removeUser(index: Int) async {
        try? await ip(["netns", "del", namespace(index: index)])
    }

    /// This daemon's namespaces, by index.
    public func existing() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return names.compactMap { name in
            guard name.hasPrefix(prefix + "-") else { return nil }
            return Int(name.dropFirst(prefix.count + 1))
        }.sorted()
    }

    /// Removes every namespace of this daemon except those of `keep` (orphans of a crash, or all of
    /// them when a test is done).
    public func removeAll(except keep: Set<Int> = []) async -> Int {
        var removed = 0
        for index in existing() where !keep.contains(index) {
            await removeUser(index: index)
            removed += 1
        }
        return removed
    }

    /// `t` + 12 hex of the id: unique within a namespace, inside the 15-byte interface name limit.
    static func tapName(_ id: String) -> String { "t" + String(id.prefix(12)) }

    private func ip(_ arguments: [String]) async throws {
        try await runTool("ip", arguments)
    }

    static func parseCIDR(_ text: String) -> (UInt32, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length) else { return nil }
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 < 256 }) else { return nil }
        return (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3], length)
    }

    static func format(_ a: UInt32) -> String { "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)" }
}
