import FoundationEssentials

/// A body that did not decode: malformed JSON, or a field of the wrong type or range.
public struct WireDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    init(_ error: DecodingError) {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map(\.stringValue).joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .typeMismatch(let type, let c): message = "expected \(type)\(path(c)): \(c.debugDescription)"
        case .valueNotFound(let type, let c): message = "missing \(type)\(path(c)): \(c.debugDescription)"
        case .keyNotFound(let key, let c): message = "missing field \(key.stringValue)\(path(c))"
        case .dataCorrupted(let c): message = "invalid JSON\(path(c)): \(c.debugDescription)"
        @unknown default: message = String(describing: error)
        }
    }

    public var description: String { message }

    /// `JSONDecoder`, with every failure as this error.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(WireDecodingError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw WireDecodingError(error)
        } catch {
            throw WireDecodingError(String(describing: error))
        }
    }
}
