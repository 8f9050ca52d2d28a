import Testing

@testable import BhattiAge

/// Published vectors for the libcrypto wrappers.
@Suite struct PrimitiveTests {
    @Test func hkdfRFC5869Case1() throws {
        let okm = try Crypto.hkdf(
            ikm: [UInt8](repeating: 0x0b, count: 22), salt: hexBytes("000102030405060708090a0b0c"),
            info: hexBytes("f0f1f2f3f4f5f6f7f8f9"), count: 42)
        #expect(okm == hexBytes("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    }

    @Test func hkdfRFC5869Case3EmptySaltAndInfo() throws {
        let okm = try Crypto.hkdf(ikm: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], count: 42)
        #expect(okm == hexBytes("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
    }

    @Test func hmacRFC4231Case2() throws {
        let mac = try Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac == hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    }

    @Test func x25519RFC7748() throws {
        let alice = hexBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        let bob = hexBytes("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
        let alicePublic = try X25519.publicKey(secret: alice)
        let bobPublic = try X25519.publicKey(secret: bob)
        #expect(alicePublic == hexBytes("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(bobPublic == hexBytes("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let shared = hexBytes("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        #expect(try X25519.sharedSecret(secret: alice, peer: bobPublic) == shared)
        #expect(try X25519.sharedSecret(secret: bob, peer: alicePublic) == shared)
    }

    @Test func chachaPolyRoundTripAndTamper() throws {
        let key = randomBytes(32)
        let nonce = randomBytes(12)
        for count in [0, 1, 1000] {
            let plaintext = randomBytes(count)
            var sealed = try ChaChaPoly.seal(key: key, nonce: nonce, plaintext)
            #expect(sealed.count == count + 16)
            #expect(try ChaChaPoly.open(key: key, nonce: nonce, sealed) == plaintext)
            sealed[sealed.count - 1] ^= 1
            #expect(try ChaChaPoly.open(key: key, nonce: nonce, sealed) == nil)
        }
        #expect(try ChaChaPoly.open(key: key, nonce: nonce, randomBytes(15)) == nil)
    }

    @Test func base64IsStrict() {
        #expect(Base64.encode([UInt8]()) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64.encode([0xfb, 0xff]) == "+/8")
        #expect(Base64.decode("Zm8".utf8) == Array("fo".utf8))
        #expect(Base64.decode("".utf8) == [])
        for bad in ["Zm8=", "Zh", "Zm9", "Z", "Zm 9v", "Zm9v\n", "Zm-_"] {
            #expect(Base64.decode(bad.utf8) == nil, "\(bad)")
        }
    }

    @Test func chunkNonce() {
        #expect(Payload.chunkNonce(0, last: false) == [UInt8](repeating: 0, count: 12))
        #expect(Payload.chunkNonce(0x0102, last: true) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1])
    }
}
