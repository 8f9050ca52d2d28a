import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Lohar
import Synchronization

/// The real agent handlers on one end of a socket pair, the real host client on the other.
struct AgentHarness {
    let connection: AgentConnection
    let hostEnd: FileDescriptor

    static func start(configure: (inout AgentConfiguration) -> Void = { _ in }) async throws -> AgentHarness {
        var config = AgentConfiguration.hostTest(path: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        configure(&config)
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: config)
        startThread(name: "test-agent") {
            agent.serve(connection: guest)
            guest.close()
        }
        let connection = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        return AgentHarness(connection: connection, hostEnd: host)
    }

    /// Runs argv and collects everything.
    func run(_ argv: [String], env: [String: String] = [:], cwd: String? = nil, stdin: [UInt8]? = nil) async throws -> (
        ExitStatus, String, String
    ) {
        let out = Collector()
        let status = try await connection.exec(ExecRequest(argv: argv, env: env, cwd: cwd), stdin: stdin) { event in
            out.add(event)
        }
        return (status, out.stdout, out.stderr)
    }
}

/// Thread-safe output collector for exec events.
final class Collector: Sendable {
    private let state = Locked<(out: [UInt8], err: [UInt8], order: [String])>((out: [], err: [], order: []))
    func add(_ event: ExecEvent) {
        state.with { s in
            switch event {
            case .stdout(let b):
                s.out += b
                s.order.append("out")
            case .stderr(let b):
                s.err += b
                s.order.append("err")
            case .exit: s.order.append("exit")
            }
        }
    }
    var stdout: String { state.with { String(decoding: $0.out, as: UTF8.self) } }
    var stderr: String { state.with { String(decoding: $0.err, as: UTF8.self) } }
    var stdoutBytes: [UInt8] { state.with { $0.out } }
}

final class Locked<T: Sendable>: Sendable {
    private let m: Mutex<T>
    init(_ v: T) { m = Mutex(v) }
    func with<R>(_ body: (inout T) -> R) -> R { m.withLock { body(&$0) } }
}
