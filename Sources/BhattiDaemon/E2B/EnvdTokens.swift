import BhattiCore
import BhattiSystem
import COpenSSL
import Foundation
import Glibc

/// The per-sandbox `X-Access-Token` of the E2B envd surface: HMAC-SHA256 of the sandbox id under a
/// daemon secret (`<data-dir>/e2b.key`, 0600, made at first start). Every sandbox gets one, `secure`
/// or not: envd calls for every user come to one URL, so the token is what ties a call to the
/// sandbox it names. Nothing is stored per sandbox; a new secret voids every token.
public struct EnvdTokens: Sendable {
    private let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    /// The secret in `<dataDirectory>/e2b.key`, made (32 random bytes, hex) when missing.
    public static func load(dataDirectory: String) throws -> EnvdTokens {
        let path = dataDirectory + "/e2b.key"
        if let bytes = try? readWholeFile(path), let hex = String(bytes: bytes, encoding: .utf8), hex.count >= 64 {
            return EnvdTokens(secret: Array(hex.prefix(64).utf8))
        }
        var random = [UInt8](repeating: 0, count: 32)
        guard RAND_bytes(&random, 32) == 1 else { throw BhattiError(.internal, "no random bytes for \(path)") }
        let hex = random.map { String(format: "%02x", $0) }.joined()
        try AtomicFile.write(Array(hex.utf8), to: path, mode: 0o600)
        return EnvdTokens(secret: Array(hex.utf8))
    }

    public func token(for sandboxID: String) -> String {
        let message = Array(("envd:" + sandboxID).utf8)
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        _ = EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, secret, secret.count, message, message.count, &out, out.count, &length)
        return "e2b_" + out.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `token` is `sandboxID`'s, compared in constant time.
    public func verify(_ token: String?, for sandboxID: String) -> Bool {
        guard let token else { return false }
        return APIKey.constantTimeEqual(token, self.token(for: sandboxID))
    }
}
