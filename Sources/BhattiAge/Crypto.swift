import COpenSSL

/// The libcrypto primitives age needs. Each failure names the call that failed
/// (shim.h does not expose err.h, so the OpenSSL error queue is not read).
enum Crypto {
    static func randomBytes(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&out, Int32(count)) == 1 else { throw AgeError.libcrypto("RAND_bytes") }
        return out
    }

    /// HKDF-SHA-256 (RFC 5869, extract then expand) through the EVP_PKEY HKDF bridge.
    static func hkdf(ikm: [UInt8], salt: [UInt8], info: [UInt8], count: Int = 32) throws -> [UInt8] {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "HKDF", nil) else {
            throw AgeError.libcrypto("EVP_PKEY_CTX_new_from_name(HKDF)")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1 else { throw AgeError.libcrypto("EVP_PKEY_derive_init(HKDF)") }

        var ikm = ikm
        var salt = salt
        var info = info
        let configured = ikm.withUnsafeMutableBytes { ikm in
            salt.withUnsafeMutableBytes { salt in
                info.withUnsafeMutableBytes { info in
                    var params = [OSSL_PARAM_construct_utf8_string(cString("digest"), mutableCString("SHA256"), 0)]
                    params.append(OSSL_PARAM_construct_octet_string(cString("key"), ikm.baseAddress, ikm.count))
                    // An empty salt or info is the same as leaving it out (RFC 5869 §2.2).
                    if !salt.isEmpty {
                        params.append(OSSL_PARAM_construct_octet_string(cString("salt"), salt.baseAddress, salt.count))
                    }
                    if !info.isEmpty {
                        params.append(OSSL_PARAM_construct_octet_string(cString("info"), info.baseAddress, info.count))
                    }
                    params.append(OSSL_PARAM_construct_end())
                    return EVP_PKEY_CTX_set_params(ctx, &params) == 1
                }
            }
        }
        guard configured else { throw AgeError.libcrypto("EVP_PKEY_CTX_set_params(HKDF)") }

        var out = [UInt8](repeating: 0, count: count)
        var length = count
        guard EVP_PKEY_derive(ctx, &out, &length) == 1, length == count else {
            throw AgeError.libcrypto("EVP_PKEY_derive(HKDF)")
        }
        return out
    }

    static func hmacSHA256<C: Collection<UInt8>>(key: [UInt8], message: C) throws -> [UInt8] {
        let message = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        guard
            EVP_Q_mac(
                nil, "HMAC", nil, "SHA256", nil, key, key.count, message, message.count,
                &out, out.count, &length) != nil, length == 32
        else { throw AgeError.libcrypto("EVP_Q_mac(HMAC-SHA256)") }
        return out
    }

    /// Compares in time independent of where the inputs differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && CRYPTO_memcmp(a, b, a.count) == 0
    }

    /// OSSL_PARAM keeps the name pointer, so names must outlive the call: use static storage.
    private static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// libcrypto only reads utf8 parameter values; the C signature just lacks the const.
    private static func mutableCString(_ text: StaticString) -> UnsafeMutablePointer<CChar> {
        UnsafeMutablePointer(mutating: cString(text))
    }
}
