import Foundation
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

    private func log(_ level: String, _ event: String, _ fields: [String: String]) {
        var object = fields
        object["level"] = level
        object["event"] = event
        object["ts"] = utcTimestamp()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(object) { sink(String(decoding: data, as: UTF8.self)) }
    }
}

/// `2026-11-24T10:30:00.123Z`, without building a formatter for every line (that cost more than the line).
func utcTimestamp() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var t = tm()
    var seconds = ts.tv_sec
    gmtime_r(&seconds, &t)
    return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1_000_000)
}

/// `2026-11-24T10:30:00Z` (ISO 8601, UTC, whole seconds) for API timestamps. Hand-made: building an
/// `ISO8601DateFormatter` per response cost more than the rest of a sandbox GET.
func iso8601(_ date: Date) -> String {
    var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    var t = tm()
    gmtime_r(&seconds, &t)
    return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
}
