import BhattiCore
import Testing

@Suite("A sandbox's metrics history")
struct MetricsHistoryTests {
    static func reading(_ ms: Int64, busy: Int? = nil, total: Int? = nil, mem: Int = 0) -> GuestReading {
        GuestReading(
            unixMilliseconds: ms, cpuBusyTicks: busy, cpuTotalTicks: total, memTotal: 1000, memUsed: mem, memCache: 0, diskTotal: 10,
            diskUsed: 1)
    }

    @Test(
        "CPU use between two readings: busy ticks over all ticks in percent, to two decimals; 0 with nothing to compare",
        arguments: [
            // (before busy, before total, now busy, now total, percent)
            (100, 1000, 150, 1100, 50.0),
            (100, 1000, 100, 1100, 0.0),
            (100, 1000, 200, 1100, 100.0),
            (0, 0, 1, 3, 33.33),
            (0, 0, 2, 3, 66.67),
            // More busy than all (counters read apart on a multi-CPU guest) is all.
            (100, 1000, 300, 1100, 100.0),
            // The counters went back: the guest rebooted.
            (500, 1000, 10, 20, 0.0),
            (500, 1000, 400, 1100, 0.0),
            // Nothing moved.
            (100, 1000, 100, 1000, 0.0),
        ])
    func cpuPercent(_ busy0: Int, _ total0: Int, _ busy1: Int, _ total1: Int, _ expected: Double) {
        let before = Self.reading(0, busy: busy0, total: total0)
        #expect(MetricsHistory.cpuPercent(from: before, to: Self.reading(5000, busy: busy1, total: total1)) == expected)
    }

    @Test("no earlier reading, or a reading without ticks (an older agent), reads as 0")
    func nothingToCompare() {
        let now = Self.reading(5000, busy: 150, total: 1100)
        #expect(MetricsHistory.cpuPercent(from: nil, to: now) == 0)
        #expect(MetricsHistory.cpuPercent(from: Self.reading(0), to: now) == 0)
        #expect(MetricsHistory.cpuPercent(from: Self.reading(0, busy: 1, total: 2), to: Self.reading(5000)) == 0)
    }

    @Test("each sample's CPU use is from the reading before it; the first is 0")
    func percentFromThePrevious() {
        var history = MetricsHistory(capacity: 10)
        #expect(history.isEmpty)
        history.record(Self.reading(0, busy: 0, total: 100))
        history.record(Self.reading(5000, busy: 50, total: 200))
        history.record(Self.reading(10000, busy: 50, total: 300))
        #expect(history.samples.map(\.cpuUsedPercent) == [0, 50, 0])
        #expect(history.samples.map(\.reading.unixMilliseconds) == [0, 5000, 10000])
    }

    @Test("the newest `capacity` samples, oldest first, however many went by", arguments: [1, 3, 4, 5, 7, 9, 20])
    func ring(_ recorded: Int) {
        var history = MetricsHistory(capacity: 4)
        for i in 0..<recorded { history.record(Self.reading(Int64(i) * 1000, busy: i, total: 2 * i)) }
        let kept = Array(max(0, recorded - 4)..<recorded)
        #expect(history.samples.map(\.reading.unixMilliseconds) == kept.map { Int64($0) * 1000 })
        // The one dropped still counts as the reading before the oldest kept.
        #expect(history.samples.map(\.cpuUsedPercent) == kept.map { $0 == 0 ? 0 : 50 })
    }

    @Test(
        "whole Unix seconds round down",
        arguments: [(0, 0), (999, 0), (1000, 1), (1_700_000_000_123, 1_700_000_000), (-1, -1), (-1000, -1)])
    func unixSeconds(_ ms: Int64, _ seconds: Int64) {
        #expect(Self.reading(ms).unixSeconds == seconds)
    }
}
