import Foundation
import Glibc
import Testing

@testable import BhattiImage

/// Layers applied straight into a directory: whiteouts, metadata, and every hostile entry the issue lists.
@Suite("Layer applier")
struct LayerApplierTests {
    /// A root inside a scratch directory, with a sibling `outside` directory that must stay untouched.
    final class Scratch {
        let dir = TemporaryDirectory("layers")
        var root: String { dir.path + "/root" }
        var outside: String { dir.path + "/outside" }
        init() {
            mkdir(dir.path + "/root", 0o755)
            dir.write("outside/secret", "host secret\n")
        }

        @discardableResult
        func apply(_ layers: [[UInt8]], limit: UInt64 = 1 << 30, preserveOwners: Bool = true) throws -> LayerApplier {
            let applier = try LayerApplier(root: root, limit: limit, preserveOwners: preserveOwners)
            for (i, layer) in layers.enumerated() { try applier.apply(MemorySource(layer), layer: i + 1) }
            applier.finish()
            return applier
        }

        var outsideIntact: Bool {
            (try? FileManager.default.contentsOfDirectory(atPath: outside)) == ["secret"]
                && readText(outside + "/secret") == "host secret\n"
        }
    }

    private func unsafe(_ error: any Error) -> Bool {
        if case .unsafeEntry = error as? ImportError { return true } else { return false }
    }

    @Test("owners, modes (setuid kept with its owner), times, symlinks and hard links")
    func metadata() throws {
        let s = Scratch()
        var tar = TarWriter()
        tar.directory("usr/", mode: 0o755, mtime: 1_500_000_000)
        tar.file("usr/su", "binary", mode: 0o4755, uid: 0, gid: 0, mtime: 1_600_000_000)
        tar.file("usr/mine", "data", mode: 0o2640, uid: 1234, gid: 4321)
        tar.symlink("usr/passwd", to: "/etc/passwd")
        tar.hardlink("usr/su2", to: "usr/su")
        tar.file("/abs", "absolute lands inside")
        try s.apply([tar.finished()])
        let su = try #require(lstatOf(s.root + "/usr/su"))
        #expect(su.st_mode & 0o7777 == 0o4755 && su.st_uid == 0 && su.st_mtim.tv_sec == 1_600_000_000)
        let mine = try #require(lstatOf(s.root + "/usr/mine"))
        #expect(mine.st_mode & 0o7777 == 0o2640 && mine.st_uid == 1234 && mine.st_gid == 4321)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: s.root + "/usr/passwd") == "/etc/passwd")
        #expect(lstatOf(s.root + "/usr/su2")?.st_ino == su.st_ino)
        #expect(lstatOf(s.root + "/usr")?.st_mtim.tv_sec == 1_500_000_000)
        #expect(readText(s.root + "/abs") == "absolute lands inside")
    }

    @Test("without owners, setuid and setgid are dropped")
    func noOwnersNoSetuid() throws {
        let s = Scratch()
        var tar = TarWriter()
        tar.file("su", "binary", mode: 0o6755, uid: 0)
        try s.apply([tar.finished()], preserveOwners: false)
        #expect(((lstatOf(s.root + "/su")?.st_mode ?? 0) & 0o7777) == 0o755)
    }

    @Test("a whiteout deletes a lower file; an opaque directory hides lower contents but keeps its own layer's")
    func whiteouts() throws {
        let s = Scratch()
        try s.apply(twoLayersWithWhiteouts())
        #expect(readText(s.root + "/etc/hostname") == "base\n")
        #expect(lstatOf(s.root + "/etc/deleted") == nil)
        #expect(lstatOf(s.root + "/etc/.wh.deleted") == nil)
        #expect(readText(s.root + "/etc/added") == "added\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.root + "/opt/app") == ["new"])
    }

    @Test("a whiteout does not delete what its own layer wrote")
    func sameLayerWhiteout() throws {
        let s = Scratch()
        var tar = TarWriter()
        tar.file("keep", "mine")
        tar.file(".wh.keep", "")
        try s.apply([tar.finished()])
        #expect(readText(s.root + "/keep") == "mine")
    }

