/// The native X25519 recipient stanza: "-> X25519 <ephemeral share>" with the
/// file key sealed under a key derived from the ephemeral-static exchange.
struct X25519Stanza {
    static let type = "X25519"
    static let info = Array("age-encryption.org/v1/X25519".utf8)
    static let bodySize = Age.fileKeySize + ChaChaPoly.tagSize
    private static let zeroNonce = [UInt8](repeating: 0, count: ChaChaPoly.nonceSize)

    let share: [UInt8]
    let body: [UInt8]

    /// Returns nil for other stanza types (they belong to other recipients); an
    /// X25519 stanza of the wrong shape is an error, as the spec requires.
    init?(_ stanza: Stanza) throws {
        guard stanza.type == Self.type else { return nil }
        guard stanza.arguments.count == 1 else { throw AgeError.malformedStanza("expected one argument") }
        guard let share = Base64.decode(stanza.arguments[0].utf8), share.count == X25519.keySize else {
            throw AgeError.malformedStanza("ephemeral share is not canonical base64 of 32 bytes")
        }
        // Checked before any decryption to avoid a partitioning oracle.
        guard stanza.body.count == Self.bodySize else {
            throw AgeError.malformedStanza("body is \(stanza.body.count) bytes, expected \(Self.bodySize)")
        }
        self.share = share
        self.body = stanza.body
    }

    static func wrap(fileKey: [UInt8], to recipient: AgeRecipient) throws -> Stanza {
        let ephemeral = try Crypto.randomBytes(X25519.keySize)
        let share = try X25519.publicKey(secret: ephemeral)
        let shared = try X25519.sharedSecret(secret: ephemeral, peer: recipient.publicKey)
        let key = try wrapKey(shared: shared, share: share, recipient: recipient.publicKey)
        let body = try ChaChaPoly.seal(key: key, nonce: zeroNonce, fileKey)
        return Stanza(type: type, arguments: [Base64.encode(share)], body: body)
    }

    /// The file key, or nil when this stanza was not addressed to `identity`.
    func unwrap(with identity: AgeIdentity) throws -> [UInt8]? {
        let shared = try X25519.sharedSecret(secret: identity.secretKey, peer: share)
        let key = try Self.wrapKey(shared: shared, share: share, recipient: identity.recipient.publicKey)
        return try ChaChaPoly.open(key: key, nonce: Self.zeroNonce, body)
    }

    private static func wrapKey(shared: [UInt8], share: [UInt8], recipient: [UInt8]) throws -> [UInt8] {
        try Crypto.hkdf(ikm: shared, salt: share + recipient, info: info)
    }
}
