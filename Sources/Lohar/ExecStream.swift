import BhattiJSON
import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// One piped exec: the process, its pipes, and the frames that report on it.
///
/// Threads: one per output pipe (each chunk becomes a frame, within the stream's credit), one
/// feeding stdin, and the child waiter's callback. The exit frame goes out only after both output
/// pipes reached EOF and the process was reaped, so no output can follow it.
final class ExecStream: GuestStream {
    let window: SendWindow
    private let context: StreamContext
    private let request: ExecRequest
    private let state: AgentState
    private struct Run {
        var pid: Int32 = 0
        var stdin: ByteQueue?
        var openPipes = 2
        var termination: Termination?
        var sent = false

        /// The termination to report, once: after both pipes closed and the process was reaped.
        mutating func takeIfReady() -> Termination? {
            guard openPipes == 0, let termination, !sent else { return nil }
            sent = true
            return termination
        }
    }
    private let run = Mutex(Run())
    init(request: ExecRequest, context: StreamContext, state: AgentState) {
        self.request = request
        self.context = context
        self.state = state
        window = context.window
    }

    func start() {
        guard let program = request.argv.first, !program.isEmpty else {
            return context.fail(.badRequest, "exec needs a command (argv is empty)")
        }
        let user: CommandUser
        do { user = try state.commandUser(request.user) } catch { return context.fail(error.code, error.message) }
        let env = state.environment(overriding: request.env, for: user)
        guard let path = resolveExecutable(program, searchPath: env["PATH"] ?? "") else {
            return context.fail(.notFound, "\(program): command not found")
        }
        let cwd = request.cwd ?? state.workingDirectory
        // The guest's share of an exec is measured from the frame's arrival (request decoding included).
        let started = context.openedAt
        do {
            let out = try Pipe.make()
            let err = try Pipe.make()
            let input = request.stdin ? try Pipe.make() : nil
            var spawn = Spawn(
                path: path, arguments: request.argv, environment: env.map { "\($0.key)=\($0.value)" }.sorted(), workingDirectory: cwd)
            spawn.standardInput = input?.read.rawValue ?? -1
            spawn.standardOutput = out.write.rawValue
            spawn.standardError = err.write.rawValue
            spawn.user = user.spawnUser
            // Its own process group, so a kill reaches everything it started.
            spawn.newProcessGroup = true
            let pid = try spawn.run()
            // The child holds its copies; ours must close or the readers never see EOF.
            out.write.close()
            err.write.close()
            input?.read.close()
            let queue = input.map { ByteQueue(fd: $0.write, credit: context.received) }
            run.withLock { r in
                r.pid = pid
                r.stdin = queue
            }
            state.execStarted()
            let finish: @Sendable (Termination) -> Void = { [context, state] termination in
                if state.base.syncBeforeExit { sync() }
                let status = ExitStatus(
                    code: termination.exitCode, signal: { if case .signaled(let s) = termination { s } else { nil } }(),
                    guestMicroseconds: monotonicMicroseconds() - started)
                state.execEnded()
                context.send(.exit, status.fastJSON)
                context.finished()
            }
            pump(out.read, as: .stdout, finish: finish)
            pump(err.read, as: .stderr, finish: finish)
            state.waiter.onExit(of: pid) { [self] t in record(termination: t, finish: finish) }
        } catch {
            let code: WireErrorCode =
                switch error.rawValue {
                case ENOENT, ENOTDIR: .notFound
                case EACCES, EPERM: .permissionDenied
                default: .internal
                }
            context.fail(code, "cannot start \(program) in \(cwd): \(error)")
        }
    }

    func receive(_ frame: Frame) {
        switch frame.type {
        case .stdin: run.withLock { $0.stdin }?.push(frame.payload)
        case .kill, .error: kill()
        default: break
        }
    }

    /// Nobody is left to read the output: a piped exec dies with its host connection.
    func connectionClosed() { kill() }

    /// SIGKILL to the whole process group.
    private func kill() {
        let pid = run.withLock { $0.pid }
        if pid > 0 { _ = Glibc.kill(-pid, SIGKILL) }
    }

    private func pump(_ fd: FileDescriptor, as type: FrameType, finish: @escaping @Sendable (Termination) -> Void) {
        startThread(name: "lohar-pump") { [self] in
            let size = 64 * 1024
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { buffer.deallocate() }
            var hostGone = false
            while true {
                // Wait for credit before reading: an unread pipe is what slows the process down.
                let allowed = hostGone ? size : window.take(upTo: size)
                if allowed == 0 {
                    hostGone = true
                    continue
                }  // closed: drain to EOF without sending
                guard let n = try? fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<allowed])), n > 0 else { break }
                if !hostGone {
                    if n < allowed { window.grant(allowed - n) }
                    state.touch()
                    context.send(type, Array(buffer[0..<n]))
                }
            }
            fd.close()
            let ready: Termination? = run.withLock { r in
                r.openPipes -= 1
                return r.takeIfReady()
            }
            if let ready { finish(ready) }
        }
    }

    private func record(termination: Termination, finish: @Sendable (Termination) -> Void) {
        let ready: Termination? = run.withLock { r in
            r.stdin?.close()
            r.termination = termination
            return r.takeIfReady()
        }
        if let ready { finish(ready) }
    }
}

extension AgentSession {
    /// A piped exec stream, or a detached command answered at once with its pid.
    func openExec(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        let request: ExecRequest
        do { request = try WireJSON.decodeFast(frame, ExecRequest.init(fastJSON:)) } catch {
            context.fail(.badRequest, "malformed exec request")
            return nil
        }
        if request.detach == true {
            startDetached(request, context)
            return nil
        }
        return ExecStream(request: request, context: context, state: state)
    }
}

/// Finds `program` on `searchPath` unless it already names a path.
func resolveExecutable(_ program: String, searchPath: String) -> String? {
    if program.contains("/") { return program }
    for dir in searchPath.split(separator: ":") where !dir.isEmpty {
        let candidate = "\(dir)/\(program)"
        var st = stat()
        if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

func monotonicMicroseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}
