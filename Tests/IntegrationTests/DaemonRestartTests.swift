import BhattiAPI
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// The real `bhatti serve` process killed with SIGKILL and started again on the same data directory.
@Suite("Daemon restart", .serialized, .timeLimit(.minutes(5)))
struct DaemonRestartTests {
    static func serve(_ data: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["serve", "--data-dir", data, "--image-dir", TestDaemon.imageDirectory, "--listen", ""]
        // Its own HOME: a first start writes ~/.bhatti/config.json there, not in anyone's real home.
        p.environment = ["HOME": data + "/home", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"]
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        return p
    }

    static func waitForSocket(_ path: String) async throws {
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(25)) }
    }

    @Test("after SIGKILL the next daemon finds every sandbox, marks it, and leaves no QEMU behind")
    func sigkillRestart() async throws {
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
        let qemu = qemuProcesses(mentioning: data)
        #expect(qemu.count == 1)

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        // The VM outlives its daemon (it runs in its own session)…
        #expect(qemuProcesses(mentioning: data) == qemu)

        let second = try Self.serve(data)
        defer { second.terminate(); second.waitUntilExit() }
        try await Task.sleep(for: .milliseconds(200))
        try await Self.waitForSocket(data + "/api.sock")
        var listed: [SandboxDTO] = []
        for _ in 0..<100 where listed.isEmpty {
            if let r = try? await Blocking.run({ try client.send(method: "GET", path: "/v1/sandboxes", headers: headers) }), r.status == 200 {
                listed = (try? JSONDecoder().decode([SandboxDTO].self, from: Data(r.body))) ?? []
            }
            if listed.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        // …and the next daemon finds the sandbox (same key, same record), says why it is not running,
        // and stops the QEMU it cannot adopt yet.
        #expect(listed.map(\.name) == ["survivor"])
        #expect(listed.first?.state == "error")
        #expect(listed.first?.stateReason?.contains("restarted") == true)
        for _ in 0..<40 where !qemuProcesses(mentioning: data).isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        #expect(qemuProcesses(mentioning: data).isEmpty)
        let gone = try await Blocking.run { try client.send(method: "DELETE", path: "/v1/sandboxes/survivor", headers: headers) }
        #expect(gone.status == 200)
    }
}
