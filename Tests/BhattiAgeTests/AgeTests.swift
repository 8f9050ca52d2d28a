import Testing

@testable import BhattiAge

@Suite struct RoundTripTests {
    static let sizes = [0, 1, 64 * 1024, 64 * 1024 + 1, 200 * 1024]

    @Test(arguments: sizes)
    func roundTrip(size: Int) throws {
        let identity = try AgeIdentity.generate()
        let plaintext = randomBytes(size)
        let file = try Age.encrypt(plaintext, to: [identity.recipient])
        #expect(try Age.decrypt(file, with: [identity]) == plaintext)

        // Exact layout: nonce, then one tag per 64 KiB chunk (one chunk when empty).
        let header = try Header.parse(file)
        let chunks = max(1, (size + Payload.chunkSize - 1) / Payload.chunkSize)
        #expect(file.count - header.payloadStart == Payload.nonceSize + size + chunks * ChaChaPoly.tagSize)
    }

    @Test func headerShape() throws {
        let identity = try AgeIdentity.generate()
        let file = try Age.encrypt([1, 2, 3], to: [identity.recipient])
        let header = try Header.parse(file)
        let lines = String(decoding: file[..<header.payloadStart], as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0] == "age-encryption.org/v1")
        #expect(lines[1].hasPrefix("-> X25519 ") && lines[1].count == 10 + 43)
        #expect(lines[2].count == 43)  // 32-byte body: one short line
        #expect(lines[3].hasPrefix("--- ") && lines[3].count == 4 + 43)
    }

    @Test func multipleRecipients() throws {
        let identities = try (0..<3).map { _ in try AgeIdentity.generate() }
        let plaintext = randomBytes(1000)
        let file = try Age.encrypt(plaintext, to: identities.map(\.recipient))
        #expect(try Header.parse(file).stanzas.count == 3)
        for identity in identities {
            #expect(try Age.decrypt(file, with: [identity]) == plaintext)
        }
        let stranger = try AgeIdentity.generate()
        #expect(try Age.decrypt(file, with: [stranger, identities[2]]) == plaintext)
    }

    @Test func wrongIdentity() throws {
        let file = try Age.encrypt([42], to: [try AgeIdentity.generate().recipient])
        #expect(throws: AgeError.noIdentityMatched) {
            try Age.decrypt(file, with: [try AgeIdentity.generate()])
        }
    }

    @Test func emptyKeyLists() throws {
        #expect(throws: AgeError.noRecipients) { try Age.encrypt([1], to: []) }
        let file = try Age.encrypt([1], to: [try AgeIdentity.generate().recipient])
        #expect(throws: AgeError.noIdentities) { try Age.decrypt(file, with: []) }
    }

    @Test func lowOrderRecipientIsRefused() throws {
        let zero = AgeRecipient(publicKey: [UInt8](repeating: 0, count: 32))
        #expect(throws: AgeError.allZeroSharedSecret) { try Age.encrypt([1], to: [zero]) }
    }

    @Test func freshRandomnessPerFile() throws {
        let recipient = try AgeIdentity.generate().recipient
        #expect(try Age.encrypt([7], to: [recipient]) != Age.encrypt([7], to: [recipient]))
    }
}
