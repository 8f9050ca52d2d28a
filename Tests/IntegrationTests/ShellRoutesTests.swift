import BhattiAPI
import BhattiDaemon
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// The shell and piped-session WebSocket routes on a real VM.
@Suite("Shell WebSocket routes", .serialized, .timeLimit(.minutes(10)))
struct ShellRoutesTests {
    /// Reads messages until the collected terminal text satisfies `until`, the stream ends, or 120 s pass
    /// (a deadline that only turns a hang into a failure: on a loaded host a shell had echoed the typed
    /// line but not run it within the old 20 s). The deadline holds while no message comes, too: a
    /// sleeper that finishes first cancels the reader, which ends its wait.
    static func collect(_ socket: WebSocket, until: @escaping @Sendable (String, [[String: Any]]) -> Bool) async throws -> (
        String, [String]
    ) {
        try await withThrowingTaskGroup(of: (String, [String])?.self) { group in
            group.addTask {
                var text = ""
                var controls: [String] = []
                var parsed: [[String: Any]] = []
                for try await message in socket.messages {
                    switch message {
                    case .binary(let b): text += String(decoding: b, as: UTF8.self)
                    case .text(let t):
                        controls.append(t)
                        if let o = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any] { parsed.append(o) }
                    }
                    if until(text, parsed) || Task.isCancelled { break }
                }
                return (text, controls)
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(120))
                return nil
            }
            var collected = ("", [String]())
            for try await result in group {
                group.cancelAll()
                if let result { collected = result }
            }
            return collected
        }
    }

    func open(_ d: TestDaemon, _ path: String) async throws -> WebSocket {
        let client = d.client
        let headers: HTTPHeaders = ["Authorization": "Bearer \(d.daemon.adminKey)"]
        return try await Blocking.run { try client.webSocket(path: path, headers: headers) }
    }

    @Test("shell: session message first, keystrokes in, output out, resize, close detaches, reattach replays")
    func shell() async throws {
        try await withDaemon { d in
            _ = try await d.create("ws")
            let first = try await open(d, "/v1/sandboxes/ws/shell")
            try first.send(text: "{\"type\":\"resize\",\"rows\":40,\"cols\":120}")
            try first.send(binary: Array("echo MARK-$((6*7)) $(stty size)\n".utf8))
            let (out, controls) = try await Self.collect(first) { text, _ in text.contains("MARK-42 40 120") }
            #expect(out.contains("MARK-42 40 120"), "\(out)")
            let session = try #require(
                controls.first.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] })
            #expect(session["type"] as? String == "session")
            let id = try #require(session["session_id"] as? String)
            first.close(code: WebSocketCloseCode.normal, reason: "")
            // The session outlives its client: detached, still running (once the close has reached the guest).
            #expect(
                try await eventually {
                    let list = try JSONDecoder().decode(
                        [SessionDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes/ws/sessions").body))
                    return list.contains { $0.sessionID == id && $0.running && !$0.attached }
                })
            // Reattach: the scrollback (with the earlier output) comes back first.
            let again = try await open(d, "/v1/sandboxes/ws/shell?session=\(id)")
            let (replay, _) = try await Self.collect(again) { text, _ in text.contains("MARK-42") }
            #expect(replay.contains("MARK-42"))
            try again.send(binary: Array("exit 3\n".utf8))
            let (_, end) = try await Self.collect(again) { _, objects in objects.contains { $0["type"] as? String == "exit" } }
            #expect(end.contains { $0.contains("\"exit_code\":3") }, "\(end)")
            // Not an upgrade: 400.
            #expect(try await d.call("GET", "/v1/sandboxes/ws/shell").status == 400)
            #expect(try await d.call("DELETE", "/v1/sandboxes/ws").status == 200)
        }
    }

    @Test("piped session over /exec/ws: command first, stdin in, merged output, exit code")
    func piped() async throws {
        try await withDaemon { d in
            _ = try await d.create("pipe")
            let socket = try await open(d, "/v1/sandboxes/pipe/exec/ws")
            try socket.send(text: "{\"cmd\":[\"sh\",\"-c\",\"cat; echo to-err >&2; exit 5\"]}")
            try socket.send(binary: Array("from stdin\n".utf8))
            try socket.send(text: "{\"type\":\"eof\"}")
            let (out, controls) = try await Self.collect(socket) { _, objects in objects.contains { $0["type"] as? String == "exit" } }
            #expect(out == "from stdin\nto-err\n", "\(out)")
            #expect(controls.contains { $0.contains("\"exit_code\":5") }, "\(controls)")
            #expect(try await d.call("DELETE", "/v1/sandboxes/pipe").status == 200)
        }
    }

    @Test("a client that sends its input and eof and leaves at once: all of it reaches the program, which ends")
    func inputThenLeave() async throws {
        try await withDaemon { d in
            _ = try await d.create("leave")
            let socket = try await open(d, "/v1/sandboxes/leave/exec/ws")
            try socket.send(text: #"{"cmd":["sh","-c","cat > /tmp/got"]}"#)
            try socket.send(binary: Array("all of it\n".utf8))
            try socket.send(text: #"{"type":"eof"}"#)
            socket.close(code: WebSocketCloseCode.normal, reason: "")
            // The file whole and cat gone: the eof went in after the client had gone (without it cat
            // would wait forever, and the deadline only turns that into a failure).
            var seen = ""
            let ended = try await eventually {
                seen = try await d.exec("leave", ["sh", "-c", "cat /tmp/got 2>/dev/null; pgrep -x cat >/dev/null && echo RUNNING"]).stdout
                return seen == "all of it\n"
            }
            #expect(ended, "the program did not get all its input and its end: \(seen)")
        }
    }
}
