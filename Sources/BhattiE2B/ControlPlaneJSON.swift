import FoundationEssentials

/// Reading and writing control-plane bodies.
public enum ControlPlaneJSON {
    /// Sorted keys and unescaped slashes, so a body is the same bytes every time.
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The models hold only strings, numbers, booleans and maps of them: encoding can't fail.
        return Array((try? encoder.encode(value)) ?? Data("null".utf8))
    }

    /// A request body; a malformed one is an error value for a 400 answer.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(WireDecodingError) -> T {
        try WireDecodingError.decode(T.self, from: bytes)
    }
}
