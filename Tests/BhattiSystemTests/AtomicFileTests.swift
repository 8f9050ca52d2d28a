import BhattiSystem
import Foundation
import Glibc
import Testing

/// Every file bhatti replaces goes through `AtomicFile`: these pin what its callers rely on.
@Suite("AtomicFile")
struct AtomicFileTests {
    /// A fresh directory per test, removed after it.
    final class Scratch {
        let path: String
        init() {
            path = NSTemporaryDirectory() + "bhatti-atomic-\(UUID().uuidString)"
            mkdir(path, 0o755)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func contents(_ name: String) -> String? {
            FileManager.default.contents(atPath: "\(path)/\(name)").map { String(decoding: $0, as: UTF8.self) }
        }
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
        func mode(_ name: String) -> mode_t {
            var st = stat()
            return stat("\(path)/\(name)", &st) == 0 ? st.st_mode & 0o7777 : 0
        }
    }

    @Test("a write replaces the file whole, with exactly the mode asked for, and leaves no temp file")
    func replaces() throws {
        let dir = Scratch()
        try AtomicFile.write(Array("old".utf8), to: "\(dir.path)/f", mode: 0o600)
        // 0666 is what a 022 or 077 umask would cut down if the mode came from open(2).
        let st = try AtomicFile.write(Array("new contents".utf8), to: "\(dir.path)/f", mode: 0o666)
        #expect(dir.contents("f") == "new contents")
        #expect(dir.mode("f") == 0o666)
        #expect(st.st_size == 12)
        #expect(dir.entries == ["f"])
    }

    @Test("while a write is in progress the old file is whole; abandoning it leaves the old file and no temp")
    func inProgressAndAbandoned() throws {
        let dir = Scratch()
        let path = "\(dir.path)/f"
        try AtomicFile.write(Array("old".utf8), to: path, mode: 0o644)
        let writer = try AtomicFile.Writer(path: path, mode: 0o600)
        try writer.append(Array("half of the n".utf8))
        #expect(dir.contents("f") == "old")
        #expect(writer.temp.hasPrefix(dir.path + "/"))
        #expect(dir.entries.count == 2)
        writer.abandon()
        #expect(dir.contents("f") == "old")
        #expect(dir.mode("f") == 0o644)
        #expect(dir.entries == ["f"])
    }

    @Test("a writer dropped without commit (a thrown error, a lost peer) removes its temp file")
    func droppedWriter() throws {
        let dir = Scratch()
        do {
            let writer = try AtomicFile.Writer(path: "\(dir.path)/f", mode: 0o644)
            try writer.append([1, 2, 3])
        }
        #expect(dir.entries.isEmpty)
    }

    @Test("a failed rename reports the step, the target and errno, and leaves no temp file")
    func failedRename() throws {
        let dir = Scratch()
        // A non-empty directory cannot be renamed over.
        mkdir("\(dir.path)/d", 0o755)
        try AtomicFile.write([1], to: "\(dir.path)/d/inner", mode: 0o644)
        let error = try #require(throws: AtomicFileError.self) {
            try AtomicFile.write(Array("x".utf8), to: "\(dir.path)/d", mode: 0o644)
        }
        #expect(error.operation == .rename)
        #expect(error.path == "\(dir.path)/d")
        #expect(error.errno.rawValue == EISDIR)
        #expect(dir.entries == ["d"])
        #expect(dir.contents("d/inner") == "\u{1}")
    }

    @Test("a missing directory fails at create with ENOENT, naming the target")
    func missingDirectory() throws {
        let dir = Scratch()
        let error = try #require(throws: AtomicFileError.self) {
            try AtomicFile.write([1], to: "\(dir.path)/absent/f", mode: 0o644)
        }
        #expect(error.operation == .create)
        #expect(error.path == "\(dir.path)/absent/f")
        #expect(error.errno == .noEntry)
    }

    @Test("bytes written through the descriptor by someone else are what commit puts in place")
    func writtenThroughDescriptor() throws {
        let dir = Scratch()
        let writer = try AtomicFile.Writer(path: "\(dir.path)/state", mode: 0o600)
        let bytes = Array("from another process".utf8)
        try writer.descriptor.writeAllFile(bytes)
        let st = try writer.commit()
        #expect(dir.contents("state") == "from another process")
        #expect(Int(st.st_size) == bytes.count)
        #expect(dir.mode("state") == 0o600)
        #expect(dir.entries == ["state"])
    }

    @Test("a file someone else finished is moved over the target whole")
    func commitFinishedFile() throws {
        let dir = Scratch()
        try AtomicFile.write(Array("old".utf8), to: "\(dir.path)/f", mode: 0o644)
        #expect(FileManager.default.createFile(atPath: "\(dir.path)/download", contents: Data("new".utf8)))
        try AtomicFile.commit("\(dir.path)/download", to: "\(dir.path)/f")
        #expect(dir.contents("f") == "new")
        #expect(dir.entries == ["f"])
    }

    @Test("a write that need not survive a power cut still replaces the file whole")
    func notDurable() throws {
        let dir = Scratch()
        try AtomicFile.write(Array("1\n".utf8), to: "\(dir.path)/pid", mode: 0o644, durable: false)
        try AtomicFile.write(Array("22\n".utf8), to: "\(dir.path)/pid", mode: 0o644, durable: false)
        #expect(dir.contents("pid") == "22\n")
        #expect(dir.entries == ["pid"])
    }

    @Test("two writers of one target never share a temp file")
    func concurrentWriters() throws {
        let dir = Scratch()
        let a = try AtomicFile.Writer(path: "\(dir.path)/f", mode: 0o644)
        let b = try AtomicFile.Writer(path: "\(dir.path)/f", mode: 0o644)
        #expect(a.temp != b.temp)
        try a.append(Array("a".utf8))
        try b.append(Array("b".utf8))
        try a.commit()
        try b.commit()
        #expect(dir.contents("f") == "b")
        #expect(dir.entries == ["f"])
    }

    @Test("the owner asked for is applied, and set-uid survives it", .enabled(if: geteuid() == 0, "needs root to chown"))
    func owner() throws {
        let dir = Scratch()
        try AtomicFile.write([1], to: "\(dir.path)/f", mode: 0o4755, owner: AtomicFile.Owner(uid: 1234, gid: 5678))
        var st = stat()
        #expect(stat("\(dir.path)/f", &st) == 0)
        #expect(st.st_uid == 1234 && st.st_gid == 5678)
        #expect(st.st_mode & 0o7777 == 0o4755)
    }
}
