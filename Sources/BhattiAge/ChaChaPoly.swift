import COpenSSL

/// ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce, no associated data and
/// the 16-byte tag appended to the ciphertext, as age uses it.
enum ChaChaPoly {
    static let tagSize = 16
    static let nonceSize = 12

    static func seal<C: Collection<UInt8>>(key: [UInt8], nonce: [UInt8], _ plaintext: C) throws -> [UInt8] {
        let input = Array(plaintext)
        let ctx = try makeContext()
        defer { EVP_CIPHER_CTX_free(ctx) }
        guard EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), nil, key, nonce) == 1 else {
            throw AgeError.libcrypto("EVP_EncryptInit_ex(chacha20-poly1305)")
        }
        var out = [UInt8](repeating: 0, count: input.count + tagSize)
        try out.withUnsafeMutableBufferPointer { out in
            var written: Int32 = 0
            // An Update with no input is skipped: the provider treats a NULL input as finalisation.
            if !input.isEmpty {
                guard EVP_EncryptUpdate(ctx, out.baseAddress, &written, input, Int32(input.count)) == 1,
                    Int(written) == input.count
                else { throw AgeError.libcrypto("EVP_EncryptUpdate(chacha20-poly1305)") }
            }
            let tag = out.baseAddress! + input.count
            guard EVP_EncryptFinal_ex(ctx, tag, &written) == 1, written == 0 else {
                throw AgeError.libcrypto("EVP_EncryptFinal_ex(chacha20-poly1305)")
            }
            guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(tagSize), tag) == 1 else {
                throw AgeError.libcrypto("EVP_CIPHER_CTX_ctrl(GET_TAG)")
            }
        }
        return out
    }

    /// Returns nil when the tag does not verify; throws only when libcrypto itself fails.
    static func open<C: Collection<UInt8>>(key: [UInt8], nonce: [UInt8], _ sealed: C) throws -> [UInt8]? {
        let input = Array(sealed)
        guard input.count >= tagSize else { return nil }
        let ciphertextCount = input.count - tagSize
        var tag = Array(input[ciphertextCount...])
        let ctx = try makeContext()
        defer { EVP_CIPHER_CTX_free(ctx) }
        guard EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), nil, key, nonce) == 1 else {
            throw AgeError.libcrypto("EVP_DecryptInit_ex(chacha20-poly1305)")
        }
        var out = [UInt8](repeating: 0, count: ciphertextCount + 1)  // +1: never hand out a zero-size buffer
        var written: Int32 = 0
        if ciphertextCount > 0 {
            guard EVP_DecryptUpdate(ctx, &out, &written, input, Int32(ciphertextCount)) == 1,
                Int(written) == ciphertextCount
            else { throw AgeError.libcrypto("EVP_DecryptUpdate(chacha20-poly1305)") }
        }
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(tagSize), &tag) == 1 else {
            throw AgeError.libcrypto("EVP_CIPHER_CTX_ctrl(SET_TAG)")
        }
        var finalWritten: Int32 = 0
        let authentic = out.withUnsafeMutableBufferPointer { out in
            EVP_DecryptFinal_ex(ctx, out.baseAddress! + ciphertextCount, &finalWritten) == 1
        }
        guard authentic else { return nil }
        out.removeLast()
        return out
    }

    private static func makeContext() throws -> OpaquePointer {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw AgeError.libcrypto("EVP_CIPHER_CTX_new") }
        return ctx
    }
}
