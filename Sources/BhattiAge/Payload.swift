/// The STREAM-encrypted payload: a 16-byte nonce, then 64 KiB plaintext chunks
/// sealed with nonce = 11-byte big-endian counter || final-chunk flag.
enum Payload {
    static let nonceSize = 16
    static let chunkSize = 64 * 1024
    static let sealedChunkSize = chunkSize + ChaChaPoly.tagSize

    static func encrypt(_ plaintext: [UInt8], fileKey: [UInt8]) throws -> [UInt8] {
        let nonce = try Crypto.randomBytes(nonceSize)
        let key = try payloadKey(fileKey: fileKey, nonce: nonce)
        var out = nonce
        let chunks = max(1, (plaintext.count + chunkSize - 1) / chunkSize)
        out.reserveCapacity(nonceSize + plaintext.count + chunks * ChaChaPoly.tagSize)
        // Only an empty plaintext yields an empty (final) chunk; otherwise the last chunk may be full.
        for index in 0..<chunks {
            let start = index * chunkSize
            let chunk = plaintext[start..<min(start + chunkSize, plaintext.count)]
            let last = index == chunks - 1
            out += try ChaChaPoly.seal(key: key, nonce: chunkNonce(UInt64(index), last: last), chunk)
        }
        return out
    }

    static func decrypt(_ payload: ArraySlice<UInt8>, fileKey: [UInt8]) throws -> [UInt8] {
        guard payload.count >= nonceSize else { throw AgeError.truncated }
        let key = try payloadKey(fileKey: fileKey, nonce: Array(payload.prefix(nonceSize)))
        var out: [UInt8] = []
        out.reserveCapacity(payload.count)
        var offset = payload.startIndex + nonceSize
        var counter: UInt64 = 0
        while true {
            let remaining = payload.endIndex - offset
            // Running out before a final chunk authenticates is truncation, per the spec.
            guard remaining >= ChaChaPoly.tagSize else { throw AgeError.truncated }
            let sealed = payload[offset..<(offset + min(remaining, sealedChunkSize))]
            offset = sealed.endIndex

            // A full-size chunk is normally not final, but the last chunk may be full too.
            if sealed.count == sealedChunkSize,
                let plain = try ChaChaPoly.open(key: key, nonce: chunkNonce(counter, last: false), sealed)
            {
                out += plain
                counter += 1
                continue
            }
            guard let plain = try ChaChaPoly.open(key: key, nonce: chunkNonce(counter, last: true), sealed) else {
                throw AgeError.payloadAuthenticationFailed(chunk: counter)
            }
            guard !plain.isEmpty || counter == 0 else { throw AgeError.emptyFinalChunk }
            guard offset == payload.endIndex else { throw AgeError.trailingData }
            out += plain
            return out
        }
    }

    private static func payloadKey(fileKey: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        try Crypto.hkdf(ikm: fileKey, salt: nonce, info: Array("payload".utf8))
    }

    static func chunkNonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 3)  // the counter's top 24 bits never get used
        for shift in stride(from: 56, through: 0, by: -8) { nonce.append(UInt8(truncatingIfNeeded: counter >> UInt64(shift))) }
        nonce.append(last ? 1 : 0)
        return nonce
    }
}
