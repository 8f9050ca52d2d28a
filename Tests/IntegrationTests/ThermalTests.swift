import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// Thermal tiers through the real daemon API on real VMs: explicit pause/stop/start, transparent wake,
/// a TTY session across cold. The idle timers are driven by a clock in IdleCycleTests.
@Suite("Thermal tiers", .serialized, .timeLimit(.minutes(10)))
struct ThermalTests {
    @Test("pause/stop/start are idempotent; RAM survives three cold cycles; guest routes wake; metadata does not")
    func explicitTransitions() async throws {
        try await withDaemon { d in
            let sb = try await d.create("tiers")
            _ = try await d.exec("tiers", ["sh", "-c", "echo kept > /dev/shm/m; echo disk > /workspace/d"])
            #expect(try await d.post("tiers", "pause").state == "warm")
            #expect(try await d.post("tiers", "pause").state == "warm")
            // A guest route wakes a warm sandbox.
            #expect(try await d.exec("tiers", ["cat", "/dev/shm/m"]).stdout == "kept\n")
            #expect(try await d.get("tiers").state == "hot")
            for _ in 1...3 {
                #expect(try await d.post("tiers", "stop").state == "cold")
                #expect(try await d.post("tiers", "stop").state == "cold")
                #expect(qemuProcesses(mentioning: sb.id).isEmpty)
                // Metadata routes never wake.
                #expect(try await d.get("tiers").state == "cold")
                #expect(try await d.call("GET", "/v1/sandboxes").status == 200)
                #expect(try await d.get("tiers").state == "cold")
                #expect(try await d.exec("tiers", ["cat", "/dev/shm/m", "/workspace/d"]).stdout == "kept\ndisk\n")
                #expect(try await d.get("tiers").state == "hot")
            }
            #expect(try await d.post("tiers", "start").state == "hot")
            #expect(try await d.post("tiers", "stop").state == "cold")
            #expect(try await d.post("tiers", "start").state == "hot")
            // Setting keep_hot on a cold sandbox brings it back without any guest route.
            #expect(try await d.post("tiers", "stop").state == "cold")
            #expect(try await d.call("PATCH", "/v1/sandboxes/tiers", json: #"{"keep_hot":true}"#).status == 200)
            #expect(try await d.waitFor("tiers") { $0.state == "hot" }.state == "hot")
            #expect(try await d.call("GET", "/v1/sandboxes/tiers/stop").status == 405)
            #expect(try await d.call("POST", "/v1/sandboxes/nope/stop").status == 404)
        }
    }

    @Test("a wake storm: 20 concurrent requests on a cold sandbox give one restore and 20 answers")
    func wakeStorm() async throws {
        try await withDaemon { d in
            _ = try await d.create("storm")
            _ = try await d.post("storm", "stop")
            let before = d.logEvents.count("sandbox.restored")
            let answers = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<20 { group.addTask { try await d.exec("storm", ["echo", "\(i)"]).stdout } }
                var all: [String] = []
                for try await a in group { all.append(a) }
                return all
            }
            #expect(Set(answers) == Set((0..<20).map { "\($0)\n" }))
            #expect(d.logEvents.count("sandbox.restored") - before == 1)
        }
    }

    @Test("a TTY session keeps its scrollback and process across a cold cycle")
    func sessionSurvivesCold() async throws {
        try await withDaemon { d in
            _ = try await d.create("tty")
            let headers: HTTPHeaders = ["Authorization": "Bearer \(d.daemon.adminKey)"]
            let client = d.client
            let first = try await Blocking.run { try client.webSocket(path: "/v1/sandboxes/tty/shell", headers: headers) }
            try first.send(binary: Array("echo BEFORE-$((6*7)); X=held\n".utf8))
            let (out, controls) = try await ShellRoutesTests.collect(first) { text, _ in text.contains("BEFORE-42") }
            #expect(out.contains("BEFORE-42"))
            let session = try #require(
                controls.first.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] })
            let id = try #require(session["session_id"] as? String)
            first.close(code: WebSocketCloseCode.normal, reason: "")
            // The session detaches when the daemon has seen the close.
            let detached = ContinuousClock.now + .seconds(60)
            while try await d.call("GET", "/v1/sandboxes/tty/sessions").text.contains(#""attached":true"#), ContinuousClock.now < detached {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await d.post("tty", "stop").state == "cold")
            let again = try await Blocking.run { try client.webSocket(path: "/v1/sandboxes/tty/shell?session=\(id)", headers: headers) }
            try again.send(binary: Array("echo AFTER-$X\n".utf8))
            let (replay, _) = try await ShellRoutesTests.collect(again) { text, _ in text.contains("AFTER-held") }
            #expect(replay.contains("BEFORE-42"), "scrollback lost: \(replay)")
            #expect(replay.contains("AFTER-held"), "shell state lost: \(replay)")
            again.close(code: WebSocketCloseCode.normal, reason: "")
        }
    }

    @Test("a snapshot that cannot be written leaves the VM running; a damaged one fails fast with the reason")
    func failures() async throws {
        try await withDaemon { d in
            let sb = try await d.create("fragile")
            _ = try await d.exec("fragile", ["sh", "-c", "echo alive > /dev/shm/a"])
            let dir = d.dataDirectory + "/sandboxes/" + sb.id
            // Immutable directory: even root cannot create the device-state file in it.
            #expect(try await runTool("chattr", ["+i", dir]) == 0)
            let refused = try await d.call("POST", "/v1/sandboxes/fragile/stop")
            #expect(try await runTool("chattr", ["-i", dir]) == 0)
            #expect(refused.status == 503, "\(refused.text)")
            #expect(refused.text.contains("keeps running"))
            #expect(try await d.get("fragile").state == "hot")
            #expect(try await d.exec("fragile", ["cat", "/dev/shm/a"]).stdout == "alive\n")

            // A truncated RAM file: the wake fails at once, saying why, and the sandbox is in error.
            #expect(try await d.post("fragile", "stop").state == "cold")
            #expect(truncate(dir + "/memory", 4096) == 0)
            let woke = try await d.call("POST", "/v1/sandboxes/fragile/exec", json: #"{"cmd":["true"]}"#)
            #expect(woke.status == 503, "\(woke.text)")
            #expect(woke.text.contains("RAM file"), "\(woke.text)")
            let after = try await d.get("fragile")
            #expect(after.state == "error")
            #expect(after.stateReason?.contains("snapshot damaged") == true, "\(after.stateReason ?? "")")
        }
    }
}

/// Runs a host tool to completion off the cooperative pool; its exit status.
func runTool(_ name: String, _ arguments: [String]) async throws -> Int32 {
    try await Blocking.run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [name] + arguments
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
