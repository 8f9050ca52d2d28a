import BhattiSystem
public import Foundation
import Glibc
import Synchronization

/// JSON-lines logging to stderr: a constant event name and stable dotted keys.
public struct Logger: Sendable {
    private let sink: @Sendable (String) -> Void

    public init(sink: @escaping @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }) {
        self.sink = sink
    }

    public func info(_ event: String, _ fields: [String: String] = [:]) { log("info", event, fields) }
    public func warning(_ event: String, _ fields: [String: String] = [:]) { log("warn", event, fields) }
    public func error(_ event: String, _ fields: [String: String] = [:]) { log("error", event, fields) }

    /// One JSON object, keys sorted, written by hand: JSONEncoder and String(format:) were a fifth of
    /// the daemon's CPU per exec request (perf), for a line of a few string fields.
    private func log(_ level: String, _ event: String, _ fields: [String: String]) {
        var object = fields
        object["level"] = level
        object["event"] = event
        object["ts"] = utcTimestamp()
        var line = "{"
        for (i, key) in object.keys.sorted().enumerated() {
            if i > 0 { line += "," }
            line += "\"" + jsonEscaped(key) + "\":\"" + jsonEscaped(object[key] ?? "") + "\""
        }
        line += "}"
        sink(line)
    }
}

/// `n` in decimal, left-padded with zeros to `width`.
func zeroPadded(_ n: Int, _ width: Int) -> String {
    let digits = String(n)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Milliseconds with two decimals (`12.34`), without String(format:).
func millisecondsText(_ d: Duration) -> String {
    let hundredths = Int((Double(d.components.seconds) * 100_000 + Double(d.components.attoseconds) / 1e13).rounded())
    return String(hundredths / 100) + "." + zeroPadded(hundredths % 100, 2)
}

/// `2026-11-24T10:30:00.123Z`, without building a formatter for every line (that cost more than the line).
func utcTimestamp() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var t = tm()
    var seconds = ts.tv_sec
    gmtime_r(&seconds, &t)
    return calendarDate(t) + "T" + clockTime(t) + "." + zeroPadded(ts.tv_nsec / 1_000_000, 3) + "Z"
}

/// `2026-11-24T10:30:00Z` (ISO 8601, UTC, whole seconds) for API timestamps. Hand-made: building an
/// `ISO8601DateFormatter` per response cost more than the rest of a sandbox GET.
func iso8601(_ date: Date) -> String {
    var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    var t = tm()
    gmtime_r(&seconds, &t)
    return calendarDate(t) + "T" + clockTime(t) + "Z"
}

/// `2026-11-24T10:30:00.123Z`: `iso8601` with milliseconds, for events (several fall in one second
/// and their order is what they are read for).
func iso8601Millis(_ date: Date) -> String {
    let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    var seconds = time_t(millis / 1000)
    var t = tm()
    gmtime_r(&seconds, &t)
    return calendarDate(t) + "T" + clockTime(t) + "." + zeroPadded(Int(millis % 1000), 3) + "Z"
}

private func calendarDate(_ t: tm) -> String {
    zeroPadded(Int(t.tm_year) + 1900, 4) + "-" + zeroPadded(Int(t.tm_mon) + 1, 2) + "-" + zeroPadded(Int(t.tm_mday), 2)
}

private func clockTime(_ t: tm) -> String {
    zeroPadded(Int(t.tm_hour), 2) + ":" + zeroPadded(Int(t.tm_min), 2) + ":" + zeroPadded(Int(t.tm_sec), 2)
}
