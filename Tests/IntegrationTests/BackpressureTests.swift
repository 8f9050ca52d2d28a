import BhattiAPI
import BhattiDaemon
import BhattiSystem
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import BhattiHTTP

/// A client that does not keep up holds the guest back instead of growing the daemon: streamed output
/// stops being read from the guest, WebSocket input stops being read from the socket, and what was held
/// is let go when the client leaves.
@Suite("Backpressure on streamed routes", .serialized, .timeLimit(.minutes(10)))
struct BackpressureTests {
    /// More than the guest may have written when the daemon holds what the docs promise (about 2 MiB per
    /// stream, the agent window, the kernel's socket and pipe buffers); far less than the command writes.
    static let bound = 8 << 20

    @Test("NDJSON exec: a client that stops reading stops the command at its pipe; reading on delivers every byte in order")
    func ndjsonExec() async throws {
        // The client reads nothing for as long as a loaded machine takes to see seq blocked: the
        // daemon's cut-off for such clients (60 s by default) is not this test's subject.
        try await withDaemon(configure: { $0.clientWriteTimeoutSeconds = 0 }) { d in
            _ = try await d.create("bp")
            // 6,000,000 lines: 53 MB of output, several times the bound.
            let lines = 6_000_000
            var headers = d.authHeaders
            headers.set("Accept", "application/x-ndjson")
            let client = d.client
            let h = headers
            let resume = DispatchSemaphore(value: 0)
            let firstChunk = Gate()
            let body = Array(#"{"cmd":["seq","1","\#(lines)"],"timeout_sec":600}"#.utf8)
            // The client takes the first chunk, then reads nothing until told.
            let reader = Task {
                try await Blocking.run { () throws -> [UInt8] in
                    var received: [UInt8] = []
                    _ = try client.stream(method: "POST", path: "/v1/sandboxes/bp/exec", headers: h, body: body) { chunk in
                        if received.isEmpty {
                            firstChunk.open()
                            resume.wait()
                        }
                        received += chunk
                    }
                    return received
                }
            }
            await firstChunk.wait()
            // Wait (the deadline only ends a hang) until `seq` is blocked writing its pipe.
            var blockedAt: Int?
            var samples: [String] = []
            for _ in 0..<600 {
                // Two readings half a second apart in one exec.
                let probe = try await d.exec(
                    "bp", ["sh", "-c", "(\(Self.probe("seq"))) && echo --- && sleep 0.5 && (\(Self.probe("seq")))"])
                samples.append(probe.stdout)
                guard probe.exitCode == 0 else {
                    Issue.record("seq finished while the client read nothing: its whole output was taken (\(samples.suffix(3)))")
                    break
                }
                // Unchanged over the two readings, and (where the kernel says) asleep in pipe_write.
                let readings = probe.stdout.components(separatedBy: "---\n")
                if readings.count == 2, readings[0] == readings[1],
                    Self.wchan(readings[1]).map({ $0 == "pipe_write" || $0 == "0" }) ?? true
                {
                    blockedAt = Self.wchar(readings[1])
                    break
                }
            }
            let written = try #require(blockedAt, "seq never blocked: \(samples.suffix(3))")
            #expect(written < Self.bound, "seq wrote \(written) bytes while the client read nothing")

            // Reading on: every line, in order, then the exit line.
            resume.signal()
            let received = try await reader.value
            var stdout: [UInt8] = []
            var exit: ExecStreamLine?
            for line in received.split(separator: UInt8(ascii: "\n")) {
                let decoded = try JSONDecoder().decode(ExecStreamLine.self, from: Data(line))
                switch decoded.type {
                case "stdout": stdout += Array((decoded.data ?? "").utf8)
                case "exit": exit = decoded
                default: Issue.record("unexpected line \(decoded.type): \(decoded.data ?? "")")
                }
            }
            let expected = Array((1...lines).map(String.init).joined(separator: "\n").utf8) + [UInt8(ascii: "\n")]
            #expect(stdout.count == expected.count)
            #expect(stdout == expected, "the output differs from seq's")
            #expect(exit?.exitCode == 0)
        }
    }

    @Test(
        "WebSocket stdin: the daemon stops reading the socket while the guest does not read, and lets go when the client leaves",
        arguments: [("exec/ws", "sleep"), ("shell", "bash")])
    func webSocketStdin(route: String, program: String) async throws {
        try await withDaemon { d in
            _ = try await d.create("bpws")
            let socket = try await Self.rawWebSocket(d, "/v1/sandboxes/bpws/\(route)")
            defer { socket.close() }
            // A program that never reads its input: a piped `sleep`, or a shell that becomes one with
            // the terminal raw (a cooked terminal would discard a line past 4 KiB instead of filling).
            if route == "shell" {
                try socket.writeAll(
                    encodeFrame(opcode: .binary, payload: Array("stty raw -echo; exec sleep 1000\n".utf8), maskKey: randomMaskKey()))
            } else {
                try Self.sendText(socket, #"{"cmd":["sleep","1000"]}"#)
            }

            // 600 frames of 64 KiB (39 MiB), sent until the socket takes no more.
            let frame = encodeFrame(opcode: .binary, payload: [UInt8](repeating: 0x61, count: 64 << 10), maskKey: randomMaskKey())
            let sent = try await Blocking.run { () throws -> Int in
                var total = 0
                for _ in 0..<600 {
                    var offset = 0
                    var quiet = 0
                    while offset < frame.count {
                        let n = try frame.withUnsafeBytes { try socket.sendWithoutWaiting(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                        offset += n
                        total += n
                        if n > 0 {
                            quiet = 0
                            continue
                        }
                        // Full: wait for room; a socket that stays full for three waits is not being read.
                        if try socket.poll(events: Int16(POLLOUT), timeoutMilliseconds: 1000) == 0 {
                            quiet += 1
                            if quiet == 3 { return total }
                        }
                    }
                }
                return total
            }
            #expect(sent < Self.bound, "the daemon took \(sent) bytes of input the guest never read")

            // The client leaves without a close handshake: the attachment ends (the session detaches and
            // runs on), so nothing holds the input it had queued.
            let sessions: () async throws -> [SessionDTO] = {
                try JSONDecoder().decode([SessionDTO].self, from: Data(try await d.call("GET", "/v1/sandboxes/bpws/sessions").body))
            }
            #expect(try await sessions().contains { $0.argv.contains(program) && $0.attached })
            socket.close()
            let detached = try await eventually {
                try await sessions().contains { $0.argv.contains(program) && $0.running && !$0.attached }
            }
            let left = try await sessions()
            #expect(detached, "the attachment of a client that left still holds its session: \(left)")
            #expect(try await d.exec("bpws", ["echo", "still serving"]).stdout == "still serving\n")
        }
    }

    @Test("WebSocket exec: a large cat round trip comes back whole and in order")
    func webSocketRoundTrip() async throws {
        try await withDaemon { d in
            _ = try await d.create("bprt")
            let client = d.client
            let headers: HTTPHeaders = ["Authorization": "Bearer \(d.daemon.adminKey)"]
            let socket = try await Blocking.run { try client.webSocket(path: "/v1/sandboxes/bprt/exec/ws", headers: headers) }
            try socket.send(text: #"{"cmd":["cat"]}"#)
            var generator = SystemRandomNumberGenerator()
            let input = (0..<(8 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let writer = Task {
                try await Blocking.run {
                    var offset = 0
                    while offset < input.count {
                        let end = min(input.count, offset + (64 << 10))
                        try socket.send(binary: Array(input[offset..<end]))
                        offset = end
                    }
                    try socket.send(text: #"{"type":"eof"}"#)
                }
            }
            var output: [UInt8] = []
            var exitCode: Int?
            for try await message in socket.messages {
                switch message {
                case .binary(let bytes): output += bytes
                case .text(let text):
                    let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                    if object?["type"] as? String == "exit" { exitCode = object?["exit_code"] as? Int }
                }
                if exitCode != nil { break }
            }
            try await writer.value
            socket.close()
            #expect(exitCode == 0)
            #expect(output.count == input.count)
            #expect(output == input, "cat's output differs from its input")
        }
    }

    @Test("WebSocket output: clients that read none of it hold back their programs, not the daemon's threads")
    func webSocketOutputUnread() async throws {
        try await withDaemon { d in
            _ = try await d.create("bpout")
            // More clients than the cooperative pool has threads (one per core), each running `yes` and
            // reading nothing; under the guest's limit of 20 sessions.
            var sockets: [FileDescriptor] = []
            defer { for socket in sockets { socket.close() } }
            for _ in 0..<min(18, max(4, ProcessInfo.processInfo.activeProcessorCount + 2)) {
                let socket = try await Self.rawWebSocket(d, "/v1/sandboxes/bpout/exec/ws")
                sockets.append(socket)
                try Self.sendText(socket, #"{"cmd":["yes"]}"#)
            }
            // Wait until output fills each client's socket (the daemon's next write to it then blocks).
            for socket in sockets {
                var filled = false
                for _ in 0..<600 where !filled {
                    filled = Self.unread(socket) >= 128 << 10
                    if !filled { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(filled, "no output reached a client: the daemon stalled")
            }
            // The daemon still answers. Asked from a thread with a receive timeout, which stands in for a
            // hang: the old daemon blocked a pool thread per such client until its 90 s send timeout,
            // and this process's whole pool with it (so no task here could notice).
            let client = HTTPClient(endpoint: .unix(path: d.daemon.socketPath), timeoutMilliseconds: 60_000)
            let headers = d.authHeaders
            let reply = try await Blocking.run {
                try client.send(
                    method: "POST", path: "/v1/sandboxes/bpout/exec", headers: headers, body: Array(#"{"cmd":["echo","ok"]}"#.utf8))
            }
            #expect(reply.status == 200)
            #expect(reply.text.contains(#""stdout":"ok\n""#), "\(reply.text)")
        }
    }

    /// Opens a WebSocket at `path` on the daemon's unix socket by hand (so the test controls every
    /// read and write); returns the socket after the 101.
    static func rawWebSocket(_ d: TestDaemon, _ path: String) async throws -> FileDescriptor {
        let socket = try Socket.connect(unixPath: d.daemon.socketPath)
        let head =
            "GET \(path) HTTP/1.1\r\nHost: bhatti\r\nAuthorization: Bearer \(d.daemon.adminKey)\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        try socket.writeAll(Array(head.utf8))
        let answer = try await Blocking.run { () throws -> String in
            var bytes: [UInt8] = []
            while bytes.suffix(4) != Array("\r\n\r\n".utf8)[...] {
                let more = try socket.read(upTo: 1)
                if more.isEmpty { break }
                bytes += more
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard answer.hasPrefix("HTTP/1.1 101") else {
            socket.close()
            throw Failure("no upgrade: \(answer)")
        }
        return socket
    }

    static func sendText(_ socket: FileDescriptor, _ text: String) throws {
        try socket.writeAll(encodeFrame(opcode: .text, payload: Array(text.utf8), maskKey: randomMaskKey()))
    }

    /// Bytes waiting in `socket`'s receive queue.
    static func unread(_ socket: FileDescriptor) -> Int {
        var count: Int32 = 0
        _ = try? socket.withRawValue { ioctl($0, UInt(FIONREAD), &count) }
        return Int(count)
    }

    /// A shell script that prints `wchar: N` and the wait channel of the process named `name`; exit 3
    /// when there is none. Shell builtins only: a fork per process would make each probe take seconds
    /// in an emulated guest on a loaded host.
    static func probe(_ name: String) -> String {
        #"for p in /proc/[0-9]*; do read c 2>/dev/null < $p/comm || continue; if [ "$c" = "\#(name)" ]; then while read k v; do if [ "$k" = "wchar:" ]; then echo "wchar: $v"; fi; done < $p/io; read w < $p/wchan; echo "wchan: $w"; exit 0; fi; done; exit 3"#
    }

    static func wchar(_ probe: String) -> Int? {
        probe.split(separator: "\n").first { $0.hasPrefix("wchar:") }.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) }
    }

    static func wchan(_ probe: String) -> String? {
        probe.split(separator: "\n").first { $0.hasPrefix("wchan:") }.map { $0.dropFirst(6).trimmingCharacters(in: .whitespaces) }
    }
}

/// Opens once; waiters wait until it has.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}
