import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiSystem
import Foundation
import Testing

/// The engine's thermal operations on a real VM, below the service: pause/resume, snapshot/restore.
@Suite("Engine thermal tiers on a real VM", .serialized, .timeLimit(.minutes(10)))
struct EngineThermalTests {
    @Test("RAM state (a tmpfs file and a running counter) survives pause and three cold cycles")
    func ramSurvivesCycles() async throws {
        try await withDaemon { d in
            let sb = try await d.create("thermal")
            let engine = d.daemon.engine
            _ = try await d.exec(
                sb.id,
                [
                    "sh", "-c",
                    "echo marker > /dev/shm/m; (i=0; while true; do i=$((i+1)); echo $i > /dev/shm/c.new; mv /dev/shm/c.new /dev/shm/c; sleep 0.05; done) > /dev/null 2>&1 &",
                ], timeout: 5)
            try await engine.pause(id: sb.id)
            try await engine.resume(id: sb.id)
            #expect(try await d.exec(sb.id, ["cat", "/dev/shm/m"]).stdout == "marker\n")
            let dir = d.dataDirectory + "/sandboxes/" + sb.id
            var last = 0
            for cycle in 1...3 {
                let oldPid = try #require(await engine.pid(of: sb.id))
                try await engine.snapshot(id: sb.id)
                #expect(!processExists(oldPid), "cycle \(cycle): QEMU still runs after the snapshot")
                #expect(await engine.isRunning(sb.id) == false)
                #expect(FileManager.default.fileExists(atPath: dir + "/state.bin"))
                try await engine.restore(id: sb.id)
                #expect(!FileManager.default.fileExists(atPath: dir + "/state.bin"))
                #expect(try await d.exec(sb.id, ["cat", "/dev/shm/m"]).stdout == "marker\n")
                // The process goes on counting: a later value appears (a cycle can be shorter than one
                // of its rounds, each a fork+exec of mv and sleep that runs cold after a restore).
                var counter = -1
                _ = try await eventually {
                    counter =
                        Int(try await d.exec(sb.id, ["cat", "/dev/shm/c"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                    return counter > last
                }
                #expect(counter > last, "cycle \(cycle): the counter process did not keep counting (\(counter) after \(last))")
                last = counter
            }
            // A guest that woke and ran a few commands touched little: its next snapshot lists those
            // pages for the restore to read ahead, all inside the RAM file.
            try await engine.snapshot(id: sb.id)
            let list = try #require(
                FileManager.default.contents(atPath: dir + "/prefetch"), "no read-ahead list after a woken guest's snapshot")
            #expect(!list.isEmpty && list.count % 16 == 0)
            let memory = try #require(try FileManager.default.attributesOfItem(atPath: dir + "/memory")[.size] as? Int)
            let extents = stride(from: 0, to: list.count, by: 16).map { at in
                (0..<2).map { half in (0..<8).reduce(0) { $0 | Int(list[list.startIndex + at + half * 8 + $1]) << (8 * $1) } }
            }
            #expect(extents.allSatisfy { $0[1] > 0 && $0[0] + $0[1] <= memory }, "\(extents)")
            try await engine.restore(id: sb.id)
            #expect(try await d.exec(sb.id, ["cat", "/dev/shm/m"]).stdout == "marker\n")
        }
    }

    @Test("a damaged snapshot fails fast and says what is wrong")
    func damagedSnapshot() async throws {
        try await withDaemon { d in
            let sb = try await d.create("damaged")
            let engine = d.daemon.engine
            try await engine.snapshot(id: sb.id)
            let state = d.dataDirectory + "/sandboxes/" + sb.id + "/state.bin"
            let original = try #require(FileManager.default.contents(atPath: state))
            try Data(original.prefix(original.count / 2)).write(to: URL(fileURLWithPath: state))
            // The manifest check refuses it up front (its message), rather than QEMU failing the load.
            await #expect(throws: EngineError.self) { try await engine.restore(id: sb.id) }
            do { try await engine.restore(id: sb.id) } catch { #expect("\(error)".contains("does not match"), "\(error)") }
            // Put it back: the snapshot restores after all.
            try original.write(to: URL(fileURLWithPath: state))
            try await engine.restore(id: sb.id)
            #expect(try await d.exec(sb.id, ["true"]).exitCode == 0)
        }
    }
}
