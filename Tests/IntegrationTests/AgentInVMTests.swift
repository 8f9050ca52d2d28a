import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiWire
import Foundation
import Testing

/// The agent's operations through the engine on a booted VM.
@Suite("Agent in a real VM", .serialized, .timeLimit(.minutes(10)))
struct AgentInVMTests {
    @Test("reconnect after a dropped channel, detached exec, activity, large output, concurrency, hostname")
    func agentOperations() async throws {
        try await withDaemon { d in
            let sb = try await d.create("agent-ops")
            let engine = d.daemon.engine
            let first = try await engine.agent(for: sb.id)
            let bootID = first.hello.bootID

            // The hostname and the per-VM token were delivered at boot.
            #expect(try await d.exec("agent-ops", ["hostname"]).stdout == "agent-ops\n")

            // Drop the channel: an exec in flight fails clearly, the next request reconnects.
            let inFlight = Task { try await first.exec(ExecRequest(argv: ["sleep", "30"])) }
            try await Task.sleep(for: .milliseconds(300))
            first.close()
            await #expect(throws: AgentError.self) { _ = try await inFlight.value }
            let again = try await engine.agent(for: sb.id)
            #expect(again !== first)
            #expect(again.hello.bootID == bootID)
            #expect(try await d.exec("agent-ops", ["echo", "back"]).stdout == "back\n")

            // A wrong token is refused by the guest.
            await #expect(throws: AgentError.self) {
                _ = try await AgentConnection.connect(
                    unixPath: d.dataDirectory + "/sandboxes/\(sb.id)/agent.sock", token: "wrong", timeout: .seconds(5))
            }

            // Detached exec: pid now, output in the file later.
            let detached = try await again.execDetached(ExecRequest(argv: ["sh", "-c", "echo bg-done"], outputFile: "/tmp/bg.log"))
            #expect(detached.pid > 1)
            var text = ""
            _ = try await eventually {
                text = try await d.exec("agent-ops", ["cat", "/tmp/bg.log"]).stdout
                return text == "bg-done\n"
            }
            #expect(text == "bg-done\n")

            // Activity.
            let activity = try await again.activity()
            #expect(activity.runningExecs == 0)
            #expect(activity.lastActivityMs > 0)

            // 10 MiB of output through virtio-serial, intact.
            let big = try await d.exec("agent-ops", ["sh", "-c", "head -c 10485760 /dev/zero | tr '\\\\0' 'x'"])
            #expect(big.stdout.utf8.count == 10 << 20)
            #expect(!big.stderr.contains("truncated"))
            // Past 10 MiB the buffered reply keeps the first 10 MiB and says it dropped the rest.
            let over = try await d.exec("agent-ops", ["sh", "-c", "head -c 10486784 /dev/zero | tr '\\0' 'y'"])
            #expect(over.exitCode == 0)
            #expect(over.stdout.utf8.count == 10 << 20)
            #expect(over.stderr.hasSuffix("[output truncated at 10MB]"))

            // Ten execs at once.
            try await withThrowingTaskGroup(of: (Int, String).self) { g in
                for i in 0..<10 { g.addTask { (i, try await d.exec("agent-ops", ["echo", "\(i)"]).stdout) } }
                for try await (i, out) in g { #expect(out == "\(i)\n") }
            }
            #expect(try await d.call("DELETE", "/v1/sandboxes/agent-ops").status == 200)
        }
    }
}
