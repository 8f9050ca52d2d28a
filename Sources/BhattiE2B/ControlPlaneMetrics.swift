/// One element of `GET /sandboxes/{id}/metrics` (the SDK's `get_metrics`). The SDK's model requires
/// every field, `timestamp` too (deprecated upstream, still popped by `from_dict`).
public struct SandboxMetric: Codable, Equatable, Sendable {
    public var timestamp: Timestamp
    public var timestampUnix: Int64
    public var cpuCount: Int
    /// Of all the sandbox's CPUs, in percent.
    public var cpuUsedPct: Double
    /// Bytes.
    public var memUsed: Int
    public var memTotal: Int
    public var memCache: Int
    public var diskUsed: Int
    public var diskTotal: Int

    public init(
        timestamp: Timestamp, cpuCount: Int, cpuUsedPct: Double, memUsed: Int, memTotal: Int, memCache: Int, diskUsed: Int, diskTotal: Int
    ) {
        self.timestamp = timestamp
        timestampUnix = timestamp.seconds
        self.cpuCount = cpuCount
        self.cpuUsedPct = cpuUsedPct
        self.memUsed = memUsed
        self.memTotal = memTotal
        self.memCache = memCache
        self.diskUsed = diskUsed
        self.diskTotal = diskTotal
    }
}

/// The `start` and `end` of a metrics request: Unix seconds, each optional, both inclusive.
public struct MetricsWindow: Equatable, Sendable {
    public var start: Int64?
    public var end: Int64?

    public init(start: Int64? = nil, end: Int64? = nil) {
        self.start = start
        self.end = end
    }

    /// From the query's values, as the SDK sends them (`int(dt.timestamp())`); E2B's API takes
    /// whole seconds from 0 up, with the start not after the end.
    public init(start: String?, end: String?) throws(MetricsWindowError) {
        func seconds(_ name: String, _ text: String?) throws(MetricsWindowError) -> Int64? {
            guard let text else { return nil }
            guard let value = Int64(text), value >= 0 else { throw .notUnixSeconds(name, text) }
            return value
        }
        self.init(start: try seconds("start", start), end: try seconds("end", end))
        if let start = self.start, let end = self.end, start > end { throw .startAfterEnd(start: start, end: end) }
    }

    public func contains(unixSeconds: Int64) -> Bool {
        (start.map { unixSeconds >= $0 } ?? true) && (end.map { unixSeconds <= $0 } ?? true)
    }
}

/// A metrics window E2B's API would refuse (a 400).
public enum MetricsWindowError: Error, Equatable, Sendable, CustomStringConvertible {
    case notUnixSeconds(String, String)
    case startAfterEnd(start: Int64, end: Int64)

    public var description: String {
        switch self {
        case .notUnixSeconds(let name, let text): "\(name) must be Unix seconds (a whole number from 0), not \(text.prefix(40))"
        case .startAfterEnd(let start, let end): "start (\(start)) is after end (\(end))"
        }
    }
}
