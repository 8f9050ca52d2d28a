/// LZ4 decompression of the kernel's payload, to boot an uncompressed ELF `vmlinux` (PVH entry)
/// instead of the bzImage: under TCG the guest-side decompressor costs about 0.15 s of every boot.
enum LZ4 {
    enum Error: Swift.Error, Equatable {
        case truncated
        case badOffset
        case tooLarge
    }

    /// The legacy frame magic (`lz4 -l`, what the kernel's `CONFIG_KERNEL_LZ4` uses), little-endian.
    static let legacyMagic: [UInt8] = [0x02, 0x21, 0x4c, 0x18]

    /// Decodes a legacy frame: magic, then blocks of u32 LE compressed size + LZ4 block, until the data
    /// ends or a size cannot be a block (the kernel appends its own length after the last block).
    static func decompressLegacy(_ data: ArraySlice<UInt8>, limit: Int = 512 << 20) throws(Error) -> [UInt8] {
        guard data.starts(with: legacyMagic) else { throw .truncated }
        var out: [UInt8] = []
        out.reserveCapacity(64 << 20)
        var i = data.startIndex + 4
        while i + 4 <= data.endIndex {
            let size = Int(data[i]) | Int(data[i + 1]) << 8 | Int(data[i + 2]) << 16 | Int(data[i + 3]) << 24
            // A legacy block compresses at most 8 MiB; anything else marks the end of the frame.
            if size == 0 || size > (8 << 20) + (8 << 20) / 255 + 16 || i + 4 + size > data.endIndex { break }
            try decompressBlock(data[(i + 4)..<(i + 4 + size)], into: &out, limit: limit)
            i += 4 + size
        }
        return out
    }

    /// One LZ4 block: sequences of literals and back-references.
    static func decompressBlock(_ block: ArraySlice<UInt8>, into out: inout [UInt8], limit: Int) throws(Error) {
        var i = block.startIndex
        let end = block.endIndex
        while i < end {
            let token = block[i]
            i += 1
            var literals = Int(token >> 4)
            if literals == 15 {
                while true {
                    guard i < end else { throw .truncated }
                    let b = block[i]
                    i += 1
                    literals += Int(b)
                    if b != 255 { break }
                }
            }
            guard i + literals <= end else { throw .truncated }
            out.append(contentsOf: block[i..<(i + literals)])
            i += literals
            if i == end { break }  // the last sequence carries literals only
            guard i + 2 <= end else { throw .truncated }
            let offset = Int(block[i]) | Int(block[i + 1]) << 8
            i += 2
            var length = Int(token & 0x0f)
            if length == 15 {
                while true {
                    guard i < end else { throw .truncated }
                    let b = block[i]
                    i += 1
                    length += Int(b)
                    if b != 255 { break }
                }
            }
            length += 4
            guard offset > 0, offset <= out.count else { throw .badOffset }
            guard out.count + length <= limit else { throw .tooLarge }
            // Byte by byte: a match may overlap the bytes it produces (offset < length).
            var from = out.count - offset
            for _ in 0..<length {
                out.append(out[from])
                from += 1
            }
        }
    }

    /// Finds the LZ4-compressed kernel inside a bzImage and returns the ELF `vmlinux`, or nil when the
    /// kernel is compressed some other way.
    static func extractVmlinux(fromBzImage image: [UInt8]) -> [UInt8]? {
        var start = 0
        while let at = find(legacyMagic, in: image, from: start) {
            if let elf = try? decompressLegacy(image[at...]), elf.starts(with: [0x7f, 0x45, 0x4c, 0x46]) { return elf }
            start = at + 1
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i + 1] == needle[1], haystack[i + 2] == needle[2], haystack[i + 3] == needle[3] {
                return i
            }
            i += 1
        }
        return nil
    }
}
