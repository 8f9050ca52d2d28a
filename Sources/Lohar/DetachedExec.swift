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
        let user: CommandUser
        do { user = try state.commandUser(request.user) } catch { return context.fail(error.code, error.message) }
        let env = state.environment(overriding: request.env, for: user)
        guard let path = resolveExecutable(program, searchPath: env["PATH"] ?? "") else {
            return context.fail(.notFound, "\(program): command not found")
        }
        let output = request.outputFile ?? "/tmp/bhatti-exec-\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).log"
        let fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return context.fail(.permissionDenied, "cannot open \(output): \(Errno.current)") }
        let file = FileDescriptor(rawValue: fd)
        defer { file.close() }
        if let ids = user.ids { _ = fchown(fd, uid_t(ids.uid), gid_t(ids.gid)) }
        var spawn = Spawn(
            path: path, arguments: request.argv, environment: env.map { "\($0.key)=\($0.value)" }.sorted(),
            workingDirectory: request.cwd ?? state.workingDirectory)
        spawn.standardOutput = fd
        spawn.standardError = fd
        spawn.newSession = true
        spawn.user = user.spawnUser
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
