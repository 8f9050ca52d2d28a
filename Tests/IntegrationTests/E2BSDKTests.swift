import BhattiCore
import BhattiDaemon
import BhattiSystem
import Foundation
import Testing

/// The official `e2b` Python SDK (scripts/e2b-venv.sh pins it) against a real daemon and real VMs:
/// tests/e2b, run with pytest, pointed at the daemon by the SDK's documented settings only.
@Suite("E2B SDK", .serialized)
struct E2BSDKTests {
    @Test("tests/e2b pass through the sync and async e2b SDK: sandboxes, commands, PTY, stdin, files, two users kept apart")
    func sdk() async throws {
        let root = FileManager.default.currentDirectoryPath
        let python = try await Blocking.run {
            try runTool("/bin/sh", [root + "/scripts/e2b-venv.sh"]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try await withDaemon(configure: {
            $0.listen = "127.0.0.1:0"
            // get_host(port) is served by the public proxy.
            $0.proxyListen = "127.0.0.1:0"
            // The suite makes a sandbox per test, sync and async, and hundreds of calls, on a clock
            // that stands still: no bucket would refill. Rate limits are E2BRateLimitTests' subject.
            $0.rateLimits.create = try! RateLimit(perMinute: 600, burst: 1000)
            $0.rateLimits.exec = try! RateLimit(perMinute: 600, burst: 10_000)
            $0.rateLimits.read = try! RateLimit(perMinute: 600, burst: 10_000)
        }) { d in
            let port = try #require(d.daemon.tcpPort)
            let ann = try await ImageTests.user(d, "ann")
            let bob = try await ImageTests.user(d, "bob")
            // The user's way: `eval "$(bhatti e2b env)"`, then the program; only OTHER_API_KEY is the test's.
            let script = """
                lines=$("$BHATTI" --url "unix://$SOCKET" --token "$KEY" e2b env --api-url "http://127.0.0.1:$PORT") || exit 9
                eval "$lines"
                exec "$PYTHON" -m pytest -q -p no:cacheprovider "$SUITE"
                """
            let environment = [
                "BHATTI": CLITests.binary, "SOCKET": d.daemon.socketPath, "KEY": ann.key, "PORT": String(port), "PYTHON": python,
                "SUITE": root + "/tests/e2b", "OTHER_API_KEY": bob.key, "PATH": "/usr/bin:/bin", "HOME": "/tmp",
            ]
            let (status, output) = try await Blocking.run { () throws -> (Int32, String) in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-c", script]
                p.environment = environment
                let out = Pipe()
                p.standardOutput = out
                p.standardError = out
                try p.run()
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                return (p.terminationStatus, String(decoding: data, as: UTF8.self))
            }
            #expect(status == 0, "pytest tests/e2b:\n\(output)")
            // Every test in the suite's files ran and passed: none skipped or left uncollected.
            let files = try FileManager.default.contentsOfDirectory(atPath: root + "/tests/e2b").filter {
                $0.hasPrefix("test_") && $0.hasSuffix(".py")
            }
            let count = try files.reduce(0) { total, file in
                let source = try String(contentsOfFile: root + "/tests/e2b/" + file, encoding: .utf8)
                return total + source.components(separatedBy: "\ndef test_").count - 1
            }
            #expect(output.contains("\(count) passed") && !output.contains("skipped"), "\(output)")
        }
    }
}
