import BhattiWire
import Foundation

/// One event of a running command, in the order the guest produced it.
public enum ExecEvent: Sendable, Equatable {
    case stdout([UInt8])
    case stderr([UInt8])
    case exit(ExitStatus)
}

extension AgentConnection {
    /// Runs a piped exec. `stdin` (when given) is sent and then closed. Output events go to `onEvent`
    /// as they arrive; returns the exit status. Cancelling the task kills the process group.
    ///
    /// - Throws: `AgentError.remote` when the agent could not start the command (e.g. not found),
    ///   `.disconnected` when the channel dropped, `CancellationError` when cancelled.
    public func exec(
        _ request: ExecRequest, stdin: [UInt8]? = nil, onEvent: @Sendable (ExecEvent) -> Void = { _ in }
    ) async throws -> ExitStatus {
        var request = request
        request.stdin = stdin != nil
        let (id, frames) = try openStream()
        defer { closeStream(id) }
        try send(Frame(stream: id, type: .exec, payload: WireJSON.encode(request)))
        if let stdin {
            var offset = 0
            while offset < stdin.count {
                let end = min(offset + 64 * 1024, stdin.count)
                try send(Frame(stream: id, type: .stdin, payload: Array(stdin[offset..<end])))
                offset = end
            }
            try send(Frame(stream: id, type: .stdin, payload: []))
        }
        return try await withTaskCancellationHandler {
            for try await frame in frames {
                switch frame.type {
                case .stdout: onEvent(.stdout(frame.payload))
                case .stderr: onEvent(.stderr(frame.payload))
                case .exit:
                    let status = try WireJSON.decode(ExitStatus.self, from: frame)
                    onEvent(.exit(status))
                    return status
                case .error: throw AgentError.remote(try WireJSON.decode(WireErrorMessage.self, from: frame))
                default: continue
                }
            }
            try Task.checkCancellation()
            throw AgentError.disconnected
        } onCancel: {
            try? send(Frame(stream: id, type: .kill))
            closeStream(id)
        }
    }

    /// One ping round trip with `payload`; returns the time it took.
    public func ping(_ payload: [UInt8] = []) async throws -> Duration {
        let (id, frames) = try openStream()
        defer { closeStream(id) }
        let start = ContinuousClock.now
        try send(Frame(stream: id, type: .ping, payload: payload))
        for try await frame in frames where frame.type == .pong { return ContinuousClock.now - start }
        throw AgentError.disconnected
    }
}
