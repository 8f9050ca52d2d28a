import BhattiEngine
import BhattiWire
import Foundation
import Glibc
import Testing

@Suite("Atomic file writes through the real agent handlers")
struct FileWriteTests {
    @Test("writes: empty, unicode content and names, binary, missing parents, relative paths")
    func writeVariety() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let c = h.connection
        let empty = try await c.writeFile(path: dir.path + "/empty", bytes: [])
        #expect(empty.size == 0 && empty.name == "empty" && !empty.isDir)
        #expect(try await c.readFile(FileReadRequest(path: dir.path + "/empty")).1 == [])

        let unicodePath = dir.path + "/नमस्ते 🌍 ünï.txt"
        let text = Array("ℌello, wörld — 你好 🚀\n".utf8)
        let info = try await c.writeFile(path: unicodePath, bytes: text)
        #expect(info.name == "नमस्ते 🌍 ünï.txt")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: unicodePath))) == text)
        #expect(try await c.readFile(FileReadRequest(path: unicodePath)).1 == text)

        let binary = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        _ = try await c.writeFile(path: dir.path + "/bin", bytes: binary)
        #expect(try await c.readFile(FileReadRequest(path: dir.path + "/bin")).1 == binary)

        let deep = dir.path + "/a/b/c/d.txt"
        _ = try await c.writeFile(path: deep, bytes: Array("deep".utf8))
        #expect(try String(contentsOfFile: deep, encoding: .utf8) == "deep")

        // hostTest's default working directory is /tmp.
        let relative = "\(URL(fileURLWithPath: dir.path).lastPathComponent)/rel.txt"
        _ = try await c.writeFile(path: relative, bytes: Array("rel".utf8))
        #expect(try String(contentsOfFile: dir.path + "/rel.txt", encoding: .utf8) == "rel")
    }

    @Test("the requested mode is applied and reported by stat")
    func writeMode() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        for mode in ["0600", "0755", "0644", "0400"] {
            let path = dir.path + "/m\(mode)"
            let written = try await h.connection.writeFile(path: path, mode: mode, bytes: [1])
            #expect(written.mode == mode)
            #expect(try await h.connection.stat(path).mode == mode)
        }
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.writeFile(path: dir.path + "/x", mode: "rw-r", bytes: []) }
                == .badRequest)
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.writeFile(path: dir.path + "/x", mode: "17777", bytes: []) }
                == .badRequest)
    }

    @Test("more or fewer bytes than announced are refused and leave nothing behind")
    func sizeMismatch() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        for (announced, sent) in [(10, 5), (5, 10), (1, 0), (0, 1)] {
            let chunks = Locked([[UInt8](repeating: 65, count: sent)])
            let code = await TransferSupport.remoteCode {
                _ = try await h.connection.writeFile(path: dir.path + "/f", size: announced) {
                    chunks.with { $0.isEmpty ? nil : $0.removeFirst() }
                }
            }
            #expect(code == .badRequest, "announced \(announced), sent \(sent)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }

    @Test("over 100 MiB (or a negative size) is refused before any data is taken")
    func tooLarge() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let pulled = Locked(0)
        let code = await TransferSupport.remoteCode {
            _ = try await h.connection.writeFile(path: dir.path + "/new/huge", size: (100 << 20) + 1) {
                pulled.with { n in
                    n += 1
                    return n <= 101 ? [UInt8](repeating: 0, count: 1 << 20) : nil
                }
            }
        }
        #expect(code == .resourceExhausted)
        #expect(pulled.with { $0 } <= 2)  // refused on the request, not after 100 MiB
        #expect(
            await TransferSupport.remoteCode { _ = try await h.connection.writeFile(path: dir.path + "/neg", size: -1) { nil } }
                == .badRequest)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }

    @Test("a write cancelled or cut off mid-transfer leaves neither the file nor its temp")
    func abandonedWrite() async throws {
        let dir = try TransferSupport.TempDir()
        defer { dir.remove() }
        for disconnect in [false, true] {
            let h = try await AgentHarness.start()
            let sentOne = Locked(false)
            let task = Task {
                try await h.connection.writeFile(path: dir.path + "/partial", size: 1 << 20) {
                    if sentOne.with({ s in
                        defer { s = true }
                        return s
                    }) {
                        try await Task.sleep(for: .seconds(30))
                    }
                    return [UInt8](repeating: 1, count: 64 * 1024)
                }
            }
            // The temp file appears once the first chunk is in; then the transfer stops.
            #expect(await TransferSupport.eventuallyTrue { (try? FileManager.default.contentsOfDirectory(atPath: dir.path).count) == 1 })
            if disconnect { h.connection.close() } else { task.cancel() }
            await #expect(throws: (any Error).self) { _ = try await task.value }
            #expect(
                await TransferSupport.eventuallyTrue { (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) == [] },
                "disconnect: \(disconnect)")
        }
        let h = try await AgentHarness.start()
        #expect(await TransferSupport.remoteCode { _ = try await h.connection.writeFile(path: dir.path, bytes: [1]) } == .badRequest)
    }

    @Test("a reader never sees a partial file while a writer replaces it")
    func atomicVisibility() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let path = dir.path + "/atomic"
        let a = [UInt8](repeating: 0x61, count: 300_000)
        let b = [UInt8](repeating: 0x62, count: 200_000)
        _ = try await h.connection.writeFile(path: path, bytes: a)
        let done = Locked(false)
        let reader = Task {
            var reads = 0
            while !done.with({ $0 }) {
                let viaAgent = try await h.connection.readFile(FileReadRequest(path: path)).1
                let direct = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
                for seen in [viaAgent, direct] {
                    #expect(TransferSupport.same(seen, a) || TransferSupport.same(seen, b), "saw \(seen.count) bytes")
                }
                reads += 2
            }
            return reads
        }
        for i in 0..<30 { _ = try await h.connection.writeFile(path: path, bytes: i % 2 == 0 ? b : a) }
        done.with { $0 = true }
        #expect(try await reader.value > 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["atomic"])  // no temp files left
    }

    @Test("10 MiB round trip is byte for byte")
    func largeRoundTrip() async throws {
        let (h, dir) = try await TransferSupport.setUp()
        defer { dir.remove() }
        let bytes = TransferSupport.randomTenMiB
        let path = dir.path + "/large.bin"
        let written = try await h.connection.writeFile(path: path, bytes: bytes)
        #expect(written.size == bytes.count)
        let (info, back) = try await h.connection.readFile(FileReadRequest(path: path))
        #expect(info.size == bytes.count)
        #expect(TransferSupport.same(back, bytes))
    }
}
