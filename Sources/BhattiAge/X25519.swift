import COpenSSL

/// X25519 (RFC 7748) scalar multiplication through EVP_PKEY.
enum X25519 {
    static let keySize = 32

    /// X25519(secret, basepoint).
    static func publicKey(secret: [UInt8]) throws -> [UInt8] {
        let key = try privateKey(secret)
        defer { EVP_PKEY_free(key) }
        var out = [UInt8](repeating: 0, count: keySize)
        var length = keySize
        guard EVP_PKEY_get_raw_public_key(key, &out, &length) == 1, length == keySize else {
            throw AgeError.libcrypto("EVP_PKEY_get_raw_public_key")
        }
        return out
    }

    /// X25519(secret, peer); throws `.allZeroSharedSecret` for low-order peers.
    static func sharedSecret(secret: [UInt8], peer: [UInt8]) throws -> [UInt8] {
        let key = try privateKey(secret)
        defer { EVP_PKEY_free(key) }
        guard let peerKey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peer, peer.count) else {
            throw AgeError.libcrypto("EVP_PKEY_new_raw_public_key(X25519)")
        }
        defer { EVP_PKEY_free(peerKey) }
        guard let ctx = EVP_PKEY_CTX_new(key, nil) else { throw AgeError.libcrypto("EVP_PKEY_CTX_new(X25519)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1 else { throw AgeError.libcrypto("EVP_PKEY_derive_init(X25519)") }
        guard EVP_PKEY_derive_set_peer(ctx, peerKey) == 1 else {
            throw AgeError.libcrypto("EVP_PKEY_derive_set_peer(X25519)")
        }
        var out = [UInt8](repeating: 0, count: keySize)
        var length = keySize
        // With valid 32-byte keys the only way this derive fails is libcrypto refusing
        // an all-zero result, so report it as such rather than as a generic failure.
        guard EVP_PKEY_derive(ctx, &out, &length) == 1 else { throw AgeError.allZeroSharedSecret }
        guard length == keySize else { throw AgeError.libcrypto("EVP_PKEY_derive(X25519)") }
        guard out.contains(where: { $0 != 0 }) else { throw AgeError.allZeroSharedSecret }
        return out
    }

    private static func privateKey(_ secret: [UInt8]) throws -> OpaquePointer {
        guard secret.count == keySize,
            let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, secret, secret.count)
        else { throw AgeError.libcrypto("EVP_PKEY_new_raw_private_key(X25519)") }
        return key
    }
}
