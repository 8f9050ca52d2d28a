import Testing

@testable import BhattiImage

@Suite("LZ4 (kernel payload)")
struct LZ4Tests {
    @Test("literals only")
    func literals() throws {
        var out: [UInt8] = []
        try LZ4.decompressBlock([0x50] + Array("hello".utf8), into: &out, limit: 100)
        #expect(out == Array("hello".utf8))
    }

    @Test("an overlapping back-reference, then trailing literals")
    func match() throws {
        // token 0x32: 3 literals "abc", match length 2+4 at offset 3; then token 0x10: literal "X".
        var out: [UInt8] = []
        try LZ4.decompressBlock([0x32, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x58][...], into: &out, limit: 100)
        #expect(String(decoding: out, as: UTF8.self) == "abcabcabcX")
    }

    @Test("extended lengths (15 + 255 + n)")
    func extended() throws {
        // 15+1 = 16 literals 'a', then a match at offset 1 of 15+255+0+4 = 274 bytes, then 1 literal.
        let block: [UInt8] = [0xFF, 0x01] + Array(repeating: 0x61, count: 16) + [0x01, 0x00, 0xFF, 0x00] + [0x10, 0x62]
        var out: [UInt8] = []
        try LZ4.decompressBlock(block[...], into: &out, limit: 1000)
        #expect(out.count == 16 + 274 + 1)
        #expect(out.dropLast().allSatisfy { $0 == 0x61 })
        #expect(out.last == 0x62)
    }

    @Test("a legacy frame of two blocks, with the kernel's size trailer after it")
    func legacyFrame() throws {
        let b1: [UInt8] = [0x50] + Array("hello".utf8)
        let b2: [UInt8] = [0x60] + Array(" world".utf8)
        func le(_ n: Int) -> [UInt8] { [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24 & 0xff)] }
        let frame = LZ4.legacyMagic + le(b1.count) + b1 + le(b2.count) + b2 + le(0x0123_4567)
        #expect(try LZ4.decompressLegacy(frame[...]) == Array("hello world".utf8))
    }

    @Test("corrupt input is an error, never a crash", arguments: [[0x0F, 0x01], [0x10], [0x01, 0x61, 0x09, 0x00]] as [[UInt8]])
    func corrupt(block: [UInt8]) {
        var out: [UInt8] = []
        #expect(throws: LZ4.Error.self) { try LZ4.decompressBlock(block[...], into: &out, limit: 1000) }
    }

    @Test("a bzImage without an LZ4 payload yields nothing")
    func notLZ4() {
        #expect(LZ4.extractVmlinux(fromBzImage: Array(repeating: 0, count: 4096)) == nil)
    }
}
