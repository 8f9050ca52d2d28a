/// What one user's DNS responder knows: the user's sandbox names, and which of the user's addresses may
/// have other names resolved upstream. A pure policy: `decide` is tested as a table.
public struct DNSZone: Equatable, Sendable {
    /// `<name>.bhatti` is the user's sandbox `<name>` and nothing else (never forwarded).
    public static let suffix = "bhatti"
    /// Local answers are short-lived: a rename or destroy changes them.
    public static let ttl: UInt32 = 5

    /// Lowercased sandbox name → IPv4 address (host order).
    public var names: [String: UInt32]
    /// Source addresses whose other queries are forwarded: sandboxes with `public` egress. Others (`deny`)
    /// are refused: DNS through the host would be a way out their policy closes.
    public var forwarding: Set<UInt32>

    public init(names: [String: UInt32] = [:], forwarding: Set<UInt32> = []) {
        self.names = names
        self.forwarding = forwarding
    }

    /// `name → dotted address` as the store has them; names that differ only in case keep the first.
    public static func names(_ map: [String: String]) -> [String: UInt32] {
        var out: [String: UInt32] = [:]
        for (name, address) in map.sorted(by: { $0.key < $1.key }) {
            guard let a = IPv4.parse(address) else { continue }
            let key = name.lowercased()
            if out[key] == nil { out[key] = a }
        }
        return out
    }

    public enum Decision: Equatable, Sendable {
        /// Send these bytes back to the client.
        case answer([UInt8])
        /// Pass the query to the host's resolvers.
        case forward(DNSQuery)
        /// Not a query this responder takes (malformed, a response, several questions).
        case drop
    }

    public func decide(_ packet: [UInt8], from source: UInt32) -> Decision {
        guard let query = DNSQuery.parse(packet) else { return .drop }
        if let name = query.name {
            let suffixed = name.hasSuffix("." + Self.suffix)
            let base = suffixed ? String(name.dropLast(Self.suffix.count + 1)) : name
            if let address = names[base] {
                let wantsA =
                    (query.type == DNSQuery.typeA || query.type == DNSQuery.typeAny)
                    && (query.qclass == DNSQuery.classIN || query.qclass == DNSQuery.classAny)
                return .answer(
                    wantsA ? DNSAnswer.address(query, address, ttl: Self.ttl) : DNSAnswer.empty(query, .noError, authoritative: true))
            }
            if suffixed || name == Self.suffix { return .answer(DNSAnswer.empty(query, .nameError, authoritative: true)) }
        }
        return forwarding.contains(source) ? .forward(query) : .answer(DNSAnswer.empty(query, .refused, authoritative: false))
    }
}

/// IPv4 addresses as host-order integers.
public enum IPv4 {
    public static func parse(_ text: some StringProtocol) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for o in octets {
            guard !o.isEmpty, o.count <= 3, o.allSatisfy({ $0 >= "0" && $0 <= "9" }), let n = UInt32(o), n < 256 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    public static func format(_ a: UInt32) -> String { "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)" }
}
