/// `google.protobuf.Timestamp`, and the control plane's `date-time` fields: a UTC instant with
/// nanoseconds, written as RFC 3339.
///
/// Writing follows the proto3 JSON rule (and Go's protojson): `Z`, and 0, 3, 6 or 9 fraction digits;
/// it is RFC 3339 for the years 0001 to 9999 and never traps outside them.
/// Reading accepts RFC 3339 with `T`, 1 to 9 fraction digits and `Z` or a `±HH:MM` offset, over the
/// range proto3 allows (years 0001 to 9999). The arithmetic is integer civil-calendar math, so no
/// calendar or locale is involved and a malformed string is `nil`, never a trap.
public struct Timestamp: Hashable, Sendable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// 0 ..< 1_000_000_000.
    public var nanos: Int32

    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }

    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the proto3 JSON bounds.
    static let minSeconds: Int64 = -62_135_596_800
    static let maxSeconds: Int64 = 253_402_300_799

    public var rfc3339: String {
        // Floor division and its remainder, in steps that can't overflow even at Int64.min.
        let rem = seconds % 86_400
        let days = seconds / 86_400 - (rem < 0 ? 1 : 0)
        let secOfDay = rem < 0 ? rem + 86_400 : rem
        let (y, m, d) = Self.civil(fromDays: days)
        var s = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        s += pad(secOfDay / 3600, 2) + ":" + pad(secOfDay / 60 % 60, 2) + ":" + pad(secOfDay % 60, 2)
        if nanos != 0 {
            let digits = nanos % 1_000_000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9
            let scaled = Int64(nanos) / [1, 1000, 1_000_000][(9 - digits) / 3]
            s += "." + pad(scaled, digits)
        }
        return s + "Z"
    }

    public init?(rfc3339 text: String) {
        var p = RFC3339Reader(Array(text.utf8))
        guard let year = p.digits(4), p.take("-"), let month = p.digits(2), p.take("-"), let day = p.digits(2),
            p.take("T"), let hour = p.digits(2), p.take(":"), let minute = p.digits(2), p.take(":"),
            let second = p.digits(2)
        else { return nil }
        var nanos: Int64 = 0
        if p.take(".") {
            var count = 0
            while let d = p.digit() {
                guard count < 9 else { return nil }
                nanos = nanos * 10 + d
                count += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<9 { nanos *= 10 }
        }
        var offset: Int64 = 0
        if p.take("Z") {
            offset = 0
        } else if let sign = p.sign(), let oh = p.digits(2), p.take(":"), let om = p.digits(2) {
            guard oh < 24, om < 60 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard p.atEnd, (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year), hour < 24,
            minute < 60, second < 60
        else { return nil }
        let secs = Self.days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        guard secs >= Self.minSeconds, secs <= Self.maxSeconds else { return nil }
        self.init(seconds: secs, nanos: Int32(nanos))
    }

    // Howard Hinnant's days_from_civil / civil_from_days, proleptic Gregorian.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension Timestamp: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let t = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 timestamp: \(text)")
        }
        self = t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }
}

private func pad(_ n: Int64, _ width: Int) -> String {
    let s = String(n)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// Reads RFC 3339 field by field.
private struct RFC3339Reader {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i == bytes.count }

    mutating func take(_ c: Unicode.Scalar) -> Bool {
        guard i < bytes.count, bytes[i] == UInt8(ascii: c) else { return false }
        i += 1
        return true
    }

    mutating func digit() -> Int64? {
        guard i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") else { return nil }
        i += 1
        return Int64(bytes[i - 1] - UInt8(ascii: "0"))
    }

    mutating func digits(_ count: Int) -> Int64? {
        var n: Int64 = 0
        for _ in 0..<count {
            guard let d = digit() else { return nil }
            n = n * 10 + d
        }
        return n
    }

    mutating func sign() -> Int64? {
        if take("+") { return 1 }
        if take("-") { return -1 }
        return nil
    }
}
