import Foundation

/// Latency samples in milliseconds, summarised with nearest-rank percentiles.
struct Samples {
    let name: String
    let how: String
    var values: [Double] = []

    init(_ name: String, how: String) {
        self.name = name
        self.how = how
    }

    mutating func add(_ d: Duration) { values.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15) }
    mutating func add(ms: Double) { values.append(ms) }

    func percentile(_ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let rank = max(1, Int((p * Double(sorted.count)).rounded(.up)))
        return sorted[min(rank, sorted.count) - 1]
    }

    var row: String {
        String(
            format: "| %@ | %d | %@ | %@ | %@ | %@ | %@ |", name, values.count, fmt(percentile(0.5)), fmt(percentile(0.95)),
            fmt(percentile(0.99)), fmt(values.max() ?? .nan), how)
    }

    private func fmt(_ v: Double) -> String { v < 10 ? String(format: "%.3f", v) : String(format: "%.1f", v) }
}

/// Times one call.
func measure(_ body: () throws -> Void) rethrows -> Duration {
    let start = ContinuousClock.now
    try body()
    return ContinuousClock.now - start
}

func measure(_ body: () async throws -> Void) async rethrows -> Duration {
    let start = ContinuousClock.now
    try await body()
    return ContinuousClock.now - start
}

/// Progress on stderr (RESULTS.md is the output).
func log(_ s: String) { FileHandle.standardError.write(Data("bench: \(s)\n".utf8)) }
