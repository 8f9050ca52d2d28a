import BhattiSystem
import Foundation
import Glibc
import Testing

/// /proc files read whole, where Foundation stops at 4 KiB.
@Suite("readWholeFile")
struct ReadWholeFileTests {
    @Test("a /proc file far over 4 KiB comes whole: a mapping made last is in it")
    func procMaps() throws {
        // Enough separate mappings that /proc/self/maps is well over a page.
        var regions: [UnsafeMutableRawPointer] = []
        defer { for r in regions { munmap(r, 2 * 4096) } }
        for _ in 0..<500 {
            let r = try #require(mmap(nil, 2 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
            mprotect(r, 4096, PROT_NONE)  // two protections: two lines, never merged with a neighbour
            regions.append(r)
        }
        let path = NSTemporaryDirectory() + "bhatti-maps-\(getpid())"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer {
            close(fd)
            unlink(path)
        }
        #expect(ftruncate(fd, 4096) == 0)
        let mapped = try #require(mmap(nil, 4096, PROT_READ, MAP_SHARED, fd, 0))
        defer { munmap(mapped, 4096) }
        let text = String(decoding: try readWholeFile("/proc/self/maps"), as: UTF8.self)
        #expect(text.utf8.count > 8 * 4096)
        #expect(text.contains(path))
        #expect(text.hasSuffix("\n"))
    }

    @Test("a missing file is its errno")
    func missing() {
        #expect(throws: Errno.noEntry) { try readWholeFile("/proc/self/no-such-file") }
    }
}
