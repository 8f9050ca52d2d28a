import BhattiEngine
import BhattiWire
import Foundation
import Testing

@Suite("Piped exec through the real agent handlers")
struct ExecTests {
    @Test("stdout, stderr and exit code come back separately")
    func outputAndExitCode() async throws {
        let h = try await AgentHarness.start()
        let (status, out, err) = try await h.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(status.code == 3)
        #expect(status.signal == nil)
        #expect(out == "out\n")
        #expect(err == "err\n")
    }

    @Test("stdin is delivered and then closed")
    func stdinRoundTrip() async throws {
        let h = try await AgentHarness.start()
        let (status, out, _) = try await h.run(["cat"], stdin: Array("hello stdin\n".utf8))
        #expect(status.code == 0)
        #expect(out == "hello stdin\n")
    }

    @Test("without stdin the command reads end of file at once")
    func noStdin() async throws {
        let h = try await AgentHarness.start()
        let (status, out, _) = try await h.run(["sh", "-c", "cat; echo done"])
        #expect(status.code == 0)
        #expect(out == "done\n")
    }

    @Test("a missing command is a not-found error, not a hang")
    func commandNotFound() async throws {
        let h = try await AgentHarness.start()
        await #expect {
            _ = try await h.run(["definitely-not-a-command-xyz"])
        } throws: { error in
            guard case AgentError.remote(let m) = error else { return false }
            return m.code == .notFound && m.message.contains("definitely-not-a-command-xyz")
        }
        // The agent keeps serving after the failure.
        let (status, _, _) = try await h.run(["true"])
        #expect(status.code == 0)
    }

    @Test("a signal-killed command reports 128 + the signal")
    func killedBySignal() async throws {
        let h = try await AgentHarness.start()
        let (status, _, _) = try await h.run(["sh", "-c", "kill -9 $$"])
        #expect(status.code == 137)
        #expect(status.signal == 9)
    }

    @Test("env overrides the defaults and cwd is honoured")
    func envAndCwd() async throws {
        let h = try await AgentHarness.start()
        let (_, out, _) = try await h.run(["sh", "-c", "echo $FOO:$HOME:$(pwd)"], env: ["FOO": "bar", "HOME": "/root"], cwd: "/usr")
        #expect(out == "bar:/root:/usr\n")
        let (_, defaults, _) = try await h.run(["sh", "-c", "echo $HOME:$(pwd)"])
        #expect(defaults == "/tmp:/tmp\n")
    }

    @Test("a missing working directory is reported clearly")
    func badCwd() async throws {
        let h = try await AgentHarness.start()
        await #expect {
            _ = try await h.run(["true"], cwd: "/no/such/dir")
        } throws: { error in
            guard case AgentError.remote(let m) = error else { return false }
            return m.code == .notFound && m.message.contains("/no/such/dir")
        }
    }

    @Test("10 MiB of output arrives complete and in order")
    func largeOutput() async throws {
        let h = try await AgentHarness.start()
        let out = Collector()
        let status = try await h.connection.exec(ExecRequest(argv: ["head", "-c", "10485760", "/dev/zero"])) { out.add($0) }
        #expect(status.code == 0)
        #expect(out.stdoutBytes.count == 10 << 20)
        #expect(out.stdoutBytes.allSatisfy { $0 == 0 })
    }

    @Test("binary output is passed through byte for byte")
    func binaryOutput() async throws {
        let h = try await AgentHarness.start()
        let out = Collector()
        _ = try await h.connection.exec(ExecRequest(argv: ["printf", "\\000\\001\\377\\n"])) { out.add($0) }
        #expect(out.stdoutBytes == [0, 1, 255, 10])
    }

    @Test("cancelling an exec kills its whole process group")
    func cancelKillsGroup() async throws {
        let h = try await AgentHarness.start()
        // A child in the background and the command's own sleep, both in the exec's process group.
        let (child, own) = (ExecTimeoutTests.uniqueSleep(), ExecTimeoutTests.uniqueSleep())
        let task = Task {
            try await h.run(["sh", "-c", "\(child.joined(separator: " ")) & \(own.joined(separator: " "))"])
        }
        #expect(
            try await ExecTimeoutTests.eventually {
                ExecTimeoutTests.processes(running: child) == 1 && ExecTimeoutTests.processes(running: own) == 1
            })
        task.cancel()
        _ = try? await task.value
        #expect(try await ExecTimeoutTests.allGone([child, own]))
    }

    @Test("ten execs at once all complete with their own output")
    func concurrentExecs() async throws {
        let h = try await AgentHarness.start()
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<10 {
                group.addTask { (i, try await h.run(["sh", "-c", "echo \(i)"]).1) }
            }
            for try await (i, out) in group { #expect(out == "\(i)\n") }
        }
    }

    @Test("ping is echoed")
    func ping() async throws {
        let h = try await AgentHarness.start()
        // Answered at all is the claim; how fast is bench/'s.
        let rtt = try await h.connection.ping([1, 2, 3])
        #expect(rtt > .zero)
    }
}

@Suite("Host disconnect")
struct DisconnectTests {
    @Test("a host that disconnects takes its commands, children included, with it")
    func disconnectKillsGroup() async throws {
        let h = try await AgentHarness.start()
        let (child, own) = (ExecTimeoutTests.uniqueSleep(), ExecTimeoutTests.uniqueSleep())
        let task = Task { try await h.run(["sh", "-c", "\(child.joined(separator: " ")) & \(own.joined(separator: " "))"]) }
        #expect(
            try await ExecTimeoutTests.eventually {
                ExecTimeoutTests.processes(running: child) == 1 && ExecTimeoutTests.processes(running: own) == 1
            })
        h.connection.close()
        _ = try? await task.value
        #expect(try await ExecTimeoutTests.allGone([child, own]))
    }
}
