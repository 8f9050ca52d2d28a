import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// What is left after something died: a killed QEMU, a killed daemon's files, a full data disk.
@Suite("Recovery", .serialized, .timeLimit(.minutes(10)))
struct RecoveryTests {
    @Test(
        "a killed QEMU leaves the sandbox in error saying `killed by signal 9`; start boots it again from its disk with its files; without a disk, start says so"
    )
    func startAfterKill() async throws {
        try await withDaemon { d in
            let sb = try await d.create("phoenix")
            _ = try await d.exec("phoenix", ["sh", "-c", "echo kept > /workspace/kept && echo lost > /dev/shm/lost && sync"])
            kill(try #require(await d.daemon.engine.pid(of: sb.id)), SIGKILL)
            let dead = try await d.waitFor("phoenix") { $0.state == "error" }
            #expect(dead.state == "error")
            #expect(dead.stateReason?.contains("killed by signal 9") == true, "\(dead.stateReason ?? "")")

            let started = try await d.call("POST", "/v1/sandboxes/phoenix/start")
            #expect(started.status == 200, "\(started.text)")
            let back = try await d.get("phoenix")
            #expect(back.state == "hot")
            #expect(back.stateReason == nil)
            // Files survive, RAM does not: it booted afresh.
            #expect(try await d.exec("phoenix", ["cat", "/workspace/kept"]).stdout == "kept\n")
            #expect(try await d.exec("phoenix", ["test", "-e", "/dev/shm/lost"]).exitCode == 1)
            #expect(try await d.exec("phoenix", ["hostname"]).stdout == "phoenix\n")
            #expect(qemuProcesses(mentioning: sb.id).count == 1)

            // Killed again, and its disk gone: start cannot help, and says why.
            kill(try #require(await d.daemon.engine.pid(of: sb.id)), SIGKILL)
            _ = try await d.waitFor("phoenix") { $0.state == "error" }
            try FileManager.default.removeItem(atPath: d.dataDirectory + "/sandboxes/" + sb.id + "/disk.qcow2")
            let refused = try await d.call("POST", "/v1/sandboxes/phoenix/start")
            #expect(refused.status == 409, "\(refused.text)")
            #expect(refused.text.contains("disk"), "\(refused.text)")
            #expect(try await d.get("phoenix").state == "error")
            #expect(try await d.call("DELETE", "/v1/sandboxes/phoenix").status == 200)
        }
    }

    @Test("at start, sandbox and snapshot directories and taps no record owns are removed and logged by name; owned ones stay")
    func orphansReclaimed() async throws {
        let sameNetwork = NetworkTests.sameNetwork()
        let first = try await TestDaemon.start(configure: sameNetwork)
        let sb: SandboxDTO
        do {
            sb = try await first.create("owned")
            let snap = try await first.call("POST", "/v1/sandboxes/owned/snapshots", json: #"{"name":"kept"}"#)
            #expect(snap.status == 201, "\(snap.text)")
        } catch {
            await first.stop()
            throw error
        }
        await first.stop(keepData: true)
        let data = first.dataDirectory
        // What a SIGKILL during a create or a named snapshot leaves: directories without records.
        let strays = [data + "/sandboxes/0123456789abcdef", data + "/snapshots/snapfedcba9876543210"]
        for stray in strays {
            try FileManager.default.createDirectory(atPath: stray, withIntermediateDirectories: true)
            try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: stray + "/memory"))
        }
        let snapshotsBefore = try FileManager.default.contentsOfDirectory(atPath: data + "/snapshots")
        #expect(snapshotsBefore.count == 2)
        // And a tap whose sandbox was never recorded, beside the owned sandbox's.
        let network = try #require(first.daemon.network)
        let ns = network.namespace(index: try #require(await network.existing().first))
        let ownedTap = "t" + sb.id.prefix(12)
        let strayTap = "t0123456789ab"
        _ = try await Blocking.run { try runTool("/usr/sbin/ip", ["-n", ns, "tuntap", "add", "dev", strayTap, "mode", "tap"]) }

        let again = try await TestDaemon.start(dataDirectory: data, configure: sameNetwork)
        do {
            for stray in strays {
                #expect(!FileManager.default.fileExists(atPath: stray), "\(stray) was kept")
                #expect(again.logEvents.all.contains { $0.contains("daemon.orphan_removed") && $0.contains(stray) }, "\(stray) not logged")
            }
            let links = try await Blocking.run { try runTool("/usr/sbin/ip", ["-n", ns, "-o", "link", "show"]) }
            #expect(!links.contains(strayTap + ":"), "the stray tap was kept")
            #expect(links.contains(ownedTap + ":"), "the owned tap went")
            #expect(
                again.logEvents.all.contains { $0.contains("daemon.orphan_removed") && $0.contains(ns + "/" + strayTap) },
                "the tap was not logged")
            #expect(FileManager.default.fileExists(atPath: data + "/sandboxes/" + sb.id + "/disk.qcow2"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: data + "/snapshots").count == 1)
            #expect(try await again.exec("owned", ["true"]).exitCode == 0)
            let restored = try await again.call("POST", "/v1/snapshots/kept/restore", json: #"{"name":"copy"}"#)
            #expect(restored.status == 201, "\(restored.text)")
        } catch {
            await again.stop()
            throw error
        }
        await again.stop()
    }

    @Test(
        "a full data directory: create answers 507 saying what is free and needed; a QEMU that dies while the store cannot be written reads as error with its cause (never hot), and the store catches up"
    )
    func fullDisk() async throws {
        let data = "/tmp/bhf-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: data) }
        // A data disk of its own, small enough to fill: one 256 MiB sandbox fits, little else.
        #expect(try await runTool("mount", ["-t", "tmpfs", "-o", "size=700m", "tmpfs", data]) == 0)
        // Lazily: a file still open at the end (the daemon's last writes) must not leave 700 MB mounted.
        defer { _ = try? runTool("/usr/bin/umount", ["-l", data]) as String }
        let d = try await TestDaemon.start(dataDirectory: data)
        var lock: Process?
        do {
            let sb = try await d.create("small", memoryMB: 256)
            // The store cannot be written from here on: another connection holds its write lock
            // (as a full disk makes every write fail, but deterministically).
            let sqlite = Process()
            let input = Pipe()
            let output = Pipe()
            sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            sqlite.arguments = [data + "/state.db"]
            sqlite.standardInput = input
            sqlite.standardOutput = output
            try sqlite.run()
            lock = sqlite
            input.fileHandleForWriting.write(Data("BEGIN EXCLUSIVE;\nSELECT 'locked';\n".utf8))
            let answer = try await Blocking.run { output.fileHandleForReading.availableData }
            #expect(String(decoding: answer, as: UTF8.self).contains("locked"))

            // Fill the disk, leaving a few MiB.
            let free = try #require(try FileManager.default.attributesOfFileSystem(forPath: data)[.systemFreeSize] as? Int)
            #expect(try await runTool("fallocate", ["-l", String(free - (3 << 20)), data + "/fill"]) == 0)
            let refused = try await d.call("POST", "/v1/sandboxes", json: #"{"name":"big","memory_mb":256}"#)
            #expect(refused.status == 507, "\(refused.status) \(refused.text)")
            #expect(d.errorCode(refused) == "insufficient_storage")
            #expect(refused.text.contains("not enough free space") && refused.text.contains("needed"), "\(refused.text)")

            kill(try #require(await d.daemon.engine.pid(of: sb.id)), SIGKILL)
            let dead = try await d.waitFor("small") { $0.state != "hot" }
            #expect(dead.state == "error")
            #expect(dead.stateReason?.contains("killed by signal") == true, "\(dead.stateReason ?? "")")
            #expect(dead.stateReason?.contains("nearly full") == true, "\(dead.stateReason ?? "")")
            let listed = try JSONDecoder().decode([SandboxDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes").body))
            #expect(listed.first?.state == "error")
            let stop = try await d.call("POST", "/v1/sandboxes/small/stop")
            #expect(stop.status == 409 && !stop.text.contains("keeps running"), "\(stop.status) \(stop.text)")

            // The lock goes: the retry writes the death to the store.
            input.fileHandleForWriting.write(Data("COMMIT;\n.quit\n".utf8))
            try input.fileHandleForWriting.close()
            sqlite.waitUntilExit()
            lock = nil
            let deadline = ContinuousClock.now + .seconds(120)
            var stored = ""
            while stored != "error", ContinuousClock.now < deadline {
                stored = try await Blocking.run {
                    try runTool("/usr/bin/sqlite3", [data + "/state.db", "SELECT state FROM sandboxes WHERE name = 'small'"])
                }.trimmingCharacters(in: .whitespacesAndNewlines)
                if stored != "error" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(stored == "error")
        } catch {
            lock?.terminate()
            await d.stop(keepData: true)
            throw error
        }
        await d.stop(keepData: true)
    }
}
