/// What a guest's counters read at one moment (the agent's activity reply).
public struct GuestReading: Equatable, Sendable {
    /// Wall-clock time of the reading, Unix milliseconds.
    public var unixMilliseconds: Int64
    /// CPU time so far in clock ticks, busy and all; nil from a guest that does not say.
    public var cpuBusyTicks: Int?
    public var cpuTotalTicks: Int?
    /// Bytes; 0 from a guest that does not say.
    public var memTotal: Int
    public var memUsed: Int
    public var memCache: Int
    public var diskTotal: Int
    public var diskUsed: Int

    public init(
        unixMilliseconds: Int64, cpuBusyTicks: Int?, cpuTotalTicks: Int?, memTotal: Int, memUsed: Int, memCache: Int, diskTotal: Int,
        diskUsed: Int
    ) {
        self.unixMilliseconds = unixMilliseconds
        self.cpuBusyTicks = cpuBusyTicks
        self.cpuTotalTicks = cpuTotalTicks
        self.memTotal = memTotal
        self.memUsed = memUsed
        self.memCache = memCache
        self.diskTotal = diskTotal
        self.diskUsed = diskUsed
    }

    /// Whole seconds since the Unix epoch (rounded down).
    public var unixSeconds: Int64 {
        let (seconds, rest) = unixMilliseconds.quotientAndRemainder(dividingBy: 1000)
        return rest < 0 ? seconds - 1 : seconds
    }
}

/// A sandbox's metrics at one moment: a reading, and the CPU use since the reading before it.
public struct MetricSample: Equatable, Sendable {
    public var reading: GuestReading
    /// Share of all the guest's CPUs busy since the previous reading, in percent (0 to 100).
    public var cpuUsedPercent: Double

    public init(reading: GuestReading, cpuUsedPercent: Double) {
        self.reading = reading
        self.cpuUsedPercent = cpuUsedPercent
    }
}

/// The newest `capacity` samples of one sandbox, in a ring: a new one past the capacity replaces the
/// oldest.
public struct MetricsHistory: Sendable {
    public let capacity: Int
    private var ring: [MetricSample] = []
    /// Once the ring is full: where the oldest sample is, and so where the next one goes.
    private var oldest = 0
    private var last: GuestReading?

    public init(capacity: Int) {
        precondition(capacity > 0, "a history keeps at least one sample")
        self.capacity = capacity
    }

    public var isEmpty: Bool { ring.isEmpty }

    /// Oldest first.
    public var samples: [MetricSample] { Array(ring[oldest...] + ring[..<oldest]) }

    public mutating func record(_ reading: GuestReading) {
        let sample = MetricSample(reading: reading, cpuUsedPercent: Self.cpuPercent(from: last, to: reading))
        last = reading
        if ring.count < capacity {
            ring.append(sample)
        } else {
            ring[oldest] = sample
            oldest = (oldest + 1) % capacity
        }
    }

    /// Busy ticks over all ticks between two readings, in percent, to two decimals. 0 without an
    /// earlier reading, when either lacks ticks, when the counters went back (the guest rebooted)
    /// or did not move.
    public static func cpuPercent(from before: GuestReading?, to now: GuestReading) -> Double {
        guard let before, let busy0 = before.cpuBusyTicks, let total0 = before.cpuTotalTicks, let busy1 = now.cpuBusyTicks,
            let total1 = now.cpuTotalTicks, total1 > total0, busy1 >= busy0
        else { return 0 }
        let percent = min(100, 100 * Double(busy1 - busy0) / Double(total1 - total0))
        return (percent * 100).rounded() / 100
    }
}
