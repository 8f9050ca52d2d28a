import Testing

@testable import BhattiAge

@Suite struct Bech32Tests {
    // BIP-173 test vectors.
    @Test(arguments: [
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ])
    func validChecksums(text: String) {
        // Some vectors carry data that is not whole bytes; only the checksum matters here.
        do {
            _ = try Bech32.decode(text)
        } catch {
            #expect(error == .invalidPadding)
        }
    }

    @Test func decodesData() throws {
        let decoded = try Bech32.decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")
        #expect(decoded.hrp == "abcdef")
        #expect(decoded.data == hexBytes("00443214c74254b635cf84653a56d7c675be77df"))
        #expect(Bech32.encode(hrp: "abcdef", data: decoded.data) == "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")
        let empty = try Bech32.decode("A12UEL5L")
        #expect(empty.hrp == "A" && empty.data.isEmpty)
    }

    @Test(arguments: [
        ("\u{20}1nwldj5", Bech32Error.invalidCharacter(0x20)),
        ("\u{7f}1axkwrx", .invalidCharacter(0x7f)),
        ("pzry9x0s0muk", .invalidSeparatorPosition),
        ("1pzry9x0s0muk", .invalidSeparatorPosition),
        ("x1b4n0q5v", .invalidCharacter(UInt8(ascii: "b"))),
        ("li1dgmt3", .invalidSeparatorPosition),
        ("A1G7SGD8", .badChecksum),
        ("10a06t8", .invalidSeparatorPosition),
        ("1qzzfhee", .invalidSeparatorPosition),
        ("A12uEL5L", .mixedCase),
        // Bech32m (BIP-350) strings are not Bech32.
        ("a1lqfn3a", .badChecksum),
        ("A1LQFN3A", .badChecksum),
    ])
    func invalid(text: String, expected: Bech32Error) {
        #expect(throws: expected) { try Bech32.decode(text) }
    }

    @Test func nonASCIIIsRejected() {
        #expect(throws: Bech32Error.invalidCharacter(0xc3)) { try Bech32.decode("a1é") }
    }

    @Test(arguments: [0, 1, 5, 31, 32, 33, 100])
    func roundTrip(count: Int) throws {
        let data = randomBytes(count)
        let text = Bech32.encode(hrp: "test", data: data)
        #expect(text == text.lowercased())
        let lower = try Bech32.decode(text)
        #expect(lower.hrp == "test" && lower.data == data)
        let upper = try Bech32.decode(text.uppercased())
        #expect(upper.hrp == "TEST" && upper.data == data)
    }

    @Test func nonZeroPaddingIsRejected() throws {
        // 0xff is 11111 111(00): two groups, two padding bits.
        #expect(Bech32.encode(hrp: "a", data: [0xff]).hasPrefix("a1lu"))
        // 11111 11110: the padding bits are not zero.
        #expect(throws: Bech32Error.invalidPadding) { try Bech32.decode(bech32WithValues(hrp: "a", values: [31, 30])) }
        // Seven leftover bits: a whole extra group, not padding.
        #expect(throws: Bech32Error.invalidPadding) { try Bech32.decode(bech32WithValues(hrp: "a", values: [31, 28, 0])) }
    }

    /// A correctly checksummed string over arbitrary 5-bit values (BIP-173 reference algorithm).
    private func bech32WithValues(hrp: String, values: [UInt8]) -> String {
        let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
        func polymod(_ v: [UInt8]) -> UInt32 {
            let g: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
            var chk: UInt32 = 1
            for x in v {
                let b = chk >> 25
                chk = (chk & 0x1ffffff) << 5 ^ UInt32(x)
                for i in 0..<5 where (b >> UInt32(i)) & 1 == 1 { chk ^= g[i] }
            }
            return chk
        }
        let h = Array(hrp.utf8)
        let expanded = h.map { $0 >> 5 } + [0] + h.map { $0 & 31 }
        let mod = polymod(expanded + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
        return hrp + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }
}
