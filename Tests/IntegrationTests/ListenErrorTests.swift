import BhattiDaemon
import BhattiSystem
import Foundation
import Testing

/// A daemon that cannot open a listener says which address, what it was for, and the setting that
/// moves it: "Address already in use" alone leaves an operator guessing which of three.
@Suite("Listen errors", .timeLimit(.minutes(10)))
struct ListenErrorTests {
    /// A port this test holds open, so a daemon asking for it finds it taken.
    final class TakenPort {
        let fd: FileDescriptor
        let port: Int

        init() throws {
            fd = try Socket.listen(host: "127.0.0.1", port: 0)
            port = try Socket.localPort(of: fd)
        }

        deinit { fd.close() }
    }

    /// What `Daemon.start` throws for `configure`, in words; nil when it started (then stopped at once).
    private func startFailure(
        _ configure: @escaping (inout DaemonConfiguration) -> Void, data: String? = nil, socketLeft: Bool = false
    ) async throws -> String? {
        let data = data ?? "/tmp/bhl-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        do {
            let d = try await TestDaemon.start(dataDirectory: data, configure: configure)
            await d.stop()
            return nil
        } catch let error as ListenError {
            if !socketLeft {
                #expect(!FileManager.default.fileExists(atPath: data + "/api.sock"), "a daemon that failed to start left its socket")
            }
            return String(describing: error)
        }
    }

    @Test("a taken API port names the address, the API over TCP, --listen and \"listen\"")
    func apiPort() async throws {
        let taken = try TakenPort()
        let message = try #require(try await startFailure { $0.listen = "127.0.0.1:\(taken.port)" })
        #expect(message.contains("127.0.0.1:\(taken.port)"), "\(message)")
        #expect(message.contains("the API over TCP"), "\(message)")
        #expect(message.contains("--listen HOST:PORT") && message.contains(#""listen" in the config file"#), "\(message)")
        #expect(message.contains(String(describing: Errno(rawValue: EADDRINUSE))), "\(message)")
    }

    @Test("a taken preview port names the address, the public preview proxy, --proxy-listen and \"proxy_listen\"")
    func proxyPort() async throws {
        let taken = try TakenPort()
        let message = try #require(try await startFailure { $0.proxyListen = "127.0.0.1:\(taken.port)" })
        #expect(message.contains("127.0.0.1:\(taken.port)"), "\(message)")
        #expect(message.contains("the public preview proxy"), "\(message)")
        #expect(message.contains("--proxy-listen HOST:PORT") && message.contains(#""proxy_listen" in the config file"#), "\(message)")
    }

    @Test("a socket path that is taken names the path, the API's unix socket, --data-dir and \"data_dir\"")
    func apiSocket() async throws {
        // A directory where the socket goes: it cannot be replaced, so the address is in use.
        let data = "/tmp/bhl-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: data + "/api.sock/taken", withIntermediateDirectories: true)
        let message = try #require(try await startFailure({ _ in }, data: data, socketLeft: true))
        #expect(message.contains(data + "/api.sock"), "\(message)")
        #expect(message.contains("the API's unix socket"), "\(message)")
        #expect(message.contains("--data-dir DIR") && message.contains(#""data_dir" in the config file"#), "\(message)")
    }

    @Test("`bhatti serve` on a host whose preview port is taken exits with that message, not a bare errno")
    func serveCommand() async throws {
        let taken = try TakenPort()
        let data = "/tmp/bhl-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(#"{"templates": false, "network": false}"#.utf8).write(to: URL(fileURLWithPath: data + "/serve.json"))
        let args = [
            "serve", "--config", data + "/serve.json", "--data-dir", data, "--image-dir", TestDaemon.imageDirectory,
            "--listen", "", "--proxy-listen", "127.0.0.1:\(taken.port)",
        ]
        let (status, stderr) = try await Blocking.run { () -> (Int32, String) in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = args
            // Its own HOME: a first start writes ~/.bhatti/config.json there, not in anyone's real home.
            p.environment = ["HOME": data + "/home", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: e, as: UTF8.self))
        }
        #expect(status != 0)
        let line = stderr.split(separator: "\n").last { $0.hasPrefix("error: ") }.map(String.init) ?? stderr
        #expect(line.contains("cannot listen on 127.0.0.1:\(taken.port) for the public preview proxy"), "\(stderr)")
        #expect(line.contains("--proxy-listen") && line.contains("proxy_listen"), "\(stderr)")
    }
}
