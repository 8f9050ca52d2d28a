import BhattiCore
import Foundation

extension Database.Value {
    var text: String? { if case .text(let s) = self { s } else { nil } }
    var int: Int64? { if case .int(let n) = self { n } else { nil } }

    static func nullable(_ s: String?) -> Self { s.map { .text($0) } ?? .null }
    static func nullable(_ n: Int?) -> Self { n.map { .int(Int64($0)) } ?? .null }
    static func bool(_ b: Bool) -> Self { .int(b ? 1 : 0) }
    static func millis(_ d: Date) -> Self { .int(d.storeMillis) }
}

extension Date {
    /// Milliseconds since the epoch: the store's precision.
    var storeMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    /// This date cut to the store's precision, so a record equals itself after a round trip.
    var atStorePrecision: Date { Date(storeMillis: storeMillis) }
    init(storeMillis ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

/// A result row read by column position. A value of the wrong type is `StoreError.corrupt`, not a default.
struct Row {
    let values: [Database.Value]

    init(_ values: [Database.Value]) { self.values = values }

    func text(_ i: Int) throws -> String {
        guard let s = values[i].text else { throw mismatch(i, "text") }
        return s
    }
    func optionalText(_ i: Int) throws -> String? { values[i] == .null ? nil : try text(i) }

    func int(_ i: Int) throws -> Int64 {
        guard let n = values[i].int else { throw mismatch(i, "integer") }
        return n
    }
    func optionalInt(_ i: Int) throws -> Int? { values[i] == .null ? nil : Int(try int(i)) }
    func bool(_ i: Int) throws -> Bool { try int(i) != 0 }
    func date(_ i: Int) throws -> Date { Date(storeMillis: try int(i)) }

    func blob(_ i: Int) throws -> [UInt8] {
        guard case .blob(let bytes) = values[i] else { throw mismatch(i, "blob") }
        return bytes
    }

    func sandboxID(_ i: Int) throws -> SandboxID {
        let raw = try text(i)
        guard let id = SandboxID(rawValue: raw) else { throw StoreError.corrupt("column \(i): invalid sandbox id \"\(raw)\"") }
        return id
    }
    func optionalSandboxID(_ i: Int) throws -> SandboxID? { values[i] == .null ? nil : try sandboxID(i) }

    private func mismatch(_ i: Int, _ expected: String) -> StoreError {
        .corrupt("column \(i): expected \(expected), found \(values[i])")
    }
}
