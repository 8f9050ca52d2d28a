/// Rate limits on a sandbox's I/O, set per user (a user without their own gets the daemon's default).
/// 0 means unlimited. Disk limits apply to each sandbox's root disk (QEMU's block throttling); the
/// network limit applies to the user's whole network, in each direction, where it meets the host.
public struct IOLimits: Codable, Sendable, Equatable {
    public var diskBytesPerSecond: Int
    public var diskIOPS: Int
    public var netMbitPerSecond: Int

    public init(diskBytesPerSecond: Int = 0, diskIOPS: Int = 0, netMbitPerSecond: Int = 0) {
        self.diskBytesPerSecond = diskBytesPerSecond
        self.diskIOPS = diskIOPS
        self.netMbitPerSecond = netMbitPerSecond
    }

    public static let unlimited = IOLimits()

    enum CodingKeys: String, CodingKey {
        case diskBytesPerSecond = "disk_bytes_per_s"
        case diskIOPS = "disk_iops"
        case netMbitPerSecond = "net_mbit_per_s"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        diskBytesPerSecond = try c.decodeIfPresent(Int.self, forKey: .diskBytesPerSecond) ?? 0
        diskIOPS = try c.decodeIfPresent(Int.self, forKey: .diskIOPS) ?? 0
        netMbitPerSecond = try c.decodeIfPresent(Int.self, forKey: .netMbitPerSecond) ?? 0
    }

    /// Refuses negative values and a disk rate too small for QEMU to throttle sensibly.
    public func validate() throws(BhattiError) {
        if diskBytesPerSecond < 0 || diskIOPS < 0 || netMbitPerSecond < 0 {
            throw BhattiError(.invalidArgument, "io limits must be 0 (unlimited) or positive")
        }
        if diskBytesPerSecond > 0 && diskBytesPerSecond < 65_536 {
            throw BhattiError(.invalidArgument, "disk_bytes_per_s must be at least 65536, got \(diskBytesPerSecond)")
        }
        if diskIOPS > 0 && diskIOPS < 10 { throw BhattiError(.invalidArgument, "disk_iops must be at least 10, got \(diskIOPS)") }
    }
}
