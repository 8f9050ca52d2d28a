import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// One piped exec: the process, its pipes, and the frames that report on it.
///
/// Threads: one per output pipe (blocking reads, each chunk becomes a frame), one feeding stdin, and
/// the child waiter's callback. The exit frame goes out only after both output pipes reached EOF and
/// the process was reaped, so no output can follow it.
final class ExecStream: Sendable {
    let id: UInt32
    private let pid: Int32
    private let stdinQueue: ByteQueue?
    private struct Completion {
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
    private let completion = Mutex(Completion())

    private init(id: UInt32, pid: Int32, stdinQueue: ByteQueue?) {
        self.id = id
        self.pid = pid
        self.stdinQueue = stdinQueue
    }

    /// Spawns `request` and starts reporting on `stream`. Failures before the process runs are
    /// sent as an error frame and return nil.
    static func start(
        stream: UInt32, request: ExecRequest, config: AgentConfiguration, writer: FrameWriter, waiter: ChildWaiter,
        onFinish: @escaping @Sendable (UInt32) -> Void
    ) -> ExecStream? {
        guard let program = request.argv.first, !program.isEmpty else {
            writer.sendError(stream: stream, .badRequest, "exec needs a command (argv is empty)")
            return nil
        }
        var env = config.defaultEnvironment
        for (k, v) in request.env { env[k] = v }
        guard let path = resolveExecutable(program, searchPath: env["PATH"] ?? "") else {
            writer.sendError(stream: stream, .notFound, "\(program): command not found")
            return nil
        }
        let cwd = request.cwd ?? config.defaultWorkingDirectory
        let started = monotonicMicroseconds()
        do {
            let out = try Pipe.make()
            let err = try Pipe.make()
            let input = request.stdin ? try Pipe.make() : nil
            var spawn = Spawn(
                path: path, arguments: request.argv, environment: env.map { "\($0.key)=\($0.value)" }.sorted(),
                workingDirectory: cwd)
            spawn.standardInput = input?.read.rawValue ?? -1
            spawn.standardOutput = out.write.rawValue
            spawn.standardError = err.write.rawValue
            if let user = config.user { spawn.user = (user.uid, user.gid, [UInt32(user.gid)]) }
            // Its own process group, so a kill reaches everything it started.
            spawn.newProcessGroup = true
            let pid = try spawn.run()
            // The child holds its copies; ours must close or the readers never see EOF.
            out.write.close()
            err.write.close()
            input?.read.close()
            let queue = input.map { ByteQueue(fd: $0.write) }
            let exec = ExecStream(id: stream, pid: pid, stdinQueue: queue)
            let finish: @Sendable (Termination) -> Void = { termination in
                if config.syncBeforeExit { sync() }
                let status = ExitStatus(
                    code: termination.exitCode, signal: { if case .signaled(let s) = termination { s } else { nil } }(),
                    guestMicroseconds: monotonicMicroseconds() - started)
                writer.send(Frame(stream: stream, type: .exit, payload: WireJSON.encode(status)))
                onFinish(stream)
            }
            exec.pump(out.read, as: .stdout, writer: writer, finish: finish)
            exec.pump(err.read, as: .stderr, writer: writer, finish: finish)
            waiter.onExit(of: pid) { t in exec.record(termination: t, finish: finish) }
            return exec
        } catch {
            let code: WireErrorCode = switch error.rawValue {
            case ENOENT, ENOTDIR: .notFound
            case EACCES, EPERM: .permissionDenied
            default: .internal
            }
            writer.sendError(stream: stream, code, "cannot start \(program) in \(cwd): \(error)")
            return nil
        }
    }

    /// Queues bytes for stdin; an empty chunk closes it.
    func feedStdin(_ bytes: [UInt8]) { stdinQueue?.push(bytes) }

    /// SIGKILL to the whole process group.
    func kill() { _ = Glibc.kill(-pid, SIGKILL) }

    private func pump(_ fd: FileDescriptor, as type: FrameType, writer: FrameWriter, finish: @escaping @Sendable (Termination) -> Void) {
        startThread(name: "lohar-pump") { [self] in
            let size = 64 * 1024
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                guard let n = try? fd.read(into: buffer), n > 0 else { break }
                writer.send(Frame(stream: id, type: type, payload: Array(buffer[0..<n])))
            }
            fd.close()
            pipeClosed(finish: finish)
        }
    }

    private func pipeClosed(finish: @Sendable (Termination) -> Void) {
        let ready: Termination? = completion.withLock { c in
            c.openPipes -= 1
            return c.takeIfReady()
        }
        if let ready { finish(ready) }
    }

    private func record(termination: Termination, finish: @Sendable (Termination) -> Void) {
        stdinQueue?.close()
        let ready: Termination? = completion.withLock { c in
            c.termination = termination
            return c.takeIfReady()
        }
        if let ready { finish(ready) }
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
