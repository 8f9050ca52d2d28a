import BhattiE2B
import Testing

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    @Test(
        "written with Z and 0, 3, 6 or 9 fraction digits",
        arguments: [
            (0, 0, "1970-01-01T00:00:00Z"),
            (1_700_000_000, 123_000_000, "2023-11-14T22:13:20.123Z"),
            (1_700_000_000, 123_400_000, "2023-11-14T22:13:20.123400Z"),
            (1_700_000_000, 1, "2023-11-14T22:13:20.000000001Z"),
            (-1, 999_999_999, "1969-12-31T23:59:59.999999999Z"),
            (951_782_400, 0, "2000-02-29T00:00:00Z"),
            (-62_135_596_800, 0, "0001-01-01T00:00:00Z"),
            (253_402_300_799, 0, "9999-12-31T23:59:59Z"),
            (1_767_323_045, 500_000_000, "2026-01-02T03:04:05.500Z"),
        ] as [(Int64, Int32, String)])
    func format(seconds: Int64, nanos: Int32, text: String) {
        let t = Timestamp(seconds: seconds, nanos: nanos)
        #expect(t.rfc3339 == text)
        #expect(Timestamp(rfc3339: text) == t)
    }

    @Test(
        "offsets and any fraction length are read",
        arguments: [
            ("2023-11-14T23:13:20.5+01:00", 1_700_000_000, 500_000_000),
            ("2023-11-14T21:43:20-00:30", 1_700_000_000, 0),
            ("2023-11-14T22:13:20.1234Z", 1_700_000_000, 123_400_000),
            ("1970-01-01T00:00:00.000000001Z", 0, 1),
        ] as [(String, Int64, Int32)])
    func parse(text: String, seconds: Int64, nanos: Int32) {
        #expect(Timestamp(rfc3339: text) == Timestamp(seconds: seconds, nanos: nanos))
    }

    @Test(
        "malformed or out of range is nil",
        arguments: [
            "", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z", "2023-11-14t22:13:20z", "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20.1234567890Z",
            "2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z", "2023-00-01T00:00:00Z", "2023-11-31T00:00:00Z", "2023-11-14T24:00:00Z",
            "2023-11-14T22:60:00Z", "2023-11-14T22:13:60Z", "0000-12-31T23:59:59Z", "2023-11-14T22:13:20+24:00", "2023-11-14T22:13:20Zjunk",
            "+2023-11-14T22:13:20Z", "２０２３-11-14T22:13:20Z", "0001-01-01T00:00:00+00:01",
        ])
    func refused(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test("extreme values format without trapping")
    func extremes() {
        for seconds in [Int64.min, Int64.max, -62_135_596_801, 253_402_300_800] {
            _ = Timestamp(seconds: seconds, nanos: 999_999_999).rfc3339
        }
        #expect(Timestamp(rfc3339: Timestamp(seconds: -62_135_596_801).rfc3339) == nil)
    }
}
