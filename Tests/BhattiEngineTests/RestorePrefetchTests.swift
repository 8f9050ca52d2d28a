import Foundation
import Glibc
import Testing

@testable import BhattiEngine

/// The restore's read-ahead list: which pages a process touched, and reading just those back.
@Suite("Restore prefetch", .serialized)
struct RestorePrefetchTests {
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    @Test("the touched pages of a mapping are found through pagemap, untouched ones far from them left out")
    func touchedPages() async throws {
        try await withFile(pages: 2048) { path, fd in
            let size = 2048 * Self.page
            let base = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
            defer { munmap(base, size) }
            // Writes (a read fault may also map cached neighbours): pages 0, 5 and 1000.
            for p in [0, 5, 1000] { base.storeBytes(of: 1, toByteOffset: p * Self.page, as: UInt8.self) }
            let extents = try RestorePrefetch.touched(pid: getpid(), memory: path)
            #expect([0, 5, 1000].allSatisfy { covers(extents, $0) }, "\(extents)")
            // Pages 0 and 5 are one run (closer than the merge gap); page 600 lies 2.4 MiB from both
            // (beyond a 2 MiB large folio mapped whole).
            #expect(!covers(extents, 600), "\(extents)")
            #expect(extents.first?.offset == 0 && (extents.first?.length ?? 0) >= 6 * Self.page, "\(extents)")
        }
    }

    @Test("a recorded list covers the touched pages, and the prefetch reads them (and not the rest) into the page cache")
    func recordAndPrefetch() async throws {
        try await withFile(pages: 4096) { path, fd in
            let size = 4096 * Self.page
            // Real data on disk, then none of it cached.
            let chunk = [UInt8](repeating: 0xAB, count: size)
            #expect(pwrite(fd, chunk, size, 0) == size)
            let base = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
            for p in [100, 101, 3000] { base.storeBytes(of: 2, toByteOffset: p * Self.page, as: UInt8.self) }
            let list = path + ".prefetch"
            defer { unlink(list) }
            try RestorePrefetch.record(pid: getpid(), memory: path, to: list)
            munmap(base, size)
            let listed = try RestorePrefetch.read(list)
            // The page cache may hold a file in large folios (2 MiB here), mapped whole: a touched
            // page's extent can be wider than the page, but never reaches page 2000 (8 MiB away).
            #expect([100, 101, 3000].allSatisfy { covers(listed, $0) }, "\(listed)")
            #expect(!covers(listed, 2000), "\(listed)")

            #expect(fsync(fd) == 0)
            #expect(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
            #expect(try cachedExtents(path).isEmpty, "the test needs an uncached file to start from")
            RestorePrefetch.start(memory: path, list: list)
            var cached: [RestorePrefetch.Extent] = []
            // Until the prefetch thread has read them; the deadline only turns a hang into a failure.
            let giveUp = ContinuousClock.now + .seconds(60)
            while ![100, 101, 3000].allSatisfy({ covers(cached, $0) }), ContinuousClock.now < giveUp {
                try await Task.sleep(for: .milliseconds(10))
                cached = try cachedExtents(path)
            }
            #expect([100, 101, 3000].allSatisfy { covers(cached, $0) }, "\(cached)")
            #expect(!covers(cached, 2000), "read more than the list: \(cached)")
        }
    }

    @Test("nothing touched, or more than the limit, leaves no list behind")
    func noList() async throws {
        try await withFile(pages: 16) { path, _ in
            let list = path + ".prefetch"
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: list))
            defer { unlink(list) }
            try RestorePrefetch.record(pid: getpid(), memory: path, to: list)
            #expect(!FileManager.default.fileExists(atPath: list))
            // A list that is not a whole number of extents is refused, not half read.
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: list))
            #expect(throws: EngineError.self) { try RestorePrefetch.read(list) }
        }
    }

    private func covers(_ extents: [RestorePrefetch.Extent], _ page: Int) -> Bool {
        extents.contains { $0.offset <= page * Self.page && page * Self.page < $0.offset + $0.length }
    }

    /// The runs of `path`'s pages in the page cache (mincore; mapping faults nothing in).
    private func cachedExtents(_ path: String) throws -> [RestorePrefetch.Extent] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        let base = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0))
        defer { munmap(base, size) }
        var vector = [UInt8](repeating: 0, count: size / Self.page)
        #expect(mincore(base, size, &vector) == 0)
        var extents: [RestorePrefetch.Extent] = []
        for (i, v) in vector.enumerated() where v & 1 == 1 {
            if let last = extents.last, last.offset + last.length == i * Self.page {
                extents[extents.count - 1].length += Self.page
            } else {
                extents.append(.init(offset: i * Self.page, length: Self.page))
            }
        }
        return extents
    }

    private func withFile<T>(pages: Int, _ body: (String, Int32) async throws -> T) async rethrows -> T {
        let path = NSTemporaryDirectory() + "bhatti-prefetch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0 && ftruncate(fd, off_t(pages * Self.page)) == 0)
        defer {
            close(fd)
            unlink(path)
        }
        return try await body(path, fd)
    }
}
