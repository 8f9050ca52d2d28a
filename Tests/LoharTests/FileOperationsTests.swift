import BhattiEngine
import BhattiWire
import Foundation
import Glibc
import Lohar
import Testing

@Suite("Make a directory, move and remove through the real agent handlers")
struct FileOperationsTests {
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    @Test("make a directory: parents too, true then false; a file in the way is a bad request")
    func makeDirectory() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        #expect(try await h.connection.makeDirectory(dir.path + "/a/b/c"))
        #expect(try await h.connection.stat(dir.path + "/a/b/c").isDir)
        #expect(try await !h.connection.makeDirectory(dir.path + "/a/b/c"))
        #expect(try await !h.connection.makeDirectory(dir.path + "/a/b/"))
        #expect(try await h.connection.makeDirectory(dir.path + "/a/new/"))
        let file = try dir.file("f", "x")
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.makeDirectory(file) } == .badRequest)
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.makeDirectory(file + "/below") } == .badRequest)
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.makeDirectory("") } == .badRequest)
    }

    @Test("as root: new directories and a move's new parents belong to the sandbox's user", .enabled(if: getuid() == 0))
    func ownership() async throws {
        let dir = try TransferSupport.TempDir()
        defer { dir.remove() }
        let h = try await AgentHarness.start { $0.user = (65534, 65534) }
        #expect(try await h.connection.makeDirectory(dir.path + "/x/y"))
        let source = try dir.file("m", "m")
        try await h.connection.move(from: source, to: dir.path + "/p/q/m")
        for path in ["/x", "/x/y", "/p", "/p/q"] {
            var st = stat()
            #expect(stat(dir.path + path, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534, "\(path)")
        }
    }

    @Test("move: a file, a directory, into new parents, over a file; a missing source is not found")
    func move() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let a = try dir.file("a", "alpha")
        try await h.connection.move(from: a, to: dir.path + "/b")
        #expect(!Self.exists(a))
        #expect(try String(contentsOfFile: dir.path + "/b", encoding: .utf8) == "alpha")
        try await h.connection.move(from: dir.path + "/b", to: dir.path + "/deep/er/c")
        #expect(try String(contentsOfFile: dir.path + "/deep/er/c", encoding: .utf8) == "alpha")
        try await h.connection.move(from: dir.path + "/deep", to: dir.path + "/moved")
        #expect(try String(contentsOfFile: dir.path + "/moved/er/c", encoding: .utf8) == "alpha")
        let other = try dir.file("other", "beta")
        try await h.connection.move(from: other, to: dir.path + "/moved/er/c")
        #expect(try String(contentsOfFile: dir.path + "/moved/er/c", encoding: .utf8) == "beta")
        #expect(
            await TransferSupport.remoteCode { try await h.connection.move(from: dir.path + "/nope", to: dir.path + "/x") } == .notFound)
        // Nothing was made for a source that is not there.
        #expect(
            await TransferSupport.remoteCode { try await h.connection.move(from: dir.path + "/nope", to: dir.path + "/n/x") } == .notFound)
        #expect(!Self.exists(dir.path + "/n"))
    }

    @Test("move refusals say why: onto a non-empty directory, a directory onto a file, into itself")
    func moveRefusals() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        _ = try dir.file("f", "f")
        #expect(try await h.connection.makeDirectory(dir.path + "/d/inner"))
        #expect(try await h.connection.makeDirectory(dir.path + "/e"))
        _ = try dir.file("e/full", "x")
        for (from, to) in [("/d", "/e"), ("/d", "/f"), ("/d", "/d/inner/d")] {
            await #expect {
                try await h.connection.move(from: dir.path + from, to: dir.path + to)
            } throws: { error in
                guard case AgentError.remote(let m) = error else { return false }
                return m.code == .badRequest && m.message.hasPrefix("cannot move \(dir.path + from) to \(dir.path + to): ")
            }
        }
    }

    @Test("move across file systems is a bad request that says so", .enabled(if: FileOperationsTests.separateFileSystems))
    func moveAcrossFileSystems() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let shm = try TransferSupport.TempDir(under: "/dev/shm")
        defer { shm.remove() }
        let file = try dir.file("f", "f")
        await #expect {
            try await h.connection.move(from: file, to: shm.path + "/f")
        } throws: { error in
            guard case AgentError.remote(let m) = error else { return false }
            return m.code == .badRequest && m.message.contains("different file systems")
        }
    }

    /// Whether /tmp and /dev/shm are two file systems here (a rename between them is EXDEV).
    static var separateFileSystems: Bool {
        var a = stat()
        var b = stat()
        return stat("/tmp", &a) == 0 && stat("/dev/shm", &b) == 0 && access("/dev/shm", W_OK) == 0 && a.st_dev != b.st_dev
    }

    @Test("remove: a file, a tree (symlinks removed, never followed); missing is not found; / is refused")
    func remove() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let outside = try TransferSupport.TempDir()
        defer { outside.remove() }
        let kept = try outside.file("kept", "keep me")
        let file = try dir.file("f", "f")
        try await h.connection.remove(file)
        #expect(!Self.exists(file))
        #expect(try await h.connection.makeDirectory(dir.path + "/t/a/b"))
        _ = try dir.file("t/a/b/leaf", "x")
        _ = try dir.file("t/top", "y")
        #expect(symlink(outside.path, dir.path + "/t/a/link") == 0)
        #expect(symlink(outside.path, dir.path + "/tlink") == 0)
        try await h.connection.remove(dir.path + "/t")
        #expect(!Self.exists(dir.path + "/t"))
        // A symlink to a directory, named with a trailing slash, is removed itself.
        try await h.connection.remove(dir.path + "/tlink/")
        #expect(!Self.exists(dir.path + "/tlink"))
        #expect(try String(contentsOfFile: kept, encoding: .utf8) == "keep me")
        #expect(await TransferSupport.remoteCode { try await h.connection.remove(dir.path + "/t") } == .notFound)
        #expect(await TransferSupport.remoteCode { try await h.connection.remove("/") } == .badRequest)
        #expect(await TransferSupport.remoteCode { try await h.connection.remove("//") } == .badRequest)
    }
}
