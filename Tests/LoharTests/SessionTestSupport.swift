import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Lohar

/// One agent serving any number of host connections, as in the VM (sessions outlive a connection).
final class SharedAgent: Sendable {
    let agent: Agent

    init(configure: (inout AgentConfiguration) -> Void = { _ in }) {
        // A session's stdin writer may hit a pipe whose reader has exited; lohar ignores SIGPIPE too.
        Signals.ignoreBrokenPipe()
        var configuration = AgentConfiguration.hostTest(path: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        // An exited session outlives any stall of a loaded machine before a test's reattach (the 30 s
        // default ran out once in CI); the test of the keep time sets its own.
        configuration.keepExitedSessionSeconds = 3600
        configure(&configuration)
        agent = Agent(configuration: configuration)
    }

    /// A new host connection served on its own thread by the same agent.
    func connect() async throws -> AgentConnection {
        let (host, guest) = try Pipe.socketPair()
        startThread(name: "test-agent") { [agent] in
            agent.serve(connection: guest)
            guest.close()
        }
        return try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
    }
}

/// Collects an attachment's events on a task of its own; the waits poll with deadlines.
final class Transcript: Sendable {
    private let state = Locked<(bytes: [UInt8], end: SessionEvent?, done: Bool)>((bytes: [], end: nil, done: false))

    init(_ attachment: AgentSessionAttachment) {
        Task { [state] in
            do {
                for try await event in attachment.output {
                    state.with { s in
                        if case .output(let b) = event { s.bytes += b } else { s.end = event }
                    }
                }
            } catch {}
            state.with { $0.done = true }
        }
    }

    var bytes: [UInt8] { state.with { $0.bytes } }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    func waitFor(_ needle: String, timeout: Duration = .seconds(60)) async -> Bool {
        await eventually(timeout: timeout) { self.text.contains(needle) }
    }

    func waitForBytes(_ count: Int) async -> Bool { await eventually { self.bytes.count >= count } }

    /// The `.exit` or `.detached` that ended the output (nil if it ended otherwise or not in time).
    func waitForEnd(timeout: Duration = .seconds(60)) async -> SessionEvent? {
        _ = await eventually(timeout: timeout) { self.state.with { $0.done } }
        return state.with { $0.end }
    }
}

extension SessionEvent? {
    var isExit: Bool { if case .exit = self { true } else { false } }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes (by default a deadline that only
/// turns a hang into a failure).
func eventually(timeout: Duration = .seconds(300), _ condition: () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return (try? await condition()) == true
}

/// The lines of `bytes` that are surely whole: the first (the replay may start mid-line) and the last
/// (unfinished) are dropped, and a terminal's `\r` is trimmed.
func completeLines(_ bytes: [UInt8]) -> [String] {
    // Split on bytes: as a String, a terminal's "\r\n" is one Character and never equals "\n".
    let lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
    return lines.dropFirst().dropLast().map { String(decoding: $0.last == 13 ? $0.dropLast() : $0, as: UTF8.self) }
}

/// The code of an `AgentError.remote`, if that is what `error` is.
func remoteCode(_ error: any Error) -> WireErrorCode? {
    if case AgentError.remote(let m) = error { return m.code }
    return nil
}
