/// Bech32 as BIP-173 defines it (not bech32m), minus the 90-character limit,
/// which age drops because its keys are longer.
enum Bech32 {
    private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let checksumLength = 6

    /// Encodes in lowercase; callers uppercase the result where the format wants it.
    static func encode(hrp: String, data: [UInt8]) -> String {
        let hrp = Array(hrp.lowercased().utf8)
        let values = convertBits(data, from: 8, to: 5, pad: true) ?? []
        let checksum = makeChecksum(hrp: hrp, values: values)
        let body = (values + checksum).map { charset[Int($0)] }
        return String(decoding: hrp + [UInt8(ascii: "1")] + body, as: UTF8.self)
    }

    /// Returns the human-readable part as written (case preserved) and the data bytes.
    static func decode(_ text: String) throws(Bech32Error) -> (hrp: String, data: [UInt8]) {
        let bytes = Array(text.utf8)
        for byte in bytes where byte < 33 || byte > 126 { throw .invalidCharacter(byte) }
        let hasLower = bytes.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        let hasUpper = bytes.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if hasLower && hasUpper { throw .mixedCase }
        guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")),
            separator >= 1, separator + 1 + checksumLength <= bytes.count
        else { throw .invalidSeparatorPosition }

        let lower = bytes.map(lowercase)
        var values: [UInt8] = []
        values.reserveCapacity(bytes.count - separator - 1)
        for byte in lower[(separator + 1)...] {
            guard let value = charset.firstIndex(of: byte) else { throw .invalidCharacter(byte) }
            values.append(UInt8(value))
        }
        // The checksum always covers the lowercase form.
        guard polymod(expand(Array(lower[..<separator])) + values) == 1 else { throw .badChecksum }
        guard let data = convertBits(values.dropLast(checksumLength), from: 5, to: 8, pad: false)
        else { throw .invalidPadding }
        return (String(decoding: bytes[..<separator], as: UTF8.self), data)
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { checksum ^= generator[i] }
        }
        return checksum
    }

    private static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    private static func makeChecksum(hrp: [UInt8], values: [UInt8]) -> [UInt8] {
        let mod = polymod(expand(hrp) + values + [UInt8](repeating: 0, count: checksumLength)) ^ 1
        return (0..<checksumLength).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
    }

    /// Regroups bits; without `pad`, leftover bits must be fewer than `from` and all zero.
    private static func convertBits<C: Collection<UInt8>>(_ input: C, from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        let maxValue = (1 << to) - 1
        var out: [UInt8] = []
        out.reserveCapacity(input.count * from / to + 1)
        for value in input {
            guard Int(value) >> from == 0 else { return nil }
            accumulator = (accumulator << from | Int(value)) & 0xffff
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((accumulator >> bits) & maxValue))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((accumulator << (to - bits)) & maxValue)) }
        } else if bits >= from || (accumulator << (to - bits)) & maxValue != 0 {
            return nil
        }
        return out
    }
}
