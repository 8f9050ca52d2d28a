import BhattiDaemon
import Foundation
import Synchronization
import Testing

/// The hand-written JSON log lines parse back to what was logged, whatever the values hold.
@Suite("Log lines")
struct LoggerTests {
    @Test("escapes quotes, backslashes, control characters; keeps unicode and slashes; sorted keys; UTC timestamp")
    func roundTrip() throws {
        let lines = Mutex<[String]>([])
        let log = Logger(sink: { line in lines.withLock { $0.append(line) } })
        let tricky = "a\"b\\c\nd\te\r\u{1}\u{1f}é/ü 🔥"
        let before = Date()
        log.error("thing.happened", ["z.key": tricky, "a.key": "", "http.path": "/v1/sandboxes"])
        let line = try #require(lines.withLock { $0.first })
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["z.key"] == tricky)
        #expect(object["a.key"] == "")
        #expect(object["event"] == "thing.happened")
        #expect(object["level"] == "error")
        #expect(line.contains("\"http.path\":\"/v1/sandboxes\""))
        #expect(line.hasPrefix("{\"a.key\""))
        let ts = try #require(object["ts"])
        #expect(ts.count == 24 && ts.hasSuffix("Z"), "\(ts)")
        let parsed = ISO8601DateFormatter()
        parsed.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let when = try #require(parsed.date(from: ts))
        // Stamped between two readings of the clock around the call (to the millisecond it keeps).
        #expect(when.timeIntervalSince(before) > -0.001 && Date().timeIntervalSince(when) > -0.001, "\(ts)")
    }
}
