import BhattiE2B
import Foundation
import Testing

/// `GET /sandboxes/{id}/metrics`: the SDK's `SandboxMetric.from_dict` pops all nine fields, so each
/// must be there; `start` and `end` are the SDK's `int(dt.timestamp())`.
@Suite("E2B sandbox metrics")
struct ControlPlaneMetricsTests {
    @Test("every field the SDK requires, timestamp as RFC 3339 and timestampUnix its whole seconds")
    func encoding() throws {
        let metric = SandboxMetric(
            timestamp: Timestamp(seconds: 1_700_000_000, nanos: 250_000_000), cpuCount: 1, cpuUsedPct: 12.5, memUsed: 3, memTotal: 4,
            memCache: 2, diskUsed: 5, diskTotal: 6)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ControlPlaneJSON.encode([metric]))) as? [[String: Any]])
        let first = try #require(object.first)
        #expect(
            Set(first.keys) == [
                "timestamp", "timestampUnix", "cpuCount", "cpuUsedPct", "memUsed", "memTotal", "memCache", "diskUsed", "diskTotal",
            ])
        #expect(first["timestamp"] as? String == "2023-11-14T22:13:20.250Z")
        #expect(first["timestampUnix"] as? Int == 1_700_000_000)
        #expect(first["cpuUsedPct"] as? Double == 12.5)
        #expect(first["memTotal"] as? Int == 4 && first["diskTotal"] as? Int == 6)
    }

    @Test(
        "start and end: absent, or whole seconds from 0 with start not after end; anything else is refused",
        arguments: [
            (nil, nil, MetricsWindow()),
            ("0", nil, MetricsWindow(start: 0)),
            (nil, "1700000000", MetricsWindow(end: 1_700_000_000)),
            ("5", "5", MetricsWindow(start: 5, end: 5)),
            ("5", "9", MetricsWindow(start: 5, end: 9)),
            ("1.5", nil, nil),
            ("", nil, nil),
            (nil, "-1", nil),
            (nil, "soon", nil),
            ("99999999999999999999", nil, nil),
            ("9", "5", nil),
        ] as [(String?, String?, MetricsWindow?)])
    func window(_ start: String?, _ end: String?, _ expected: MetricsWindow?) {
        #expect((try? MetricsWindow(start: start, end: end)) == expected)
    }

    @Test("a refusal says which value and why")
    func refusals() {
        #expect(throws: MetricsWindowError.notUnixSeconds("end", "soon")) { try MetricsWindow(start: nil, end: "soon") }
        #expect(throws: MetricsWindowError.startAfterEnd(start: 9, end: 5)) { try MetricsWindow(start: "9", end: "5") }
        #expect("\(MetricsWindowError.startAfterEnd(start: 9, end: 5))" == "start (9) is after end (5)")
    }

    @Test(
        "a window holds the seconds from its start to its end, both included",
        arguments: [
            (MetricsWindow(), 0, true),
            (MetricsWindow(start: 10), 9, false),
            (MetricsWindow(start: 10), 10, true),
            (MetricsWindow(end: 20), 20, true),
            (MetricsWindow(end: 20), 21, false),
            (MetricsWindow(start: 10, end: 20), 15, true),
        ] as [(MetricsWindow, Int64, Bool)])
    func contains(_ window: MetricsWindow, _ second: Int64, _ expected: Bool) {
        #expect(window.contains(unixSeconds: second) == expected)
    }
}
