public import BhattiWire
import Foundation

/// What an attached session client sees, in the order the guest produced it.
public enum SessionEvent: Sendable, Equatable {
    /// Terminal (or merged stdout/stderr) bytes: first the scrollback replay, then live output.
    case output([UInt8])
    /// The process ended (its exit status, or 128 + its signal); the attachment is over.
    case exit(code: Int32)
    /// The attachment ended with the session still running: `reason` is nil after `detach()` and
    /// "taken over" when another client attached to the session.
    case detached(reason: String?)
}

/// One client attachment to a guest session: its output stream, and input, resize and detach.
///
/// Consume `output` to its end or call `close()`: until then the stream stays open on the connection.
public final class AgentSessionAttachment: Sendable {
    /// The session as it was when attached.
    public let info: SessionInfo
    /// Output, then one `.exit` or `.detached`, then the end; throws `AgentError.disconnected` when the
    /// channel drops. Credit is granted back as events are consumed, so a client that stops reading
    /// holds back only its own session's output.
    public let output: AsyncThrowingStream<SessionEvent, any Error>
    private let connection: AgentConnection
    private let stream: UInt32

    fileprivate init(info: SessionInfo, output: AsyncThrowingStream<SessionEvent, any Error>, connection: AgentConnection, stream: UInt32) {
        self.info = info
        self.output = output
        self.connection = connection
        self.stream = stream
    }

    /// Types `bytes` into the session (PTY input, or the piped process's stdin), within the guest's credit.
    /// For a piped session, an empty write closes stdin.
    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return try connection.send(Frame(stream: stream, type: .stdin)) }
        try await connection.sendMetered(stream, .stdin, bytes)
    }

    /// The input's sender is gone: writes go on while the guest's credit lasts, then throw instead of
    /// waiting for a program that does not read.
    public func stopWaitingForInputCredit() { connection.stopWaitingForCredit(stream) }

    /// Sets the terminal size (the session's foreground job gets SIGWINCH); ignored for piped sessions.
    public func resize(rows: UInt16, cols: UInt16) throws {
        try connection.send(Frame(stream: stream, type: .resize, payload: TerminalSize(rows: rows, cols: cols).payload))
    }

    /// Leaves the session running; `output` ends with `.detached(reason: nil)`. Output not yet sent is
    /// not delivered here (a reattach replays it from the scrollback).
    public func detach() throws {
        try connection.send(Frame(stream: stream, type: .detach))
    }

    /// Asks the session to end (SIGTERM to its process group); `output` ends with `.exit`.
    public func kill() throws {
        try connection.send(Frame(stream: stream, type: .kill))
    }

    /// Stops listening: detaches (the session keeps running) and ends `output` at once.
    public func close() {
        try? connection.send(Frame(stream: stream, type: .detach))
        connection.closeStream(stream)
    }
}

extension AgentConnection {
    /// Opens a session, or attaches to one (`sessionID`, or `reuseDetached`); returns once the guest
    /// has answered with the session's info.
    ///
    /// - Throws: `AgentError.remote` (`not_found` for an unknown id or command, `resource_exhausted`
    ///   past the session limit), `.disconnected` when the channel dropped.
    public func openSession(_ request: SessionRequest) async throws -> AgentSessionAttachment {
        if request.user != nil { try require(AgentCapability.commandUser, for: "run a session as another user") }
        // Cancelled or malformed: `detach` leaves the session running, as a client that goes away would.
        return try await withStream(.session, WireJSON.encode(request), stop: .detach, keepOpen: true) { id, frames in
            var iterator = frames.makeAsyncIterator()
            guard let first = try await iterator.next() else {
                try Task.checkCancellation()
                throw AgentError.disconnected
            }
            switch first.type {
            case .sessionInfo: break
            case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: first))
            default: throw AgentError.protocolError(.malformedPayload(first.type, "expected session info"))
            }
            let info = try WireJSON.decode(SessionInfo.self, from: first)
            // Each call takes the next frames off the stream with a fresh iterator (they share the
            // buffer), so no iterator state is shared between calls.
            let output = AsyncThrowingStream<SessionEvent, any Error> { [self] in
                try await nextSessionEvent(id, frames)
            }
            return AgentSessionAttachment(info: info, output: output, connection: self, stream: id)
        }
    }

    /// Every session in the guest, oldest first.
    public func listSessions() async throws -> [SessionInfo] {
        try await request(.sessionList, as: [SessionInfo].self)
    }

    /// Asks a session to end (SIGTERM to its process group). Throws `AgentError.remote` `not_found`
    /// for an unknown id.
    public func killSession(_ id: String) async throws {
        _ = try await request(.sessionKill, WireJSON.encode(SessionKillRequest(sessionID: id)), as: Empty.self)
    }

    /// The next event on session stream `id`; nil after the last.
    private func nextSessionEvent(_ id: UInt32, _ frames: AsyncThrowingStream<Frame, any Error>) async throws -> SessionEvent? {
        var iterator = frames.makeAsyncIterator()
        while true {
            // A lost channel throws; nil means the stream was closed here: after its last event, by
            // `close()`, or because the consuming task was cancelled.
            guard let frame = try await iterator.next() else {
                if Task.isCancelled {
                    try? send(Frame(stream: id, type: .detach))
                    closeStream(id)
                    throw CancellationError()
                }
                return nil
            }
            switch frame.type {
            case .stdout, .stderr:
                // Consumed now that the caller took it: the guest may send that much more.
                consumed(id, frame.payload.count)
                return .output(frame.payload)
            case .exit:
                closeStream(id)
                return .exit(code: try WireJSON.decode(ExitStatus.self, from: frame).code)
            case .result:
                closeStream(id)
                return .detached(reason: try WireJSON.decode(DetachReply.self, from: frame).reason)
            case .error:
                closeStream(id)
                throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
            default:
                continue
            }
        }
    }
}

/// The guest's reply that ends an attachment whose session runs on.
private struct DetachReply: Decodable {
    var detached: Bool
    var reason: String?
}
