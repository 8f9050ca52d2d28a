import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation

/// envd's `process.Process`. A command without stdin runs as a native exec (stdout and stderr
/// apart); one with a PTY or stdin runs as a guest session, which takes input, resizes and (for a
/// pipe) merges stderr into stdout, as a session does on the native API.
extension E2BEnvd {
    /// `Start` as a server stream: one request envelope in; start, data and end events out, then the
    /// end of the stream.
    /// `user`: the guest user to run as; nil is the sandbox's own.
    func start(_ request: HTTPRequest, _ record: SandboxRecord, user: String?) async -> HTTPResponse {
        if let refusal = Self.refusingUnary(request, "Start") { return refusal }
        let message: EnvdProcess.StartRequest
        do { message = try Self.onlyMessage(EnvdProcess.StartRequest.self, of: request) } catch { return Self.stream(error: error) }
        guard let process = message.process, !process.cmd.isEmpty else {
            return Self.stream(error: ConnectError(.invalidArgument, "process.cmd is required"))
        }
        let timeout: Duration
        do {
            let ms = try ConnectRequestHead.timeoutMilliseconds(request.headers["Connect-Timeout-Ms"])
            timeout = .milliseconds(Int64(ms ?? 86_400_000))
        } catch {
            return Self.stream(error: error)
        }
        let ref = SandboxRef(record.id.rawValue, owner: record.userID ?? "")
        let (service, processes) = (self.service, self.processes)
        let info = EnvdProcess.ProcessInfo(config: process, pid: 0, tag: message.tag)
        let run:
            @Sendable (UInt32, @escaping @Sendable (EnvdProcess.ProcessEvent.Event) async -> Void) async ->
                EnvdProcess.ProcessEvent.EndEvent
        let takesInput = message.pty != nil || message.stdinEnabled
        if takesInput {
            let session = Self.sessionRequest(process, pty: message.pty, user: user)
            run = { pid, publish in
                await Self.runSession(
                    session, pid: pid, in: ref, timeout: timeout, service: service, processes: processes, publish: publish)
            }
        } else {
            let command = GuestCommand(argv: [process.cmd] + process.args, env: process.envs, cwd: process.cwd, user: user)
            run = { pid, publish in await Self.runExec(command, pid: pid, in: ref, timeout: timeout, service: service, publish: publish) }
        }
        // The command starts before the answer's head is out, so a short command's whole answer is
        // often ready to go with it. The process table owns the command and ends this stream when it
        // ends; a client that goes away leaves the command running.
        let output = ResponseStream()
        guard await processes.start(sandbox: record.id.rawValue, info: info, takesInput: takesInput, output: output, run: run) != nil
        else {
            return Self.stream(error: ConnectError(.unavailable, "the daemon is stopping"))
        }
        var response = HTTPResponse(status: 200, body: .stream(output))
        response.headers.set("Content-Type", ConnectContentType.streamingJSON)
        return response
    }

    /// `Connect`: the running process's events from now on, until it ends.
    func connect(_ request: HTTPRequest, _ record: SandboxRecord) -> HTTPResponse {
        if let refusal = Self.refusingUnary(request, "Connect") { return refusal }
        let selector: EnvdProcess.ProcessSelector.Selector?
        do { selector = try Self.onlyMessage(EnvdProcess.ConnectRequest.self, of: request).process?.selector } catch {
            return Self.stream(error: error)
        }
        let processes = self.processes
        let output = ResponseStream { output in
            guard let attached = await processes.attach(sandbox: record.id.rawValue, selector, output: output) else {
                _ = await output.send(ConnectEndStream(error: ConnectError(.notFound, "no such process")).envelope().encoded())
                return
            }
            _ = await output.send(ConnectEnvelope(message: EnvdProcess.ConnectResponse(.start(.init(pid: attached.pid)))).encoded())
            // Until the process ends, which closes this stream too.
            for await _ in attached.done {}
        }
        var response = HTTPResponse(status: 200, body: .stream(output))
        response.headers.set("Content-Type", ConnectContentType.streamingJSON)
        return response
    }

    /// `SendInput`: bytes to a stdin pipe or a PTY, within the guest's credit. An empty message is
    /// nothing (an empty write would close a pipe).
    func sendInput(_ body: [UInt8], _ record: SandboxRecord) async throws -> [UInt8] {
        let message = try EnvdProcess.SendInputRequest(protoJSON: body)
        let (session, _) = try await processes.session(sandbox: record.id.rawValue, message.process?.selector)
        let bytes: [UInt8] =
            switch message.input?.input {
            case .stdin(let bytes), .pty(let bytes): bytes
            case nil: []
            }
        if !bytes.isEmpty { try await session.write(bytes) }
        return EnvdProcess.SendInputResponse().protoJSON()
    }

    /// `CloseStdin`: end of file on a stdin pipe (a PTY has none to close).
    func closeStdin(_ body: [UInt8], _ record: SandboxRecord) async throws -> [UInt8] {
        let message = try EnvdProcess.CloseStdinRequest(protoJSON: body)
        let (session, pty) = try await processes.session(sandbox: record.id.rawValue, message.process?.selector)
        guard !pty else { throw ConnectError(.failedPrecondition, "a PTY process has no stdin pipe to close: send Ctrl-D") }
        try await session.write([])
        return EnvdProcess.CloseStdinResponse().protoJSON()
    }

