import BhattiSystem
public import BhattiWire
import Foundation

/// One event of a running command, in the order the guest produced it.
public enum ExecEvent: Sendable, Equatable {
    case stdout([UInt8])
    case stderr([UInt8])
    /// The exit status, or 128 + the signal that ended it.
    case exit(code: Int32)
}

extension AgentConnection {
    /// Starts a detached command (its own session, output to a file); returns its pid and output file.
    public func execDetached(_ request: ExecRequest) async throws -> DetachedExec {
        if request.user != nil { try require(AgentCapability.commandUser, for: "run a command as another user") }
        var request = request
        request.detach = true
        return try await self.request(.exec, WireJSON.encode(request), as: DetachedExec.self)
    }

    /// What the thermal manager needs: last activity, running and attached sessions.
    /// `usage`: the memory and disk figures too, which the guest reads only when asked.
    public func activity(usage: Bool = false) async throws -> Activity {
        try await request(.activity, usage ? WireJSON.encode(ActivityRequest(usage: true)) : [], as: Activity.self)
    }

    /// Delivers the boot configuration (hostname, env, secrets, files, network, DNS, init, token).
    public func configure(_ config: GuestConfig) async throws {
        _ = try await request(.configure, WireJSON.encode(config), as: Empty.self)
    }

    /// Runs a piped exec. `stdin` (when given) is sent and then closed. Output events go to `onEvent`
    /// as they arrive; returns the exit status. Cancelling the task, or `timeout` passing, kills the
    /// process group. Output is credited back to the guest only once `onEvent` returns, so a consumer
    /// that waits (a client not reading) holds the command back at the stream's window.
    ///
    /// - Throws: `AgentError.remote` when the agent could not start the command (e.g. not found, an
    ///   unknown `user`), `.unsupported` for a `user` an older agent would ignore, `.timedOut` when
    ///   `timeout` passed first, `.disconnected` when the channel dropped, `CancellationError` when
    ///   cancelled.
    public func exec(
        _ request: ExecRequest, stdin: [UInt8]? = nil, timeout: Duration? = nil,
        onEvent: @Sendable (ExecEvent) async -> Void = { _ in }
    ) async throws -> ExitStatus {
        if request.user != nil { try require(AgentCapability.commandUser, for: "run a command as another user") }
        var request = request
        request.stdin = stdin != nil
        return try await withStream(.exec, request.fastJSON) { id, frames in
            // The deadline ends the stream itself rather than cancelling a task: no task to start or
            // join per exec, which a timeout as a child task cost on every call.
            let deadline = timeout.map { timeout in
                Deadlines.shared.after(timeout) { [self] in
                    // Not if the command has just ended: its stream is gone, and so is the process.
                    if failStream(id, AgentError.timedOut("the command (\(timeout))")) {
                        try? send(Frame(stream: id, type: .kill))
                    }
                }
            }
            defer { if let deadline { Deadlines.shared.cancel(deadline) } }
            // Stdin goes out within the guest's credit while output comes back, so a command that
            // writes before it reads cannot deadlock against us. The feeder is cancelled and waited
            // for however the command ends (its waits for credit end on cancellation).
            let feeder: Task<Void, Never>? = stdin.map { input in
                Task {
                    do {
                        try await sendMetered(id, .stdin, input)
                        try send(Frame(stream: id, type: .stdin, payload: []))
                    } catch {}
                }
            }
            do {
                let status = try await receiveExec(id, frames, onEvent: onEvent)
                feeder?.cancel()
                await feeder?.value
                return status
            } catch {
                feeder?.cancel()
                await feeder?.value
                throw error
            }
        }
    }

    /// An exec's output, passed on and credited back as consumed, until its exit status.
    private func receiveExec(
        _ id: UInt32, _ frames: AsyncThrowingStream<Frame, any Error>, onEvent: @Sendable (ExecEvent) async -> Void
    ) async throws -> ExitStatus {
        for try await frame in frames {
            switch frame.type {
            case .stdout:
                await onEvent(.stdout(frame.payload))
                consumed(id, frame.payload.count)
            case .stderr:
                await onEvent(.stderr(frame.payload))
                consumed(id, frame.payload.count)
            case .exit:
                let status = try WireJSON.decodeFast(frame, ExitStatus.init(fastJSON:))
                await onEvent(.exit(code: status.code))
                return status
            case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
            default: continue
            }
        }
        try Task.checkCancellation()
        throw AgentError.disconnected
    }

    /// One ping round trip with `payload`; returns the time it took.
    public func ping(_ payload: [UInt8] = []) async throws -> Duration {
        let start = ContinuousClock.now
        return try await withStream(.ping, payload) { _, frames in
            for try await frame in frames where frame.type == .pong { return ContinuousClock.now - start }
            throw AgentError.disconnected
        }
    }
}
