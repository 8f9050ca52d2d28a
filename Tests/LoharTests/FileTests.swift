import BhattiEngine
import BhattiWire
import Foundation
import Glibc
import Testing

@Suite("File read, stat and list through the real agent handlers")
struct FileTests {
    @Test("a whole file comes back with its size and mode")
    func readWhole() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let path = try dir.file("a.txt", "hello\nworld\n", mode: 0o640)
        let (info, bytes) = try await h.connection.readFile(FileReadRequest(path: path))
        #expect(info == FileReadInfo(size: 12, mode: "0640"))
        #expect(bytes == Array("hello\nworld\n".utf8))
    }

    @Test("truncation: offset, limit, max_bytes and their combinations; the total size is always reported")
    func truncationMatrix() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let lines = try dir.file("lines.txt", "l1\nl2\nl3\nl4\nl5\n")
        let noNewline = try dir.file("tail.txt", "a\nb\nc")
        let cases: [(String, Int?, Int?, Int?, String)] = [
            (lines, 1, nil, nil, "l1\nl2\nl3\nl4\nl5\n"),
            (lines, 2, nil, nil, "l2\nl3\nl4\nl5\n"),
            (lines, nil, 2, nil, "l1\nl2\n"),
            (lines, 2, 2, nil, "l2\nl3\n"),
            (lines, nil, nil, 4, "l1\nl"),  // max_bytes cuts mid-line
            (lines, 3, nil, 4, "l3\nl"),
            (lines, 2, 3, 5, "l2\nl3"),  // bytes run out before lines
            (lines, 2, 1, 100, "l2\n"),  // lines run out before bytes
            (lines, 5, 10, nil, "l5\n"),
            (lines, 6, nil, nil, ""),  // offset past EOF: nothing, not an error
            (lines, 1000, 5, 5, ""),
            (lines, nil, 0, nil, ""),
            (lines, nil, nil, 0, ""),
            (noNewline, 3, nil, nil, "c"),
            (noNewline, nil, 10, nil, "a\nb\nc"),
            (noNewline, 2, 1, nil, "b\n"),
            (noNewline, 3, 1, 1, "c"),
        ]
        for (path, offset, limit, maxBytes, expected) in cases {
            let (info, bytes) = try await h.connection.readFile(
                FileReadRequest(path: path, offset: offset, limit: limit, maxBytes: maxBytes))
            #expect(
                String(decoding: bytes, as: UTF8.self) == expected, "offset \(offset as Any) limit \(limit as Any) max \(maxBytes as Any)")
            #expect(info.size == (path == lines ? 15 : 5))
        }
    }

    @Test("truncation across read chunks of a large file")
    func truncationLargeFile() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let text = (1...40_000).map { "line \($0)\n" }.joined()  // ~500 KB: eight read chunks
        let path = try dir.file("big.txt", text)
        let (info, bytes) = try await h.connection.readFile(FileReadRequest(path: path, offset: 30_000, limit: 3))
        #expect(info.size == text.utf8.count)
        #expect(String(decoding: bytes, as: UTF8.self) == "line 30000\nline 30001\nline 30002\n")
        let (_, head) = try await h.connection.readFile(FileReadRequest(path: path, maxBytes: 100_000))
        #expect(TransferSupport.same(head, Array(text.utf8.prefix(100_000))))
        let (_, rest) = try await h.connection.readFile(FileReadRequest(path: path, offset: 39_999))
        #expect(String(decoding: rest, as: UTF8.self) == "line 39999\nline 40000\n")
    }

    @Test("a directory, a FIFO and bad limits are bad requests; a missing file is not found")
    func readErrors() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let fifo = dir.path + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let path = try dir.file("x", "x\n")
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: dir.path)) } == .badRequest)
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: fifo)) } == .badRequest)
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: dir.path + "/nope")) } == .notFound
        )
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: path + "/below")) } == .notFound)
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: path, offset: 0)) } == .badRequest)
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: path, limit: -1)) } == .badRequest)
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.readFile(FileReadRequest(path: "")) } == .badRequest)
        #expect(try await h.run(["true"]).0.code == 0)
    }

    @Test("stat: files and directories; missing is not found")
    func stat() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let path = try dir.file("s.txt", "12345", mode: 0o604)
        let info = try await h.connection.stat(path)
        #expect(info.name == "s.txt" && info.size == 5 && info.mode == "0604" && !info.isDir)
        #expect(abs(info.mtime - Int(Date().timeIntervalSince1970)) < 60)
        let d = try await h.connection.stat(dir.path)
        #expect(d.isDir && d.name == URL(fileURLWithPath: dir.path).lastPathComponent)
        #expect(try await h.connection.stat("/").name == "/")
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.stat(dir.path + "/missing") } == .notFound)
    }

    @Test("list: sorted entries, symlinks not followed; a file is a bad request")
    func list() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        _ = try dir.file("b.txt", "bb")
        _ = try dir.file("a.txt", "a")
        try FileManager.default.createDirectory(atPath: dir.path + "/c", withIntermediateDirectories: false)
        #expect(symlink(dir.path + "/c", dir.path + "/link") == 0)
        let listing = try await h.connection.list(dir.path)
        #expect(listing.entries.map(\.name) == ["a.txt", "b.txt", "c", "link"])
        #expect(listing.entries.map(\.isDir) == [false, false, true, false])
        #expect(listing.entries[1].size == 2)
        #expect(!listing.truncated && listing.total == 4)
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.list(dir.path + "/a.txt") } == .badRequest)
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.list(dir.path + "/none") } == .notFound)
    }

    @Test("a listing stops at 10,000 entries and says how many there are")
    func listCap() async throws {
        // tmpfs when there is one: growing a fresh directory to 10,000 entries can take seconds on a
        // virtual disk (new blocks), and only the listing is under test here.
        let dir = try TransferSupport.TempDir(under: access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp")
        defer { dir.remove() }
        let h = try await AgentHarness.start()
        var made = 0
        for i in 0..<10_050 {
            let digits = String(i)
            let fd = open(dir.path + "/f" + String(repeating: "0", count: 5 - digits.count) + digits, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 { made += 1 }
            close(fd)
        }
        #expect(made == 10_050)
        let listing = try await h.connection.list(dir.path)
        #expect(listing.entries.count == 10_000)
        #expect(listing.truncated && listing.total == 10_050)
        #expect(listing.entries.first?.name == "f00000" && listing.entries.last?.name == "f09999")
        #expect(listing.entries.allSatisfy { $0.size == 0 && !$0.isDir })
    }

    /// An exec stuck behind the read would wait for a consumer that waits for the exec: the time limit
    /// turns that hang into a failure.
    @Test("a stalled 20 MiB read does not hold up an exec on the same connection", .timeLimit(.minutes(10)))
    func creditIsolation() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let path = dir.path + "/20m"
        #expect(TransferSupport.sparseFile(path, size: 20 << 20))
        let received = Locked(0)
        let stalled = Locked(true)
        // Once 1 MiB is in, the consumer takes nothing more until the exec has completed.
        let read = Task {
            try await h.connection.readFile(FileReadRequest(path: path), onInfo: { _ in }) { chunk in
                received.with { $0 += chunk.count }
                while received.with({ $0 }) >= 1 << 20, stalled.with({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
            }
        }
        while received.with({ $0 }) < 1 << 20 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await h.run(["true"]).0.code == 0)
        #expect(received.with { $0 } < 20 << 20, "the read was still in flight")
        // Then drain at full speed: every byte arrives.
        stalled.with { $0 = false }
        #expect(try await read.value.size == 20 << 20)
        #expect(received.with { $0 } == 20 << 20)
    }

    @Test("a cancelled read stops, and the connection keeps working")
    func cancelledRead() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let path = dir.path + "/big"
        #expect(TransferSupport.sparseFile(path, size: 8 << 20))
        let got = Locked(0)
        let task = Task {
            try await h.connection.readFile(FileReadRequest(path: path), onInfo: { _ in }) { chunk in
                got.with { $0 += chunk.count }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        // Cancelled once the read is under way (at 20 ms a chunk, far from its end).
        #expect(await TransferSupport.eventuallyTrue { got.with { $0 } > 0 })
        task.cancel()
        await #expect(throws: (any Error).self) { _ = try await task.value }
        #expect(got.with { $0 } < 8 << 20)
        #expect(try await h.run(["true"]).0.code == 0)
    }
}

/// Helpers shared by the file and forward tests.
enum TransferSupport {
    /// A fresh directory (under /tmp unless told), removed by `remove()`.
    struct TempDir {
        let path: String

        init(under parent: String = "/tmp") throws {
            path = "\(parent)/lohar-files-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }

        /// Creates `name` with `text`; returns its path.
        func file(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
            let p = path + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: p))
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: p)
            return p
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// A connected harness and a fresh directory.
    static func setUp() async throws -> (AgentHarness, TempDir) {
        (try await AgentHarness.start(), try TempDir())
    }

    /// The code of the `AgentError.remote` that `body` throws, or nil.
    static func remoteCode(_ body: () async throws -> Void) async -> WireErrorCode? {
        do { try await body() } catch AgentError.remote(let m) { return m.code } catch { return nil }
        return nil
    }

    /// Polls `condition` until it holds; the deadline only turns a hang into a failure.
    static func eventuallyTrue(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// 10 MiB of incompressible-looking bytes (xorshift over 64-bit words), made once.
    static let randomTenMiB: [UInt8] = {
        var out = [UInt8](repeating: 0, count: 10 << 20)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        out.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                words[i] = x
            }
        }
        return out
    }()

    /// Byte equality by memcmp: `==` on big arrays runs an unoptimised loop in debug builds and
    /// would hog the test pool's few threads.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count
            && a.withUnsafeBytes { x in b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
    }

    /// A file of `size` zero bytes without writing them (sparse).
    static func sparseFile(_ path: String, size: Int) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(fd) }
        return fd >= 0 && ftruncate(fd, off_t(size)) == 0
    }
}
