import Testing

@testable import BhattiAge

/// Header grammar: what is skipped, what is refused.
@Suite struct HeaderTests {
    let identity: AgeIdentity
    let fileKey: [UInt8]
    let stanza: String
    let plaintext = Array("header tests".utf8)

    init() throws {
        identity = try AgeIdentity.generate()
        fileKey = randomBytes(16)
        stanza = try x25519StanzaText(fileKey: fileKey, to: identity.recipient)
    }

    func decrypt(stanzas: String, version: String = "age-encryption.org/v1") throws -> [UInt8] {
        let file = try assembleFile(header: version + "\n" + stanzas + "---", fileKey: fileKey, plaintext: plaintext)
        return try Age.decrypt(file, with: [identity])
    }

    @Test func ownHeaderParses() throws {
        #expect(try decrypt(stanzas: stanza) == plaintext)
    }

    @Test func unknownStanzasAreSkipped() throws {
        let fullLine = String(repeating: "A", count: 64)
        let others = "-> example.com/enigma arg1 arg2\nZm9vYmFy\n" + "-> scrypt c2FsdA 18\n\(fullLine)\n\n" + "-> empty\n\n"
        #expect(try decrypt(stanzas: others + stanza) == plaintext)
        #expect(try decrypt(stanzas: stanza + others) == plaintext)
    }

    @Test(arguments: [
        "-> \nAAAA\n",  // no arguments
        "-> a  b\nAAAA\n",  // empty argument
        "-> a \nAAAA\n",  // trailing space
        "->a\nAAAA\n",  // missing space
        "-> a\u{7f}\nAAAA\n",  // non-VCHAR
        "-> a\n",  // body's final line missing ("---" is not base64)
        "-> a\nAAA=\n",  // padding
        "-> a\nAB\n",  // non-canonical trailing bits
        "-> a\nA\n",  // impossible length
        "-> a\nAA A\n",  // space in body
        "-> a\n\(String(repeating: "A", count: 65))\n\n",  // over-long line
        "-> a\n\(String(repeating: "A", count: 64))\n",  // full last line, no short line after
        "junk\n",
    ])
    func malformedUnknownStanzasAreRefused(bad: String) throws {
        let error = #expect(throws: AgeError.self) { try decrypt(stanzas: bad + stanza) }
        #expect(error?.isMalformedHeader == true, "\(String(describing: error))")
    }

    @Test func noStanzas() throws {
        #expect(throws: AgeError.malformedHeader("no recipient stanzas")) { try decrypt(stanzas: "") }
    }

    @Test func otherVersion() throws {
        #expect(throws: AgeError.unsupportedVersion("v2")) {
            try decrypt(stanzas: stanza, version: "age-encryption.org/v2")
        }
    }

    @Test func notAnAgeFile() throws {
        #expect(throws: AgeError.malformedHeader("not an age file")) {
            try Age.decrypt(Array("hello".utf8), with: [identity])
        }
        #expect(throws: AgeError.malformedHeader("ASCII-armored files are not supported")) {
            try Age.decrypt(Array("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n".utf8), with: [identity])
        }
    }

    @Test func malformedMACLine() throws {
        let header = "age-encryption.org/v1\n" + stanza
        for line in ["---", "--- ", "---  AAAA", "--- AAAA", "---x"] {
            let file = Array((header + line + "\n").utf8) + randomBytes(40)
            #expect(throws: AgeError.malformedHeader("malformed MAC line")) { try Age.decrypt(file, with: [identity]) }
        }
    }

    @Test func fullLengthBodyGetsEmptyFinalLine() throws {
        let body = randomBytes(48)
        let encoded = String(decoding: Header.encodeWithoutMAC([Stanza(type: "t", arguments: [], body: body)]), as: UTF8.self)
        #expect(encoded == "age-encryption.org/v1\n-> t\n\(Base64.encode(body))\n\n---")
        let file = Array(encoded.utf8) + Array(" \(Base64.encode(randomBytes(32)))\n".utf8)
        #expect(try Header.parse(file).stanzas == [Stanza(type: "t", arguments: [], body: body)])
    }

    @Test func x25519StanzaShape() throws {
        let share = Base64.encode(randomBytes(32))
        let body32 = Base64.encode(randomBytes(32))
        let cases = [
            "-> X25519\n\(body32)\n",
            "-> X25519 \(share) extra\n\(body32)\n",
            "-> X25519 \(Base64.encode(randomBytes(31)))\n\(body32)\n",
            "-> X25519 \(share)\n\(Base64.encode(randomBytes(31)))\n",
            "-> X25519 \(share)\n\(Base64.encode(randomBytes(48)))\n\n",
            "-> X25519 \(share)=\n\(body32)\n",
        ]
        for bad in cases {
            let error = #expect(throws: AgeError.self) { try decrypt(stanzas: stanza + bad) }
            #expect(error?.isMalformedStanza == true, "\(bad): \(String(describing: error))")
        }
    }

    @Test func nonCanonicalShare() throws {
        // 43 characters carry 258 bits; setting an unused low bit must be refused.
        var chars = Array(stanza.utf8)
        let index = "-> X25519 ".utf8.count + 42
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        chars[index] = alphabet[alphabet.firstIndex(of: chars[index])! | 1]
        #expect(throws: AgeError.malformedStanza("ephemeral share is not canonical base64 of 32 bytes")) {
            try decrypt(stanzas: String(decoding: chars, as: UTF8.self))
        }
    }

    @Test func lowOrderShareIsRefused() throws {
        let zeroShare = Base64.encode([UInt8](repeating: 0, count: 32))
        let bad = "-> X25519 \(zeroShare)\n\(Base64.encode(randomBytes(32)))\n"
        #expect(throws: AgeError.allZeroSharedSecret) { try decrypt(stanzas: bad + stanza) }
        // u = 1 is another small-order point.
        let one = Base64.encode([1] + [UInt8](repeating: 0, count: 31))
        #expect(throws: AgeError.allZeroSharedSecret) {
            try decrypt(stanzas: "-> X25519 \(one)\n\(Base64.encode(randomBytes(32)))\n" + stanza)
        }
    }
}

extension AgeError {
    var isMalformedHeader: Bool { if case .malformedHeader = self { true } else { false } }
    var isMalformedStanza: Bool { if case .malformedStanza = self { true } else { false } }
}
