import Testing

@testable import BhattiImage

@Suite("Tar reader")
struct TarReaderTests {
    private func entries(_ bytes: [UInt8]) throws -> [(TarEntry, String)] {
        let reader = TarReader(MemorySource(bytes), what: "test")
        var out: [(TarEntry, String)] = []
        while let entry = try reader.next() {
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 7)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                data += chunk[..<n]
            }
            out.append((entry, String(decoding: data, as: UTF8.self)))
        }
        return out
    }

    @Test("ustar files, directories and links, with their metadata")
    func basic() throws {
        var tar = TarWriter()
        tar.directory("a/", mode: 0o750, uid: 7)
        tar.file("a/f", "hello", mode: 0o4755, uid: 1000, gid: 100, mtime: 12345)
        tar.symlink("a/s", to: "/etc/passwd")
        tar.hardlink("a/h", to: "a/f")
        let got = try entries(tar.finished())
        #expect(got.map(\.0.path) == ["a/", "a/f", "a/s", "a/h"])
        #expect(got.map(\.0.kind) == [.directory, .file, .symlink, .hardlink])
        #expect(got[0].0.mode == 0o750 && got[0].0.uid == 7)
        #expect(got[1].0.mode == 0o4755 && got[1].0.uid == 1000 && got[1].0.gid == 100 && got[1].0.mtime == 12345)
        #expect(got[1].1 == "hello")
        #expect(got[2].0.linkTarget == "/etc/passwd")
    }

    @Test("pax paths, link paths, sizes, xattrs; GNU long names and links")
    func longNames() throws {
        let long = String(repeating: "d/", count: 80) + "file"
        var tar = TarWriter()
        tar.pax(["path": long, "SCHILY.xattr.security.capability": "cap", "mtime": "99.5"])
        tar.file("short", "x")
        tar.pax(["linkpath": long])
        tar.symlink("link", to: "ignored")
        tar.gnuLong("L", long + "2")
        tar.gnuLong("K", long + "3")
        tar.symlink("gnu", to: "ignored")
        let got = try entries(tar.finished())
        #expect(got[0].0.path == long && got[0].0.mtime == 99 && got[0].0.xattrs["security.capability"] == Array("cap".utf8))
        #expect(got[1].0.linkTarget == long)
        #expect(got[2].0.path == long + "2" && got[2].0.linkTarget == long + "3")
    }

    @Test("ustar prefix field joins long paths")
    func prefix() throws {
        var tar = TarWriter()
        tar.file("name", "x")
        var bytes = tar.finished()
        for (i, b) in Array("some/prefix".utf8).enumerated() { bytes[345 + i] = b }
        // Recompute the checksum over the changed header.
        for i in 148..<156 { bytes[i] = 0x20 }
        let sum = bytes[0..<512].reduce(0) { $0 + UInt32($1) }
        for (i, b) in (Array(String(sum, radix: 8).utf8) + [0]).enumerated() { bytes[148 + i] = b }
        #expect(try entries(bytes).first?.0.path == "some/prefix/name")
    }

    @Test("not tar, empty, truncated header, truncated data, bad checksum later on")
    func refusals() throws {
        #expect { try entries(Array("definitely not a tar archive".utf8) + [UInt8](repeating: 65, count: 600)) } throws: {
            if case .notTar = $0 as? ImportError { return true } else { return false }
        }
        #expect { try entries([]) } throws: { if case .notTar = $0 as? ImportError { return true } else { return false } }
        var tar = TarWriter()
        tar.file("a", String(repeating: "x", count: 2000))
        let whole = tar.finished()
        #expect { try entries(Array(whole[..<300])) } throws: {
            if case .truncated = $0 as? ImportError { return true } else { return false }
        }
        #expect { try entries(Array(whole[..<1000])) } throws: {
            if case .truncated = $0 as? ImportError { return true } else { return false }
        }
        var second = TarWriter()
        second.file("a", "x")
        second.file("b", "y")
        var broken = second.finished()
        broken[1024 + 5] ^= 0xFF
        #expect { try entries(broken) } throws: { if case .corruptTar = $0 as? ImportError { return true } else { return false } }
    }

    @Test("a last entry without its padding or end blocks (as umoci writes layers) ends cleanly")
    func unpadded() throws {
        var tar = TarWriter()
        tar.file("a", "x\n")
        let got = try entries(Array(tar.bytes[..<514]))
        #expect(got.map(\.0.path) == ["a"] && got[0].1 == "x\n")
    }

    @Test("gzip: one member, several members, a cut-off stream")
    func gzipStreams() throws {
        let text = Array(String(repeating: "bhatti ", count: 10_000).utf8)
        func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
            let source = try GzipSource(MemorySource(bytes), layer: 1)
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1000)
            while true {
                let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
                if n == 0 { return out }
                out += chunk[..<n]
            }
        }
        #expect(try inflate(gzip(text)) == text)
        #expect(try inflate(gzip(text) + gzip(Array("tail".utf8))) == text + Array("tail".utf8))
        let cut = gzip(text)
        #expect { try inflate(Array(cut[..<(cut.count - 10)])) } throws: {
            if case .corruptLayer = $0 as? ImportError { return true } else { return false }
        }
        #expect { try inflate(Array("not gzip at all".utf8)) } throws: {
            if case .corruptLayer = $0 as? ImportError { return true } else { return false }
        }
    }
}
