import BhattiAPI
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// The real `bhatti serve` process killed with SIGKILL and started again on the same data directory.
@Suite("Daemon restart", .serialized, .timeLimit(.minutes(10)))
struct DaemonRestartTests {
    static func serve(_ data: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        // No background template boots: the test counts this daemon's QEMUs.
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(#"{"templates": false, "network": false, "proxy_listen": ""}"#.utf8).write(to: URL(fileURLWithPath: data + "/serve.json"))
        p.arguments = [
            "serve", "--config", data + "/serve.json", "--data-dir", data, "--image-dir", TestDaemon.imageDirectory, "--listen", "",
        ]
        // Its own HOME: a first start writes ~/.bhatti/config.json there, not in anyone's real home.
        p.environment = ["HOME": data + "/home", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"]
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        return p
    }

    /// Waits until a daemon accepts connections on `path` (a killed daemon's socket file refuses them);
    /// the deadline only turns a daemon that never starts into a failure.
    static func waitForSocket(_ path: String) async throws {
        let giveUp = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < giveUp {
            if let fd = try? Socket.connect(unixPath: path) {
                fd.close()
                return
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw Failure("no daemon answered on \(path)")
    }

    /// Execs `cmd` through the API; the reply's stdout, or nil on any failure.
    static func exec(_ client: HTTPClient, _ headers: HTTPHeaders, _ sandbox: String, _ cmd: [String]) async throws -> String? {
        let body = try JSONEncoder().encode(ExecRequestDTO(cmd: cmd, timeoutSec: 120))
        let r = try await Blocking.run {
            try client.send(method: "POST", path: "/v1/sandboxes/\(sandbox)/exec", headers: headers, body: Array(body))
        }
        guard r.status == 200 else { return nil }
        return try JSONDecoder().decode(ExecResultDTO.self, from: Data(r.body)).stdout
    }

    static func list(_ client: HTTPClient, _ headers: HTTPHeaders) async throws -> [SandboxDTO] {
        let giveUp = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < giveUp {
            if let r = try? await Blocking.run({ try client.send(method: "GET", path: "/v1/sandboxes", headers: headers) }), r.status == 200
            {
                return try JSONDecoder().decode([SandboxDTO].self, from: Data(r.body))
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure("the daemon did not answer")
    }

    @Test("SIGKILL: the next daemon adopts the running VM; SIGTERM: every sandbox goes cold and comes back with its memory")
    func restarts() async throws {
        let data = "/tmp/bhr-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try Self.serve(data)
        try await Self.waitForSocket(data + "/api.sock")
        let key = try String(contentsOfFile: data + "/admin.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = HTTPClient(endpoint: .unix(path: data + "/api.sock"))
        let headers: HTTPHeaders = ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
        let created = try await Blocking.run {
            try client.send(method: "POST", path: "/v1/sandboxes", headers: headers, body: Array("{\"name\":\"survivor\"}".utf8))
        }
        #expect(created.status == 201, "\(created.text)")
        // Memory-only state: a tmpfs file and a process that keeps counting.
        _ = try await Self.exec(
            client, headers, "survivor",
            [
                "sh", "-c",
                "echo ram > /dev/shm/marker; (i=0; while true; do i=$((i+1)); echo $i > /dev/shm/c.new; mv /dev/shm/c.new /dev/shm/c; sleep 0.1; done) >/dev/null 2>&1 &",
            ])
        let qemu = qemuProcesses(mentioning: data)
        #expect(qemu.count == 1)

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        // The VM outlives its daemon (it runs in its own session)…
        #expect(qemuProcesses(mentioning: data) == qemu)

        // …and the next daemon adopts it: same QEMU, same memory, answering.
        let second = try Self.serve(data)
        try await Self.waitForSocket(data + "/api.sock")
        let listed = try await Self.list(client, headers)
        #expect(listed.map(\.name) == ["survivor"])
        #expect(listed.first?.state == "hot", "\(listed.first?.stateReason ?? "")")
        #expect(qemuProcesses(mentioning: data) == qemu)
        #expect(try await Self.exec(client, headers, "survivor", ["cat", "/dev/shm/marker"]) == "ram\n")
        let before = Int(try await Self.exec(client, headers, "survivor", ["cat", "/dev/shm/c"])?.filter(\.isNumber) ?? "") ?? -1

        // SIGTERM: the sandbox is snapshotted to disk and its QEMU ends with the daemon.
        second.terminate()
        second.waitUntilExit()
        #expect(qemuProcesses(mentioning: data).isEmpty)
        let third = try Self.serve(data)
        defer {
            third.terminate()
            third.waitUntilExit()
        }
        try await Self.waitForSocket(data + "/api.sock")
        let again = try await Self.list(client, headers)
        #expect(again.first?.state == "cold", "\(again.first?.stateReason ?? "")")
        // Any guest route wakes it, with its memory as it was.
        #expect(try await Self.exec(client, headers, "survivor", ["cat", "/dev/shm/marker"]) == "ram\n")
        let after = Int(try await Self.exec(client, headers, "survivor", ["cat", "/dev/shm/c"])?.filter(\.isNumber) ?? "") ?? -1
        #expect(after >= before, "the counter went back from \(before) to \(after)")
        #expect(try await Self.list(client, headers).first?.state == "hot")
        let gone = try await Blocking.run { try client.send(method: "DELETE", path: "/v1/sandboxes/survivor", headers: headers) }
        #expect(gone.status == 200)
        #expect(qemuProcesses(mentioning: data).isEmpty)
    }

    @Test("a paused VM is adopted and resumed after SIGKILL; a keep_hot sandbox is woken by the next start after SIGTERM")
    func pausedAndKeptHot() async throws {
        let data = "/tmp/bhr-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try Self.serve(data)
        try await Self.waitForSocket(data + "/api.sock")
        let key = try String(contentsOfFile: data + "/admin.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = HTTPClient(endpoint: .unix(path: data + "/api.sock"))
        let headers: HTTPHeaders = ["Authorization": "Bearer \(key)", "Content-Type": "application/json"]
        func send(_ method: String, _ path: String, _ body: String = "") async throws -> HTTPClientResponse {
            try await Blocking.run { try client.send(method: method, path: path, headers: headers, body: Array(body.utf8)) }
        }
        #expect(try await send("POST", "/v1/sandboxes", #"{"name":"pinned","keep_hot":true}"#).status == 201)
        _ = try await Self.exec(client, headers, "pinned", ["sh", "-c", "echo kept > /dev/shm/k"])
        #expect(try await send("POST", "/v1/sandboxes/pinned/pause").status == 200)
        let qemu = qemuProcesses(mentioning: data)

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        // The next daemon finds the QEMU paused, adopts it and lets it run.
        let second = try Self.serve(data)
        try await Self.waitForSocket(data + "/api.sock")
        let adopted = try await Self.list(client, headers)
        #expect(adopted.first?.state == "hot", "\(adopted.first?.stateReason ?? "")")
        #expect(qemuProcesses(mentioning: data) == qemu)
        #expect(try await Self.exec(client, headers, "pinned", ["cat", "/dev/shm/k"]) == "kept\n")

        // SIGTERM puts it on disk; keep_hot brings it back as soon as the next daemon starts.
        second.terminate()
        second.waitUntilExit()
        #expect(qemuProcesses(mentioning: data).isEmpty)
        let third = try Self.serve(data)
        defer {
            third.terminate()
            third.waitUntilExit()
        }
        try await Self.waitForSocket(data + "/api.sock")
        var state = ""
        let giveUp = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < giveUp {
            state = try await Self.list(client, headers).first?.state ?? ""
            if state == "hot" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == "hot")
        #expect(!qemuProcesses(mentioning: data).isEmpty)
        #expect(try await Self.exec(client, headers, "pinned", ["cat", "/dev/shm/k"]) == "kept\n")
        #expect(try await send("DELETE", "/v1/sandboxes/pinned").status == 200)
    }
}
