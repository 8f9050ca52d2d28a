/// A VM's network card and where its traffic goes.
///
/// `namespace` and `tap` name a tap in a user's network namespace, opened by the engine and handed to
/// QEMU as fd 3; without them the card is a placeholder on an empty QEMU hub (templates: a restored
/// template must have the same devices as the sandbox it becomes, and the sandbox's own tap is attached
/// only then). `address` etc. are what the guest agent configures on eth0.
public struct NetworkInterface: Codable, Equatable, Sendable {
    public var namespace: String?
    public var tap: String?
    /// `52:54:00:xx:xx:xx`, stable per sandbox.
    public var mac: String
    /// `A.B.C.D/24`.
    public var address: String?
    public var gateway: String?
    public var dns: [String]

    public init(namespace: String?, tap: String?, mac: String, address: String?, gateway: String?, dns: [String] = []) {
        self.namespace = namespace
        self.tap = tap
        self.mac = mac
        self.address = address
        self.gateway = gateway
        self.dns = dns
    }

    /// A card with no traffic (see above).
    public static func placeholder(mac: String = "52:54:00:00:00:01") -> NetworkInterface {
        NetworkInterface(namespace: nil, tap: nil, mac: mac, address: nil, gateway: nil)
    }

    /// The IPv4 address without its prefix length.
    public var ip: String? { address.map { String($0.prefix { $0 != "/" }) } }

    /// A locally administered MAC derived from a sandbox id, so it survives restarts and cold cycles.
    public static func mac(for id: String) -> String {
        let hex = Array(id.utf8.filter { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }.prefix(6))
        let padded = hex + Array(repeating: UInt8(ascii: "0"), count: max(0, 6 - hex.count))
        let pairs = stride(from: 0, to: 6, by: 2).map { String(decoding: padded[$0..<($0 + 2)], as: UTF8.self) }
        return "52:54:00:" + pairs.joined(separator: ":")
    }
}