    @Test("'..' in a path, a hard link or a whiteout is refused, and nothing outside changes")
    func dotDot() throws {
        for build in [
            { (t: inout TarWriter) in t.file("../outside/secret", "pwned") },
            { (t: inout TarWriter) in t.file("a/../../outside/secret", "pwned") },
            { (t: inout TarWriter) in t.hardlink("x", to: "../outside/secret") },
            { (t: inout TarWriter) in t.file("dir/.wh...", "") },
        ] {
            let s = Scratch()
            var tar = TarWriter()
            tar.directory("dir/")
            build(&tar)
            #expect(throws: ImportError.self) { try s.apply([tar.finished()]) }
            #expect(s.outsideIntact)
        }
    }

    @Test("writing through a symlinked directory is refused, in the same layer or a later one")
    func symlinkedDirectory() throws {
        for split in [false, true] {
            let s = Scratch()
            var first = TarWriter()
            first.symlink("evil", to: s.outside)
            var second = split ? TarWriter() : first
            second.file("evil/secret", "pwned")
            second.file("evil/new", "pwned")
            let layers = split ? [first.finished(), second.finished()] : [second.finished()]
            #expect { try s.apply(layers) } throws: { unsafe($0) }
            #expect(s.outsideIntact)
        }
        let s = Scratch()
        var loop = TarWriter()
        loop.symlink("self", to: ".")
        loop.file("self/self/x", "loop")
        #expect { try s.apply([loop.finished()]) } throws: { unsafe($0) }
    }

    @Test("a file replacing a symlink to the host replaces the link, not the host file")
    func replaceSymlink() throws {
        let s = Scratch()
        var first = TarWriter()
        first.symlink("f", to: s.outside + "/secret")
        var second = TarWriter()
        second.file("f", "image content")
        try s.apply([first.finished(), second.finished()])
        #expect(s.outsideIntact)
        #expect(readText(s.root + "/f") == "image content")
        #expect((lstatOf(s.root + "/f")?.st_mode ?? 0) & S_IFMT == S_IFREG)
    }

    @Test("hard links resolve inside the root: an absolute target is the image's file, a missing one is refused")
    func hardlinks() throws {
        let s = Scratch()
        var tar = TarWriter()
        tar.hardlink("h", to: s.outside + "/secret")
        #expect { try s.apply([tar.finished()]) } throws: { unsafe($0) }
        #expect(s.outsideIntact)
        let t = Scratch()
        var through = TarWriter()
        through.symlink("l", to: t.outside)
        through.hardlink("h", to: "l/secret")
        #expect { try t.apply([through.finished()]) } throws: { unsafe($0) }
        #expect(t.outsideIntact)
    }

    @Test("device nodes and FIFOs are not created; their paths are reported")
    func devices() throws {
        let s = Scratch()
        var tar = TarWriter()
        tar.special("dev/null", type: "3")
        tar.special("dev/sda", type: "4")
        tar.special("run/fifo", type: "6")
        let applier = try s.apply([tar.finished()])
        #expect(applier.skipped == ["dev/null", "dev/sda", "run/fifo"])
        #expect(lstatOf(s.root + "/dev/null") == nil && lstatOf(s.root + "/run/fifo") == nil)
    }

    @Test("a decompression bomb stops at the limit, before writing past it")
    func bomb() throws {
        let s = Scratch()
        var tar = TarWriter()
        tar.file("small", "ok")
        tar.file("zeros", [UInt8](repeating: 0, count: 4 << 20))
        let packed = gzip(tar.finished())
        #expect(packed.count < 64 << 10)
        let applier = try LayerApplier(root: s.root, limit: 1 << 20)
        #expect {
            try applier.apply(try GzipSource(MemorySource(packed), layer: 1), layer: 1)
        } throws: { if case .tooLarge(1 << 20) = $0 as? ImportError { return true } else { return false } }
        #expect(lstatOf(s.root + "/zeros") == nil)
        // Many empty files count too: each header is 512 bytes.
        var many = TarWriter()
        for i in 0..<100 { many.file("f\(i)", "") }
        #expect { try Scratch().apply([many.finished()], limit: 10 * 512) } throws: {
            if case .tooLarge = $0 as? ImportError { return true } else { return false }
        }
    }

    @Test("a directory replaces a file and a file replaces a directory tree")
    func replaceKinds() throws {
        let s = Scratch()
        var first = TarWriter()
        first.file("x", "file")
        first.directory("y/")
        first.file("y/inner", "inner")
        var second = TarWriter()
        second.directory("x/")
        second.file("y", "now a file")
        try s.apply([first.finished(), second.finished()])
        #expect((lstatOf(s.root + "/x")?.st_mode ?? 0) & S_IFMT == S_IFDIR)
        #expect(readText(s.root + "/y") == "now a file")
    }
}
