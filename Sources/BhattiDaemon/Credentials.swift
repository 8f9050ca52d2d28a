import BhattiAPI
import BhattiCore
import BhattiSystem
import COpenSSL
import Foundation

/// API keys: `bht_` + 64 hex. The daemon keeps only their SHA-256.
public enum APIKey {
    /// A fresh key from the kernel's random source.
    public static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        _ = RAND_bytes(&bytes, 32)
        return "bht_" + hexString(bytes)
    }

    /// Hex SHA-256 of the key: what is stored and compared.
    public static func hash(_ key: String) -> String {
        let input = Array(key.utf8)
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(input, input.count, &digest)
        return hexString(digest)
    }

    /// Whether `key` hashes to `expected`, compared in constant time.
    public static func matches(_ key: String, hash expected: String) -> Bool {
        constantTimeEqual(hash(key), expected)
    }

    /// Constant-time comparison of two hex digests (the time depends only on their length).
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// The admin key: created on first start in `<data-dir>/admin.key` (0600).
public enum AdminKey {
    /// Reads the key, creating it when absent. Returns the key and whether it was created now.
    static func loadOrCreate(dataDirectory: String) throws -> (key: String, created: Bool) {
        let path = dataDirectory + "/admin.key"
        if let data = FileManager.default.contents(atPath: path) {
            let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard key.hasPrefix("bht_"), key.count == 68 else {
                throw BhattiError(.internal, "\(path) does not hold a bhatti key; remove it to generate a new one")
            }
            return (key, false)
        }
        let key = APIKey.generate()
        try writePrivate(path: path, contents: key + "\n")
        return (key, true)
    }

    /// Writes `~/.bhatti/config.json` for the invoking user when it does not exist yet.
    static func writeClientConfigIfAbsent(url: String, key: String) -> String? {
        guard let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty,
            !FileManager.default.fileExists(atPath: home + "/.bhatti/config.json")
        else { return nil }
        return try? ClientConfig.write(url: url, key: key, home: home)
    }

    /// Atomically writes a 0600 file (`AtomicFile`: a crash leaves the old key or the new one).
    static func writePrivate(path: String, contents: String) throws {
        do { try AtomicFile.write(Array(contents.utf8), to: path, mode: 0o600) } catch {
            throw BhattiError(.internal, "cannot write \(path)", cause: error)
        }
    }
}
