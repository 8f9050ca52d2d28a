import BhattiSystem
import Foundation

/// Per-user networks (DESIGN §4): each user has a network namespace holding a bridge with the user's
/// /24 gateway; each VM has a persistent tap in it, attached to the bridge, which the engine opens
/// inside the namespace and hands to QEMU as an open fd. Users are isolated by construction: separate
/// namespaces share no link with each other. Each namespace has one veth to the host for egress: the
/// host routes the user's /24 to it and masquerades what leaves for the uplink, while its nftables table
/// drops anything from a user's veth to the host itself, to another user's veth (of this daemon or any
/// other: every daemon's veths share an interface group), or to link-local addresses (cloud metadata
/// services). Egress policy lives in the user's namespace, in its own nftables table: `deny` plus
/// allowed CIDRs per sandbox, and no private, loopback, link-local or multicast destinations for
/// `public` unless allowed. Each user's gateway answers DNS (`DNSResponder`).
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
    /// Each user's DNS: the user's sandbox names, and the host's resolvers for the rest.
    public nonisolated let dns: DNSResponder
    /// Whether `public` egress may reach private, loopback, link-local and multicast addresses
    /// (`allow_private_egress`); without it only a sandbox's own `allow_cidrs` open them.
    public nonisolated let allowPrivateEgress: Bool

    /// `upstreams`: the host's resolvers (`ResolvConf.nameServers`), loopback ones included.
    public init(dataDirectory: String, pool: String = "100.64.0.0/10", upstreams: [String] = [], allowPrivateEgress: Bool = false) throws {
        prefix = "bh" + String(sha256Hex(Array(dataDirectory.utf8)).prefix(6))
        guard let (address, length) = Self.parseCIDR(pool), length <= 24 else {
            throw EngineError.unsupported("network pool must be an IPv4 CIDR of /24 or larger, got \(pool)")
        }
        base = address & ~((1 << (32 - UInt32(length))) - 1)
        capacity = 1 << (24 - length)
        dns = try DNSResponder(upstreams: upstreams)
        self.allowPrivateEgress = allowPrivateEgress
    }

    /// The interface group of every bhatti daemon's host-side veths (`ip link set … group`): the host
    /// table of each daemon drops forwarding between any two of them, so guests of two daemons on one
    /// host never reach each other, whichever daemons are running.
    public static let vethGroup = 0x6268

    public nonisolated func namespace(index: Int) -> String { "\(prefix)-\(index)" }

    /// The user's gateway (the bridge's address) and prefix length.
    public nonisolated func gateway(index: Int) -> String { IPv4.format(base + UInt32(index) * 256 + 1) }

    /// A sandbox's address in the user's /24: host 2…254.
    public nonisolated func address(index: Int, host: Int) -> String { IPv4.format(base + UInt32(index) * 256 + UInt32(host)) }

    /// Whether the host side (forwarding, the NAT and filter table) is set up in this process.
    private var hostReady = false
    /// The user set-up under way, by pool index (`ensureUser`).
    private var settingUp: [Int: Task<Void, any Error>] = [:]

    /// The host's part, once per daemon: IPv4 forwarding on, and this daemon's nftables table (made
    /// afresh, atomically).
    func prepareHost() async throws {
        guard !hostReady else { return }
        try await runTool("sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"])
        // Veths made by a daemon from before the group existed.
        for index in existing() { try? await ip(["link", "set", "dev", veth(index: index).host, "group", String(Self.vethGroup)]) }
        let veths = "\"bv\(prefix.dropFirst(2))*\""
        let pool = IPv4.format(base) + "/\(32 - Int(log2(Double(capacity))) - 8)"
        try await nft(
            namespace: nil,
            """
            table ip \(hostTable) {}
            delete table ip \(hostTable)
            table ip \(hostTable) {
                chain input { type filter hook input priority -10; policy accept; iifname \(veths) drop; }
                chain forward {
                    type filter hook forward priority -10; policy accept;
                    iifgroup \(Self.vethGroup) oifgroup \(Self.vethGroup) drop
                    iifname \(veths) oifname \(veths) drop
                    iifname \(veths) ip daddr 169.254.0.0/16 drop
                }
                chain postrouting { type nat hook postrouting priority 100; policy accept; ip saddr \(pool) oifname != \(veths) masquerade; }
            }
            """)
        hostReady = true
    }

    nonisolated var hostTable: String { "bhatti_" + prefix }

    /// The veth's host end (`bv` + 6 hex + index) and the /30 it shares with the namespace's end, in
    /// 169.254.0.0/16 at an offset that follows the pool, so daemons with different pools (tests beside
    /// a production daemon) never share one.
    public nonisolated func veth(index: Int) -> (host: String, hostAddress: String, nsAddress: String) {
        let slot = (UInt32((base >> 8) & 0x3FFF) + UInt32(index)) % 16384
        let transfer = (169 << 24 | 254 << 16) + slot * 4
        return ("bv" + prefix.dropFirst(2) + String(index), IPv4.format(transfer + 1), IPv4.format(transfer + 2))
    }

    /// Creates the user's namespace, bridge and veth to the host when missing. One set-up per user
    /// at a time: the actor runs others while one waits on `ip`, and two first creates of a user
    /// both adding its namespace made the second fail ("File exists").
    public func ensureUser(index: Int) async throws {
        while let running = settingUp[index] { _ = try? await running.value }
        // The task clears its own entry before it completes, so a waiter that wakes when it does
        // finds none (the caller clearing it later let waiters spin on a finished task).
        let setUp = Task {
            defer { settingUp[index] = nil }
            try await setUpUser(index: index)
        }
        settingUp[index] = setUp
        try await setUp.value
    }

    private func setUpUser(index: Int) async throws {
        guard index >= 0, index < capacity else { throw EngineError.unsupported("the network pool has no /24 left (\(capacity) users)") }
        let ns = namespace(index: index)
        if !FileManager.default.fileExists(atPath: "/run/netns/" + ns) {
            dns.stop(index: index, keepZone: true)  // its sockets were in the namespace that is gone
            try await ip(["netns", "add", ns])
        }
        if (try? await ip(["-n", ns, "link", "show", "br0"])) == nil {
            try await ip(["-n", ns, "link", "set", "lo", "up"])
            try await ip(["-n", ns, "link", "add", "br0", "type", "bridge"])
            try await ip(["-n", ns, "addr", "add", gateway(index: index) + "/24", "dev", "br0"])
            try await ip(["-n", ns, "link", "set", "br0", "up"])
        }
        try await prepareHost()
        let v = veth(index: index)
        if (try? await ip(["-n", ns, "link", "show", "up0"])) == nil {
            shaped[index] = nil  // a new veth has no qdisc yet
            try? await ip(["link", "del", v.host])
            try await ip(["link", "add", v.host, "type", "veth", "peer", "name", "up0", "netns", ns])
            try await ip(["link", "set", "dev", v.host, "group", String(Self.vethGroup)])
            try await ip(["addr", "add", v.hostAddress + "/30", "dev", v.host])
            try await ip(["link", "set", v.host, "up"])
            try await ip(["route", "replace", IPv4.format(base + UInt32(index) * 256) + "/24", "via", v.nsAddress, "dev", v.host])
            try await ip(["-n", ns, "addr", "add", v.nsAddress + "/30", "dev", "up0"])
            try await ip(["-n", ns, "link", "set", "up0", "up"])
            try await ip(["-n", ns, "route", "replace", "default", "via", v.hostAddress])
            try await runTool("ip", ["netns", "exec", ns, try Self.tool("sysctl"), "-q", "-w", "net.ipv4.ip_forward=1"])
        }
        try dns.serve(index: index, namespace: ns, address: gateway(index: index))
    }

    /// Takes over an existing user network after a restart, where sandboxes are adopted without their
    /// network being set up again: this daemon's host table (a previous version's may be in place) and
    /// the user's DNS. False when its namespace is gone.
    public func resume(index: Int) async throws -> Bool {
        guard FileManager.default.fileExists(atPath: "/run/netns/" + namespace(index: index)) else { return false }
        try await prepareHost()
        try dns.serve(index: index, namespace: namespace(index: index), address: gateway(index: index))
        return true
    }

    /// The names user `index`'s DNS answers: each of the user's sandboxes (`name → address`).
    public nonisolated func setNames(index: Int, _ names: [String: String]) {
        let table = DNSZone.names(names)
        dns.update(index: index) { $0.names = table }
    }

    /// Caps the user's traffic where their network meets the host, each way: a token bucket (tbf) on
    /// the namespace's end of the veth (what the user's sandboxes send out) and on the host's end (what
    /// comes in). Traffic between the user's own sandboxes stays on their bridge, unshaped. 0 removes it.
    public func shape(index: Int, mbitPerSecond: Int) async throws {
        if shaped[index] == mbitPerSecond { return }
        let ns = namespace(index: index)
        let host = veth(index: index).host
        for (namespace, device) in [(Optional(ns), "up0"), (nil, host)] {
            let prefix = namespace.map { ["-n", $0] } ?? []
            if mbitPerSecond > 0 {
                // Burst: at least 10 ms at the rate, and a full-size packet or a few.
                let burst = max(mbitPerSecond * 1_250, 16_384)
                try await runTool(
                    "tc",
                    prefix + [
                        "qdisc", "replace", "dev", device, "root", "tbf", "rate", "\(mbitPerSecond)mbit", "burst", String(burst), "latency",
                        "100ms",
                    ])
            } else {
                try? await runTool("tc", prefix + ["qdisc", "del", "dev", device, "root"])
            }
        }
        shaped[index] = mbitPerSecond
    }

    /// The rate each user's network was shaped to by this process (a new daemon applies it again once).
    private var shaped: [Int: Int] = [:]

    /// Whether `index`'s network has had its limit applied by this process.
    public func isShaped(index: Int) -> Bool { shaped[index] != nil }

    /// One sandbox's egress rule: `deny` drops what it sends out of the namespace except to `allow`.
    public struct Egress: Sendable, Equatable {
        public var address: String
        public var deny: Bool
        public var allow: [String]
        public init(address: String, deny: Bool, allow: [String]) {
            self.address = address
            self.deny = deny
            self.allow = allow
        }
    }

    /// Destinations `public` egress does not reach unless allowed: "this network", RFC 1918, shared
    /// address space (CGNAT, bhatti pools), loopback, link-local, multicast, reserved and broadcast.
    public static let nonPublic = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
        "224.0.0.0/4", "240.0.0.0/4",
    ]

    /// The rules of a user's egress chain (pure, tested as a table): each sandbox's allowed CIDRs first,
    /// then `deny` sandboxes drop what else they send out of the namespace, then (unless
    /// `allowPrivate`) nobody sends to `nonPublic` addresses or anything over IPv6 out of it. Traffic
    /// between the user's own sandboxes stays on the bridge and never meets `up0`.
    public static func egressRules(_ rules: [Egress], allowPrivate: Bool) -> [String] {
        var lines: [String] = []
        for rule in rules where !rule.allow.isEmpty {
            lines.append("ip saddr \(rule.address) ip daddr { \(rule.allow.joined(separator: ", ")) } accept")
        }
        for rule in rules where rule.deny {
            lines.append("ip saddr \(rule.address) oifname \"up0\" drop")
        }
        if !allowPrivate {
            lines.append("oifname \"up0\" ip daddr { \(nonPublic.joined(separator: ", ")) } drop")
        }
        lines.append("oifname \"up0\" meta nfproto ipv6 drop")
        return lines
    }

    /// Replaces the user's egress table with `rules` in one transaction: a failure leaves the old
    /// table, and the caller fails the operation (a sandbox is never started with looser egress). The
    /// user's DNS forwards for the `public` ones only.
    public func applyEgress(index: Int, rules: [Egress]) async throws {
        let lines = Self.egressRules(rules, allowPrivate: allowPrivateEgress)
        try await nft(
            namespace: namespace(index: index),
            """
            table inet bhatti {}
            delete table inet bhatti
            table inet bhatti {
                chain forward {
                    type filter hook forward priority 0; policy accept;
            \(lines.map { "        " + $0 }.joined(separator: "\n"))
                }
            }
            """)
        // Only once the table took: DNS forwarding follows the firewall, never runs ahead of it.
        dns.update(index: index) { zone in
            zone.forwarding = Set(rules.filter { !$0.deny }.compactMap { IPv4.parse($0.address) })
        }
    }

    /// The card of sandbox `id` at `host` in user `index`'s network: its tap made (persistent, on the
    /// bridge) when missing.
    public func attach(id: String, index: Int, host: Int) async throws -> NetworkInterface {
        try await ensureUser(index: index)
        let ns = namespace(index: index)
        let tap = Self.tapName(id)
        if (try? await ip(["-n", ns, "link", "show", tap])) == nil {
            try await ip(["-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"])
            try await ip(["-n", ns, "link", "set", tap, "master", "br0"])
        }
        try await ip(["-n", ns, "link", "set", tap, "up"])
        return NetworkInterface(
            namespace: ns, tap: tap, mac: NetworkInterface.mac(for: id), address: address(index: index, host: host) + "/24",
            gateway: gateway(index: index), dns: [gateway(index: index)])
    }

    /// Removes sandbox `id`'s tap.
    public func detach(id: String, index: Int) async {
        try? await ip(["-n", namespace(index: index), "link", "del", Self.tapName(id)])
    }

    /// Removes a user's namespace (with its bridge and any taps left in it).
    public func removeUser(index: Int) async {
        dns.stop(index: index)
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
    /// them when a test is done); with nothing kept, the host table goes too.
    public func removeAll(except keep: Set<Int> = []) async -> Int {
        var removed = 0
        for index in existing() where !keep.contains(index) {
            await removeUser(index: index)
            removed += 1
        }
        if keep.isEmpty {
            try? await nft(namespace: nil, "table ip \(hostTable) {}\ndelete table ip \(hostTable)\n")
            hostReady = false
        }
        return removed
    }

    /// Runs an nftables script (`nft -f`), in `namespace` or on the host.
    private func nft(namespace: String?, _ script: String) async throws {
        let path = NSTemporaryDirectory() + "bhatti-nft-\(prefix)-\(UInt32.random(in: 0...UInt32.max)).nft"
        do { try script.write(toFile: path, atomically: true, encoding: .utf8) } catch { throw EngineError.io("write \(path)", error) }
        defer { try? FileManager.default.removeItem(atPath: path) }
        if let namespace {
            try await runTool("ip", ["netns", "exec", namespace, try Self.tool("nft"), "-f", path])
        } else {
            try await runTool("nft", ["-f", path])
        }
    }

    /// `t` + 12 hex of the id: unique within a namespace, inside the 15-byte interface name limit.
    static func tapName(_ id: String) -> String { "t" + String(id.prefix(12)) }

    private func ip(_ arguments: [String]) async throws {
        try await runTool("ip", arguments)
    }

    /// A tool's absolute path (`ip netns exec` searches a PATH without the sbin directories).
    static func tool(_ name: String) throws -> String {
        guard let path = findExecutable(name) else {
            throw EngineError.unsupported("\(name) not found (apt-get install \(name == "nft" ? "nftables" : "procps"))")
        }
        return path
    }

    static func parseCIDR(_ text: String) -> (UInt32, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length), let address = IPv4.parse(parts[0]) else {
            return nil
        }
        return (address, length)
    }
}
