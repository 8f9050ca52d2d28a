import BhattiSystem
import BhattiWire
import Glibc

extension AgentSession {
    /// `exec` with `detach`: its own session, output to a file, reply with the pid, never waited on by
    /// the host (the reaper collects it).
    func startDetached(_ request: ExecRequest, _ context: StreamContext) {
        guard let program = request.argv.first, !program.isEmpty else {
            return context.fail(.badRequest, "exec needs a command (argv is empty)")
        }
        let env = state.environment(overriding: request.env)
        guard let path = resolveExecutable(program, searchPath: env["PATH"] ?? "") else {
            return context.fail(.notFound, "\(program): command not found")
        }
        let output = request.outputFile ?? "/tmp/bhatti-exec-\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).log"
        let fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return context.fail(.permissionDenied, "cannot open \(output): \(Errno.current)") }
        let file = FileDescriptor(rawValue: fd)
        defer { file.close() }
        if let user = state.user { _ = fchown(fd, uid_t(user.uid), gid_t(user.gid)) }
        var spawn = Spawn(
            path: path, arguments: request.argv, environment: env.map { "\($0.key)=\($0.value)" }.sorted(),
            workingDirectory: request.cwd ?? state.workingDirectory)
        spawn.standardOutput = fd
        spawn.standardError = fd
        spawn.newSession = true
        if let user = state.user { spawn.user = (user.uid, user.gid, [UInt32(user.gid)]) }
        do {
            let pid = try spawn.run()
            state.waiter.onExit(of: pid) { _ in }
            context.sendJSON(.result, DetachedExec(pid: pid, outputFile: output))
            context.finished()
        } catch {
            context.fail(error.rawValue == ENOENT ? .notFound : .internal, "cannot start \(program): \(error)")
        }
    }
}
