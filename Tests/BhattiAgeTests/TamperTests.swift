import Testing

@testable import BhattiAge

/// Every way a file can be damaged maps to a specific error.
@Suite struct TamperTests {
    let identity: AgeIdentity
    init() throws { identity = try AgeIdentity.generate() }

    func encrypt(_ size: Int) throws -> (file: [UInt8], header: Header) {
        let file = try Age.encrypt(randomBytes(size), to: [identity.recipient])
        return (file, try Header.parse(file))
    }

    @Test func tamperedMAC() throws {
        let (file, header) = try encrypt(100)
        var mac = header.mac
        mac[0] ^= 1
        let macStart = header.authenticated.endIndex + 1
        let tampered = replacing(file, range: macStart..<(macStart + 43), with: Array(Base64.encode(mac).utf8))
        #expect(throws: AgeError.headerMACMismatch) { try Age.decrypt(tampered, with: [identity]) }
    }

    @Test func stanzaAddedWithoutUpdatingMAC() throws {
        let (file, header) = try encrypt(100)
        let dashes = header.authenticated.endIndex - 3
        let tampered = replacing(file, range: dashes..<dashes, with: Array("-> extra\n\n".utf8))
        #expect(throws: AgeError.headerMACMismatch) { try Age.decrypt(tampered, with: [identity]) }
    }

    @Test func tamperedPayloadByte() throws {
        let (file, header) = try encrypt(100)
        var tampered = file
        tampered[header.payloadStart + Payload.nonceSize + 5] ^= 0x80
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 0)) { try Age.decrypt(tampered, with: [identity]) }

        var tamperedNonce = file
        tamperedNonce[header.payloadStart] ^= 1
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 0)) {
            try Age.decrypt(tamperedNonce, with: [identity])
        }
    }

    @Test func tamperedSecondChunk() throws {
        let (file, header) = try encrypt(200 * 1024)
        var tampered = file
        tampered[header.payloadStart + Payload.nonceSize + Payload.sealedChunkSize + 10] ^= 1
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 1)) { try Age.decrypt(tampered, with: [identity]) }
    }

    @Test func truncated() throws {
        let (file, header) = try encrypt(200 * 1024)
        let payload = header.payloadStart + Payload.nonceSize
        // Cut at a chunk boundary: no final chunk ever authenticates.
        #expect(throws: AgeError.truncated) {
            try Age.decrypt(Array(file[..<(payload + Payload.sealedChunkSize)]), with: [identity])
        }
        #expect(throws: AgeError.truncated) { try Age.decrypt(Array(file[..<payload]), with: [identity]) }
        #expect(throws: AgeError.truncated) { try Age.decrypt(Array(file[..<(payload - 3)]), with: [identity]) }
        #expect(throws: AgeError.truncated) { try Age.decrypt(Array(file[..<(header.payloadStart - 1)]), with: [identity]) }
        #expect(throws: AgeError.truncated) { try Age.decrypt(Array(file[..<30]), with: [identity]) }
        #expect(throws: AgeError.truncated) { try Age.decrypt(Array(file[..<10]), with: [identity]) }
        // Cut inside a chunk: that partial chunk is taken as final and fails to authenticate.
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 1)) {
            try Age.decrypt(Array(file[..<(payload + Payload.sealedChunkSize + 100)]), with: [identity])
        }
    }

    @Test func trailingBytesAfterFullFinalChunk() throws {
        let (file, _) = try encrypt(64 * 1024)
        #expect(throws: AgeError.trailingData) { try Age.decrypt(file + [0], with: [identity]) }
        #expect(throws: AgeError.trailingData) { try Age.decrypt(file + randomBytes(Payload.sealedChunkSize), with: [identity]) }
    }

    /// After a short final chunk, extra bytes shift the chunk boundary, so they surface as
    /// an authentication failure of that chunk; either way the file is refused.
    @Test func trailingBytesAfterShortFinalChunk() throws {
        let (file, _) = try encrypt(100)
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 0)) { try Age.decrypt(file + [0], with: [identity]) }
        let (empty, _) = try encrypt(0)
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 0)) { try Age.decrypt(empty + [0], with: [identity]) }
    }

    @Test func emptyFinalChunkAfterFullChunk() throws {
        let fileKey = randomBytes(16)
        let header = "age-encryption.org/v1\n" + (try x25519StanzaText(fileKey: fileKey, to: identity.recipient)) + "---"
        var file = try assembleFile(header: header, fileKey: fileKey, plaintext: [])
        let payloadStart = try Header.parse(file).payloadStart
        let nonce = Array(file[payloadStart..<(payloadStart + Payload.nonceSize)])
        let key = try Crypto.hkdf(ikm: fileKey, salt: nonce, info: Array("payload".utf8))
        file = Array(file[..<(payloadStart + Payload.nonceSize)])
        file += try ChaChaPoly.seal(key: key, nonce: Payload.chunkNonce(0, last: false), randomBytes(Payload.chunkSize))
        file += try ChaChaPoly.seal(key: key, nonce: Payload.chunkNonce(1, last: true), [UInt8]())
        #expect(throws: AgeError.emptyFinalChunk) { try Age.decrypt(file, with: [identity]) }
    }

    @Test func shortNonFinalChunk() throws {
        let fileKey = randomBytes(16)
        let header = "age-encryption.org/v1\n" + (try x25519StanzaText(fileKey: fileKey, to: identity.recipient)) + "---"
        var file = try assembleFile(header: header, fileKey: fileKey, plaintext: [])
        let payloadStart = try Header.parse(file).payloadStart
        let nonce = Array(file[payloadStart..<(payloadStart + Payload.nonceSize)])
        let key = try Crypto.hkdf(ikm: fileKey, salt: nonce, info: Array("payload".utf8))
        file = Array(file[..<(payloadStart + Payload.nonceSize)])
        file += try ChaChaPoly.seal(key: key, nonce: Payload.chunkNonce(0, last: false), randomBytes(100))
        file += try ChaChaPoly.seal(key: key, nonce: Payload.chunkNonce(1, last: true), randomBytes(100))
        #expect(throws: AgeError.payloadAuthenticationFailed(chunk: 0)) { try Age.decrypt(file, with: [identity]) }
    }
}
