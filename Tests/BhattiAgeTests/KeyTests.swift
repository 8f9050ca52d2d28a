import Foundation
import Testing

@testable import BhattiAge

@Suite struct KeyTests {
    // The example key pair from the age specification (c2sp.org/age).
    static let specIdentity = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    static let specRecipient = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

    @Test func specKeyPair() throws {
        let identity = try AgeIdentity(parsing: Self.specIdentity)
        #expect(identity.secretKey == [UInt8](repeating: 0x42, count: 32))
        #expect(identity.encoded == Self.specIdentity)
        #expect(identity.recipient.encoded == Self.specRecipient)
        #expect(try AgeRecipient(parsing: Self.specRecipient) == identity.recipient)
    }

    @Test func generatedKeysRoundTrip() throws {
        let identity = try AgeIdentity.generate()
        #expect(identity.encoded.hasPrefix("AGE-SECRET-KEY-1"))
        #expect(identity.encoded == identity.encoded.uppercased())
        #expect(identity.recipient.encoded.hasPrefix("age1"))
        #expect(identity.recipient.encoded.count == 62)
        let reparsed = try AgeIdentity(parsing: identity.encoded)
        #expect(reparsed.secretKey == identity.secretKey)
        #expect(try AgeRecipient(parsing: identity.recipient.encoded) == identity.recipient)
        #expect(try AgeIdentity.generate().secretKey != identity.secretKey)
    }

    @Test func keygenFile() throws {
        let identity = try AgeIdentity.generate()
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        let contents = identity.fileContents(created: created)
        #expect(
            contents == """
                # created: 2023-11-14T22:13:20Z
                # public key: \(identity.recipient.encoded)
                \(identity.encoded)

                """)
        #expect(try AgeIdentity(parsing: contents).secretKey == identity.secretKey)
        #expect(identity.fileContents.hasPrefix("# created: 20"))

        // CRLF line endings, blank lines, and a second key that is ignored.
        let other = try AgeIdentity.generate()
        let messy = "\r\n# comment\r\n\r\n\(identity.encoded)\r\n\(other.encoded)\r\n"
        #expect(try AgeIdentity(parsing: messy).secretKey == identity.secretKey)
    }

    @Test func keygenFileWithoutKey() {
        #expect(throws: AgeError.invalidIdentity("no key line found")) { try AgeIdentity(parsing: "# only\n\n") }
    }

    @Test func descriptionHidesSecret() throws {
        let identity = try AgeIdentity.generate()
        #expect(!"\(identity)".contains("SECRET"))
        #expect(!String(reflecting: identity).contains("SECRET"))
        #expect("\(identity)".contains(identity.recipient.encoded))
    }

    @Test func wrongKindOfKey() throws {
        let identity = try AgeIdentity.generate()
        #expect(throws: AgeError.self) { try AgeRecipient(parsing: identity.encoded) }
        #expect(throws: AgeError.self) { try AgeIdentity(parsing: identity.recipient.encoded) }
        // age accepts only uppercase identities and lowercase recipients.
        #expect(throws: AgeError.invalidIdentity("expected the \"AGE-SECRET-KEY-\" prefix, got \"age-secret-key-\"")) {
            try AgeIdentity(parsing: identity.encoded.lowercased())
        }
        #expect(throws: AgeError.invalidRecipient("expected the \"age\" prefix, got \"AGE\"")) {
            try AgeRecipient(parsing: identity.recipient.encoded.uppercased())
        }
        // Right prefix, wrong length.
        let short = Bech32.encode(hrp: "age", data: randomBytes(31))
        #expect(throws: AgeError.invalidRecipient("expected 32 key bytes, got 31")) { try AgeRecipient(parsing: short) }
    }

    @Test func corruptedKeys() throws {
        var recipient = Array(Self.specRecipient.utf8)
        recipient[10] = recipient[10] == UInt8(ascii: "q") ? UInt8(ascii: "p") : UInt8(ascii: "q")
        #expect(throws: AgeError.bech32(.badChecksum)) {
            try AgeRecipient(parsing: String(decoding: recipient, as: UTF8.self))
        }
        let mixed = "AGE-SECRET-KEY-1gFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
        #expect(throws: AgeError.bech32(.mixedCase)) { try AgeIdentity(parsing: mixed) }
    }
}
