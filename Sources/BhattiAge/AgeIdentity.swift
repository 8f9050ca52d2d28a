#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// An X25519 secret key, written "AGE-SECRET-KEY-1…" (Bech32, uppercase).
///
/// `description` shows only the public half so a stray `print` cannot leak the key.
public struct AgeIdentity: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    static let hrp = "AGE-SECRET-KEY-"

    let secretKey: [UInt8]
    public let recipient: AgeRecipient

    init(secretKey: [UInt8]) throws {
        guard secretKey.count == X25519.keySize else {
            throw AgeError.invalidIdentity("expected \(X25519.keySize) key bytes, got \(secretKey.count)")
        }
        self.secretKey = secretKey
        self.recipient = AgeRecipient(publicKey: try X25519.publicKey(secret: secretKey))
    }

    public static func generate() throws -> AgeIdentity {
        try AgeIdentity(secretKey: Crypto.randomBytes(X25519.keySize))
    }

    /// Parses one key, or an age-keygen file: '#' comment lines and blank lines
    /// are skipped and the first remaining line must be the key.
    public init(parsing text: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).map { String($0).trimmingWhitespace() }
        guard let line = lines.first(where: { !$0.isEmpty && !$0.hasPrefix("#") }) else {
            throw AgeError.invalidIdentity("no key line found")
        }
        let decoded: (hrp: String, data: [UInt8])
        do { decoded = try Bech32.decode(line) } catch { throw AgeError.bech32(error) }
        // Like age, only the uppercase form is an identity.
        guard decoded.hrp == Self.hrp else {
            throw AgeError.invalidIdentity("expected the \"\(Self.hrp)\" prefix, got \"\(decoded.hrp)\"")
        }
        try self.init(secretKey: decoded.data)
    }

    public var encoded: String { Bech32.encode(hrp: Self.hrp, data: secretKey).uppercased() }

    /// The file age-keygen writes, stamped with the current time.
    public var fileContents: String { fileContents(created: Date()) }

    public func fileContents(created: Date) -> String {
        let stamp = created.formatted(Date.ISO8601FormatStyle())
        return "# created: \(stamp)\n# public key: \(recipient.encoded)\n\(encoded)\n"
    }

    public var description: String { "AgeIdentity(\(recipient.encoded))" }
    public var debugDescription: String { description }
}
