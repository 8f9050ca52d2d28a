/// A sandbox's id: 16 lowercase hex characters, safe as a path component.
public struct SandboxID: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 16, rawValue.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            return nil
        }
        self.rawValue = rawValue
    }
    /// A fresh random id.
    public static func random() -> SandboxID {
        var g = SystemRandomNumberGenerator()
        let hex = (0..<16).map { _ in String(Int.random(in: 0..<16, using: &g), radix: 16) }.joined()
        return SandboxID(rawValue: hex)!
    }
    public var description: String { rawValue }
}

/// A user-chosen sandbox name: `^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`.
public struct SandboxName: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(rawValue: String) {
        let bytes = Array(rawValue.utf8)
        guard (1...63).contains(bytes.count), SandboxName.isAlnum(bytes[0]),
            bytes.allSatisfy({ SandboxName.isAlnum($0) || $0 == 46 || $0 == 95 || $0 == 45 })
        else { return nil }
        self.rawValue = rawValue
    }
    /// Validates `raw`, with an error message that says what is allowed.
    public static func parse(_ raw: String) throws(BhattiError) -> SandboxName {
        guard let name = SandboxName(rawValue: raw) else {
            throw BhattiError(
                .invalidArgument,
                "invalid sandbox name \(BhattiError.quoted(raw)): use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        }
        return name
    }
    private static func isAlnum(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
    public var description: String { rawValue }
}

/// The resources a sandbox asks for, validated against fixed bounds.
public struct SandboxSpec: Equatable, Sendable {
    public static let cpuRange = 1...16
    public static let memoryRange = 128...65536
    public static let diskRange = 512...262_144

    public var name: SandboxName
    public var cpus: Int
    public var memoryMB: Int
    /// Root disk size; nil keeps the image's size.
    public var diskMB: Int?

    public init(name: SandboxName, cpus: Int = 1, memoryMB: Int = 1024, diskMB: Int? = nil) throws(BhattiError) {
        guard SandboxSpec.cpuRange.contains(cpus) else {
            throw BhattiError(
                .invalidArgument,
                "cpus must be between \(SandboxSpec.cpuRange.lowerBound) and \(SandboxSpec.cpuRange.upperBound), got \(cpus)")
        }
        guard SandboxSpec.memoryRange.contains(memoryMB) else {
            throw BhattiError(
                .invalidArgument,
                "memory must be between \(SandboxSpec.memoryRange.lowerBound) and \(SandboxSpec.memoryRange.upperBound) MiB, got \(memoryMB)"
            )
        }
        if let diskMB { try Self.checkDisk(diskMB) }
        self.name = name
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.diskMB = diskMB
    }

    /// Refuses a disk size outside `diskRange` (at create, and when an edit grows a disk).
    public static func checkDisk(_ megabytes: Int) throws(BhattiError) {
        guard diskRange.contains(megabytes) else {
            throw BhattiError(
                .invalidArgument, "disk must be between \(diskRange.lowerBound) and \(diskRange.upperBound) MiB, got \(megabytes)")
        }
    }
}

/// What a sandbox may send out of its user's network: everything public (`public`, the default; private
/// and other non-public destinations only within `allow`), or nothing but `allow` (`deny`).
public struct EgressPolicy: Codable, Equatable, Sendable {
    public var deny: Bool
    /// IPv4 CIDRs reachable whatever else the policy drops.
    public var allow: [String]

    public init(deny: Bool, allow: [String] = []) {
        self.deny = deny
        self.allow = allow
    }

    public static let publicAccess = EgressPolicy(deny: false)

    /// `public` or `deny`, with CIDRs checked (`a.b.c.d/n`).
    public static func parse(_ mode: String?, allow: [String]) throws(BhattiError) -> EgressPolicy {
        for cidr in allow {
            let parts = cidr.split(separator: "/")
            let octets = parts.first?.split(separator: ".").compactMap { Int($0) } ?? []
            guard parts.count == 2, let n = Int(parts[1]), (0...32).contains(n), octets.count == 4,
                octets.allSatisfy({ (0...255).contains($0) })
            else {
                throw BhattiError(.invalidArgument, "allow_cidrs: \"\(cidr)\" is not an IPv4 CIDR like 10.0.0.0/8")
            }
        }
        switch mode ?? "public" {
        case "public":
            // Under `public`, allowed CIDRs open private destinations the daemon otherwise keeps out.
            return allow.isEmpty ? .publicAccess : EgressPolicy(deny: false, allow: allow)
        case "deny": return EgressPolicy(deny: true, allow: allow)
        default: throw BhattiError(.invalidArgument, "egress must be \"public\" or \"deny\", got \"\(mode ?? "")\"")
        }
    }
}
