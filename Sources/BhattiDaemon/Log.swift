import Foundation
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
        object["ts"] = ISO8601DateFormatter().string(from: Date())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(object) { sink(String(decoding: data, as: UTF8.self)) }
    }
}
