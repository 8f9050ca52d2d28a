import BhattiSystem
import Foundation
import Testing

@Suite("/proc/meminfo and statvfs, as the guest agent reports them")
struct GuestMetricsParsingTests {
    static let sample = """
        MemTotal:        1004116 kB
        MemFree:          712340 kB
        MemAvailable:     853004 kB
        Buffers:            4120 kB
        Cached:           156884 kB
        SwapCached:            0 kB
        Active:            92188 kB
        HugePages_Total:       0
        Hugepagesize:       2048 kB
        """

    @Test(
        "total, available and cache (Cached + Buffers) in bytes; nil without MemTotal or MemAvailable, or with a value that is no number",
        arguments: [
            (sample, MemInfo(total: 1_004_116 * 1024, available: 853_004 * 1024, cache: (156_884 + 4120) * 1024)),
            // SwapCached and HugePages_Total are not Cached, nor a unitless count a problem.
            (
                "MemTotal: 2048 kB\nMemAvailable: 1024 kB\nSwapCached: 9 kB\nHugePages_Total: 5\n",
                MemInfo(total: 2048 * 1024, available: 1024 * 1024, cache: 0)
            ),
            // An older kernel's order, no Buffers line.
            ("MemAvailable: 1 kB\nCached: 2 kB\nMemTotal: 3 kB", MemInfo(total: 3072, available: 1024, cache: 2048)),
            (sample.replacingOccurrences(of: "MemAvailable", with: "MemAvail"), nil),
            (sample.replacingOccurrences(of: "MemTotal", with: "Total"), nil),
            ("MemTotal: many kB\nMemAvailable: 1 kB\n", nil),
            ("MemTotal: 4 MB\nMemAvailable: 1 kB\n", nil),
            ("", nil),
        ] as [(String, MemInfo?)])
    func meminfo(_ text: String, _ expected: MemInfo?) {
        #expect(MemInfo.parse(text) == expected)
    }

    @Test(
        "used is total less available, never below zero",
        arguments: [
            (MemInfo(total: 100, available: 30, cache: 50), 70),
            (MemInfo(total: 100, available: 100, cache: 0), 0),
            (MemInfo(total: 100, available: 120, cache: 0), 0),
        ])
    func used(_ info: MemInfo, _ expected: Int) {
        #expect(info.used == expected)
    }

    @Test(
        "statvfs counts as df shows them: every block in the total, reserved blocks free; more free than all reads as none used",
        arguments: [
            (1000, 400, 4096, FileSystemUsage(used: 600 * 4096, total: 1000 * 4096)),
            (1000, 1000, 4096, FileSystemUsage(used: 0, total: 1000 * 4096)),
            (1000, 1200, 4096, FileSystemUsage(used: 0, total: 1000 * 4096)),
            (0, 0, 4096, FileSystemUsage(used: 0, total: 0)),
            (UInt64.max, 0, 4096, FileSystemUsage(used: .max, total: .max)),
        ] as [(UInt64, UInt64, UInt64, FileSystemUsage)])
    func fileSystem(_ blocks: UInt64, _ free: UInt64, _ size: UInt64, _ expected: FileSystemUsage) {
        #expect(FileSystemUsage(blocks: blocks, freeBlocks: free, blockSize: size) == expected)
    }

    @Test("this machine's root: a total, and no more used than that")
    func root() throws {
        let usage = try #require(DiskSpace.usage("/"))
        #expect(usage.total > 0 && usage.used <= usage.total)
        #expect(DiskSpace.usage("/no/such/path") == nil)
    }
}
