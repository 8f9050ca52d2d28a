/// An X25519 public key, written "age1…" (Bech32, HRP "age", lowercase).
public struct AgeRecipient: Sendable, Hashable, CustomStringConvertible {
    static let hrp = "age"

    let publicKey: [UInt8]

    init(publicKey: [UInt8]) {
        self.publicKey = publicKey
    }

    public init(parsing text: String) throws {
        let decoded: (hrp: String, data: [UInt8])
        do { decoded = try Bech32.decode(text.trimmingWhitespace()) } catch { throw AgeError.bech32(error) }
        // age accepts only the lowercase form, so an uppercase "AGE1…" is refused like age does.
        guard decoded.hrp == Self.hrp else {
            throw AgeError.invalidRecipient("expected the \"\(Self.hrp)\" prefix, got \"\(decoded.hrp)\"")
        }
        guard decoded.data.count == X25519.keySize else {
            throw AgeError.invalidRecipient("expected \(X25519.keySize) key bytes, got \(decoded.data.count)")
        }
        self.init(publicKey: decoded.data)
    }

    public var encoded: String { Bech32.encode(hrp: Self.hrp, data: publicKey) }

    public var description: String { encoded }
}

extension String {
    /// Whitespace includes "\r\n", which Swift treats as a single Character.
    func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
