/// What `/proc/meminfo` says about memory, in bytes: the guest agent reports it for a sandbox's
/// metrics.
public struct MemInfo: Equatable, Sendable {
    public var total: Int
    /// What could be handed out without swapping (`MemAvailable`): free memory and reclaimable cache.
    public var available: Int
    /// Page cache and buffers (`Cached` + `Buffers`).
    public var cache: Int

    public init(total: Int, available: Int, cache: Int) {
        self.total = total
        self.available = available
        self.cache = cache
    }

    /// In use: what is not available, so cache the kernel would drop does not count.
    public var used: Int { max(0, total - available) }

    /// Reads `/proc/meminfo`'s text (`Name:   123 kB` lines, kB meaning KiB); nil without
    /// `MemTotal` or `MemAvailable`. A missing `Cached` or `Buffers` counts as 0.
    public static func parse(_ text: String) -> MemInfo? {
        var total: Int?
        var available: Int?
        var cached = 0
        var buffers = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon]
            guard ["MemTotal", "MemAvailable", "Cached", "Buffers"].contains(name) else { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard let value = fields.first.flatMap({ Int($0) }), value >= 0 else { return nil }
            let unit = fields.dropFirst().first
            guard unit == nil || unit == "kB" else { return nil }
            let bytes = unit == nil ? value : value * 1024
            switch name {
            case "MemTotal": total = bytes
            case "MemAvailable": available = bytes
            case "Cached": cached = bytes
            default: buffers = bytes
            }
        }
        guard let total, let available else { return nil }
        return MemInfo(total: total, available: available, cache: cached + buffers)
    }
}