    /// `Update`: a PTY's new size.
    func update(_ body: [UInt8], _ record: SandboxRecord) async throws -> [UInt8] {
        let message = try EnvdProcess.UpdateRequest(protoJSON: body)
        let (session, pty) = try await processes.session(sandbox: record.id.rawValue, message.process?.selector)
        guard pty, let size = message.pty?.size else { throw ConnectError(.failedPrecondition, "only a PTY process has a size") }
        guard (1...1000).contains(size.rows), (1...1000).contains(size.cols) else {
            throw ConnectError(.invalidArgument, "rows and cols must be between 1 and 1000")
        }
        try session.resize(rows: UInt16(size.rows), cols: UInt16(size.cols))
        return EnvdProcess.UpdateResponse().protoJSON()
    }

    /// A session for `process`.
    static func sessionRequest(_ process: EnvdProcess.ProcessConfig, pty: EnvdProcess.PTY?, user: String?) -> GuestSessionRequest {
        let rows = pty?.size.map { UInt16(clamping: max(1, $0.rows)) } ?? 24
        let cols = pty?.size.map { UInt16(clamping: max(1, $0.cols)) } ?? 80
        return GuestSessionRequest(
            argv: [process.cmd] + process.args, tty: pty != nil, rows: pty == nil ? nil : rows, cols: pty == nil ? nil : cols,
            env: process.envs, sessionID: nil, reuseDetached: false, user: user, cwd: process.cwd.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// A command without input, to its end: its output as data events, then its end event.
    static func runExec(
        _ command: GuestCommand, pid: UInt32, in ref: SandboxRef, timeout: Duration, service: SandboxService,
        publish: @escaping @Sendable (EnvdProcess.ProcessEvent.Event) async -> Void
    ) async -> EnvdProcess.ProcessEvent.EndEvent {
        await publish(.start(.init(pid: pid)))
        do {
            let outcome = try await service.exec(ref, command: command, stdin: nil, timeout: timeout) { event in
                switch event {
                case .stdout(let bytes): await publish(.data(.init(.stdout(bytes))))
                case .stderr(let bytes): await publish(.data(.init(.stderr(bytes))))
                case .exit: break
                }
            }
            return .init(exitCode: outcome.exitCode, exited: true, status: "exit status \(outcome.exitCode)")
        } catch {
            return failed(error)
        }
    }

    /// A session to its end, the sandbox held hot meanwhile: its output as data events (`pty` or
    /// `stdout`), then its exit. `timeout` passing, or the task's cancellation, ends the session.
    static func runSession(
        _ request: GuestSessionRequest, pid: UInt32, in ref: SandboxRef, timeout: Duration, service: SandboxService,
        processes: E2BProcesses,
        publish: @escaping @Sendable (EnvdProcess.ProcessEvent.Event) async -> Void
    ) async -> EnvdProcess.ProcessEvent.EndEvent {
        let record: SandboxRecord
        let session: any GuestSession
        do { (record, session) = try await service.holding(ref) { try await $0.openSession(request) } } catch {
            // The client learns of the failure as it would of any process: started, then ended.
            await publish(.start(.init(pid: pid)))
            return failed(error)
        }
        await processes.attachSession(session, pty: request.tty, to: pid)
        // Only now: a client that has the pid can send input at once.
        await publish(.start(.init(pid: pid)))
        let code: Int32? = await withTaskCancellationHandler {
            await withTaskGroup(of: Int32?.self) { group in
                group.addTask {
                    var code: Int32?
                    do {
                        for try await event in session.output {
                            switch event {
                            case .output(let bytes): await publish(.data(.init(request.tty ? .pty(bytes) : .stdout(bytes))))
                            case .exit(let status): code = status
                            case .detached: break
                            }
                        }
                    } catch {}
                    return code
                }
                group.addTask {
                    // The timeout ends the session; its exit then ends the output above, which
                    // ends this wait.
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return nil }
                    try? session.kill()
                    try? await Task.sleep(for: .seconds(366 * 86_400))
                    return nil
                }
                let code = await group.next() ?? nil
                group.cancelAll()
                return code
            }
        } onCancel: {
            try? session.kill()
        }
        session.close()
        await service.release(record.id)
        guard let code else { return .init(exitCode: -1, exited: false, status: "signal: killed") }
        return .init(exitCode: code, exited: true, status: "exit status \(code)")
    }

    /// The end event of a process that could not run to its end.
    static func failed(_ error: any Error) -> EnvdProcess.ProcessEvent.EndEvent {
        if error is CancellationError || Task.isCancelled { return .init(exitCode: -1, exited: false, status: "signal: killed") }
        let message = (error as? BhattiError)?.message ?? (error as? GuestError)?.message ?? "internal error"
        return .init(exitCode: -1, exited: false, status: "error", error: message)
    }
}
