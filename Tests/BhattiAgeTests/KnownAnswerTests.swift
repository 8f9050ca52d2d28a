import Foundation
import Testing

@testable import BhattiAge

/// A file produced once by the reference `age` CLI (v1.1.1), kept as bytes so the
/// decryption path is pinned independently of both our encoder and the installed CLI.
@Suite struct KnownAnswerTests {
    // `age -r age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj`, the spec's example recipient.
    static let file = """
        YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSAwZ1llalZBMnlWbW0zbTBaNGhnL2lIclprenQvOVFQTXRQY3BsQ3Zn\
        OXh3Clg5V1p5bU9BU0UrRUJNNUVVTmRYSTVPcUUvTUhUOWdhZExROXQ5TlBIS1kKLS0tIFp5VndnM2RSSTdOdW9tS3BwaEI2\
        aVUvMXRPQ1RLd0kzRGNveW1BUkZNaDgKFYCiF7UC6224s/HINzhikRXo2Ra1B5DiIb5NmfAiBj/P82nEGybVzOQ4Rbx55zbJ\
        Kdfa3rC/sGF2MHw=
        """

    @Test func decryptsReferenceFile() throws {
        let bytes = try #require(Data(base64Encoded: Self.file)).map { $0 }
        let identity = try AgeIdentity(parsing: KeyTests.specIdentity)
        #expect(try Age.decrypt(bytes, with: [identity]) == Array("bhatti known-answer vector\n".utf8))

        let header = try Header.parse(bytes)
        #expect(header.stanzas.map(\.type) == ["X25519"])
        #expect(header.stanzas[0].arguments == ["0gYejVA2yVmm3m0Z4hg/iHrZkzt/9QPMtPcplCvg9xw"])
        #expect(Base64.encode(header.mac) == "ZyVwg3dRI7NuomKpphB6iU/1tOCTKwI3DcoymARFMh8")

        #expect(throws: AgeError.noIdentityMatched) { try Age.decrypt(bytes, with: [try AgeIdentity.generate()]) }
    }
}
