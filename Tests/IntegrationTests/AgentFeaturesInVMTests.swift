import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiWire
import Foundation
import Testing

/// Sessions, files and port forwarding through the engine on a booted VM.
@Suite("Sessions, files and forwarding in a real VM", .serialized, .timeLimit(.minutes(10)))
struct AgentFeaturesInVMTests {
    /// Collects session output until `predicate` holds for the text so far, the session ends, or a
    /// deadline passes, which only turns a hang into a failure (a silent session no longer blocks the
    /// wait for its next event past it).
    static func read(
        _ attachment: AgentSessionAttachment, until predicate: @escaping @Sendable (String) -> Bool, seconds: Int = 60
    ) async throws -> String {
        // The reader returns what it saw; a sleeper that finishes first cancels it, which ends its wait.
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                var text = ""
                var iterator = attachment.output.makeAsyncIterator()
                while !predicate(text) {
                    guard let event = try? await iterator.next() else { break }
                    if case .output(let bytes) = event { text += String(decoding: bytes, as: UTF8.self) }
                    if case .exit = event { break }
                }
                return text
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            var text = ""
            for await result in group {
                group.cancelAll()
                if let result { text = result }
            }
            return text
        }
    }

    @Test("a TTY session: login shell as lohar in /workspace, resize, detach, reattach with scrollback")
    func ttySession() async throws {
        try await withDaemon { d in
            let sb = try await d.create("sess")
            let agent = try await d.daemon.engine.agent(for: sb.id)
            let first = try await agent.openSession(SessionRequest(tty: true, rows: 30, cols: 100))
            try await first.write(Array("echo T=$TERM U=$(id -u) D=$(pwd) S=$(stty size)\n".utf8))
            let seen = try await Self.read(first) { $0.contains("T=xterm-256color U=1000 D=/workspace S=30 100") }
            #expect(seen.contains("T=xterm-256color U=1000 D=/workspace S=30 100"), "\(seen)")
            try first.resize(rows: 50, cols: 132)
            try await first.write(Array("echo SIZE=$(stty size)\n".utf8))
            #expect(try await Self.read(first) { $0.contains("SIZE=50 132") }.contains("SIZE=50 132"))
            try await first.write(Array("echo before-detach\n".utf8))
            _ = try await Self.read(first) { $0.contains("before-detach\r\n") }
            try first.detach()
            let listed = try await agent.listSessions()
            let info = try #require(listed.first { $0.sessionID == first.info.sessionID })
            #expect(info.running)
            #expect(!info.attached)
            // Reattach: the scrollback comes first, then live output.
            let again = try await agent.openSession(SessionRequest(sessionID: first.info.sessionID))
            try await again.write(Array("echo after-reattach\n".utf8))
            let replay = try await Self.read(again) { $0.contains("after-reattach\r\n") }
            #expect(replay.contains("before-detach"))
            #expect(replay.contains("after-reattach"))
            let b = try #require(replay.range(of: "before-detach\r\n"))
            let a = try #require(replay.range(of: "after-reattach\r\n"))
            #expect(b.lowerBound < a.lowerBound)
            try await agent.killSession(first.info.sessionID)
            #expect(try await d.call("DELETE", "/v1/sandboxes/sess").status == 200)
        }
    }

    @Test("files: atomic write as lohar, stat, list, truncated and whole reads, 5 MiB round trip")
    func files() async throws {
        try await withDaemon { d in
            let sb = try await d.create("files")
            let agent = try await d.daemon.engine.agent(for: sb.id)
            let text = (1...100).map { "line \($0)" }.joined(separator: "\n") + "\n"
            let info = try await agent.writeFile(path: "/workspace/dir/new.txt", mode: "0640", bytes: Array(text.utf8))
            #expect(info.size == text.utf8.count)
            #expect(try await d.exec("files", ["stat", "-c", "%u %a", "/workspace/dir/new.txt"]).stdout == "1000 640\n")
            #expect(try await agent.stat("/workspace/dir/new.txt").mode == "0640")
            #expect(try await agent.list("/workspace/dir").entries.map(\.name) == ["new.txt"])
            let (whole, bytes) = try await agent.readFile(FileReadRequest(path: "/workspace/dir/new.txt"))
            #expect(whole.size == text.utf8.count)
            #expect(bytes == Array(text.utf8))
            let (partInfo, part) = try await agent.readFile(FileReadRequest(path: "/workspace/dir/new.txt", offset: 10, limit: 2))
            #expect(partInfo.size == text.utf8.count)
            #expect(String(decoding: part, as: UTF8.self) == "line 10\nline 11\n")
            let big = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            _ = try await agent.writeFile(path: "/tmp/big.bin", bytes: big)
            #expect(try await agent.readFile(FileReadRequest(path: "/tmp/big.bin")).1 == big)
            await #expect(throws: AgentError.self) { _ = try await agent.readFile(FileReadRequest(path: "/nope")) }
            #expect(try await d.call("DELETE", "/v1/sandboxes/files").status == 200)
        }
    }

    @Test("forwarding reaches a server inside the guest; a closed port is a clear error")
    func forward() async throws {
        try await withDaemon { d in
            let sb = try await d.create("fwd")
            let agent = try await d.daemon.engine.agent(for: sb.id)
            await #expect(throws: AgentError.self) { _ = try await agent.forward(port: 9) }
            _ = try await agent.execDetached(
                ExecRequest(argv: ["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"], cwd: "/etc"))
            // Until the guest's server is up (python starts slowly beside other VMs under TCG).
            var response = ""
            _ = try await eventually(interval: .milliseconds(200)) {
                if let channel = try? await agent.forward(port: 8000) {
                    try await channel.send(Array("GET /hostname HTTP/1.0\r\nHost: x\r\n\r\n".utf8))
                    try channel.finishSending()
                    var bytes: [UInt8] = []
                    for try await chunk in channel.incoming { bytes += chunk }
                    response = String(decoding: bytes, as: UTF8.self)
                    channel.close()
                }
                return response.contains("200")
            }
            #expect(response.hasPrefix("HTTP/1.0 200"), "\(response.prefix(200))")
            #expect(response.hasSuffix("fwd\n"))
            #expect(try await d.call("DELETE", "/v1/sandboxes/fwd").status == 200)
        }
    }
}
