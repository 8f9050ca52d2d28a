import Testing

@testable import BhattiImage

/// Golden bytes for the newc writer: a header is "070701" + 13 eight-digit upper-case hex fields
/// (ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check).
@Suite struct CpioTests {
    /// Builds a header the way the format defines it, field by field, for readable expectations.
    private func header(_ fields: [String]) -> String {
        precondition(fields.count == 13)
        return "070701" + fields.joined()
    }

    private let zero = "00000000"

    @Test func directoryFileAndTrailerMatchGoldenBytes() {
        var cpio = CpioArchive()
        cpio.directory("dev")
        cpio.file("init", Array("hi\n".utf8), permissions: 0o755)
        let bytes = cpio.encoded()

        // dev: ino 1, mode 040755 = 0x41ED, nlink 2, namesize 4 ("dev\0"): 110 + 4 = 114, pad to 116.
        var expected = header(["00000001", "000041ED", zero, zero, "00000002", zero, zero, zero, zero, zero, zero, "00000004", zero])
        expected += "dev\0" + "\0\0"
        // init: ino 2, mode 0100755 = 0x81ED, size 3, namesize 5: 110 + 5 = 115, pad 1; data 3, pad 1.
        expected += header(["00000002", "000081ED", zero, zero, "00000001", zero, "00000003", zero, zero, zero, zero, "00000005", zero])
        expected += "init\0" + "\0" + "hi\n" + "\0"
        // trailer: nlink 1, namesize 11: 110 + 11 = 121, pad to 124.
        expected += header([zero, zero, zero, zero, "00000001", zero, zero, zero, zero, zero, zero, "0000000B", zero])
        expected += "TRAILER!!!\0" + "\0\0\0"

        let golden = Array(expected.utf8)
        #expect(golden.count == 116 + 120 + 124)
        #expect(Array(bytes.prefix(golden.count)) == golden)
        // The archive is padded with NULs to a 512-byte block, like `cpio -o`.
        #expect(bytes.count == 512)
        #expect(bytes[golden.count...].allSatisfy { $0 == 0 })
    }

    @Test func characterDeviceCarriesRdevAndNoData() {
        var cpio = CpioArchive()
        cpio.characterDevice("dev/console", major: 5, minor: 1)
        let bytes = cpio.encoded()
        // mode 020600 = 0x2180; rdevmajor 5, rdevminor 1; namesize 12: 110 + 12 = 122, pad to 124.
        let expected =
            header([
                "00000001", "00002180", zero, zero, "00000001", zero, zero, zero, zero,
                "00000005", "00000001", "0000000C", zero,
            ]) + "dev/console\0" + "\0\0"
        #expect(Array(bytes.prefix(124)) == Array(expected.utf8))
        // The trailer follows immediately.
        #expect(String(decoding: bytes[124..<130], as: UTF8.self) == "070701")
    }

    @Test func symlinkStoresItsTargetAsData() {
        var cpio = CpioArchive()
        cpio.symlink("sbin", target: "bin")
        let bytes = cpio.encoded()
        // mode 0120777 = 0xA1FF, size 3; name "sbin\0" 110 + 5 = 115, pad 1; data "bin", pad 1.
        let expected =
            header([
                "00000001", "0000A1FF", zero, zero, "00000001", zero, "00000003", zero, zero,
                zero, zero, "00000005", zero,
            ]) + "sbin\0" + "\0" + "bin" + "\0"
        #expect(Array(bytes.prefix(120)) == Array(expected.utf8))
    }

    @Test func nameEndingOnABoundaryGetsNoExtraPadding() {
        var cpio = CpioArchive()
        cpio.file("ab", [1, 2, 3, 4])  // 110 + 3 = 113 → 116; data 4 → no pad
        let bytes = cpio.encoded()
        #expect(Array(bytes[113..<116]) == [0, 0, 0])
        #expect(Array(bytes[116..<120]) == [1, 2, 3, 4])
        #expect(String(decoding: bytes[120..<126], as: UTF8.self) == "070701")
    }

    @Test func hexFieldsAreEightUpperCaseDigits() {
        #expect(String(decoding: CpioArchive.hex8(0), as: UTF8.self) == "00000000")
        #expect(String(decoding: CpioArchive.hex8(0xABCD_EF12), as: UTF8.self) == "ABCDEF12")
        #expect(String(decoding: CpioArchive.hex8(0o100644), as: UTF8.self) == "000081A4")
    }

    @Test func sameInputsGiveSameBytes() {
        func make() -> [UInt8] {
            var cpio = CpioArchive()
            cpio.directory("lib")
            cpio.file("lib/x", Array(repeating: 7, count: 1000))
            return cpio.encoded()
        }
        #expect(make() == make())
    }
}
