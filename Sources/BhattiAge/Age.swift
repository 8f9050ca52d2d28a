/// The age v1 file format (https://age-encryption.org/v1) with X25519 recipients,
/// in memory and unarmored. Files interoperate with the `age` CLI.
public enum Age {
    static let fileKeySize = 16

    /// Encrypts to every recipient; any one of their identities can decrypt.
    public static func encrypt(_ plaintext: [UInt8], to recipients: [AgeRecipient]) throws -> [UInt8] {
        guard !recipients.isEmpty else { throw AgeError.noRecipients }
        let fileKey = try Crypto.randomBytes(fileKeySize)
        let stanzas = try recipients.map { try X25519Stanza.wrap(fileKey: fileKey, to: $0) }
        var file = Header.encodeWithoutMAC(stanzas)
        let mac = try Header.mac(fileKey: fileKey, over: file)
        file += Array(" \(Base64.encode(mac))\n".utf8)
        file += try Payload.encrypt(plaintext, fileKey: fileKey)
        return file
    }

    /// Decrypts with the first identity that unwraps a stanza, after checking the header MAC.
    public static func decrypt(_ file: [UInt8], with identities: [AgeIdentity]) throws -> [UInt8] {
        guard !identities.isEmpty else { throw AgeError.noIdentities }
        let header = try Header.parse(file)
        // Every X25519 stanza must be well-formed, not just the one that matches.
        let stanzas = try header.stanzas.compactMap { try X25519Stanza($0) }
        guard let fileKey = try unwrap(stanzas, with: identities) else { throw AgeError.noIdentityMatched }
        let mac = try Header.mac(fileKey: fileKey, over: header.authenticated)
        guard Crypto.constantTimeEqual(mac, header.mac) else { throw AgeError.headerMACMismatch }
        return try Payload.decrypt(file[header.payloadStart...], fileKey: fileKey)
    }

    private static func unwrap(_ stanzas: [X25519Stanza], with identities: [AgeIdentity]) throws -> [UInt8]? {
        for identity in identities {
            for stanza in stanzas {
                if let fileKey = try stanza.unwrap(with: identity) { return fileKey }
            }
        }
        return nil
    }
}
