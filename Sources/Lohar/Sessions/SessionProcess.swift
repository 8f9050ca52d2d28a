import BhattiSystem
import BhattiWire
import Glibc

/// What a session runs and how: resolved from a request (or the init script) before anything starts.
struct SessionLaunch: Sendable {
    var argv: [String]
    var tty: Bool
    var rows: UInt16 = 24
    var cols: UInt16 = 80
    var environment: [String: String]
    var cwd: String
    var user: (uid: Int32, gid: Int32)?
    /// A detached session idle this long is killed; nil keeps it.
    var idleTimeout: Int?

    init(argv: [String], tty: Bool, environment: [String: String], cwd: String, user: (uid: Int32, gid: Int32)?) {
        self.argv = argv
        self.tty = tty
        self.environment = environment
        self.cwd = cwd
        self.user = user
    }

    /// The request's command (a login shell when empty) as its user, on a terminal of the requested
    /// size. An unknown user is refused.
    init(_ request: SessionRequest, agent: AgentState) throws(WireErrorMessage) {
        var overrides = request.env
        if request.tty && overrides["TERM"] == nil { overrides["TERM"] = "xterm-256color" }
        let user = try agent.commandUser(request.user)
        let env = agent.environment(overriding: overrides, for: user)
        let argv = request.argv.isEmpty ? loginShell(searchPath: env["PATH"] ?? "") : request.argv
        self.init(
            argv: argv, tty: request.tty, environment: env, cwd: request.cwd ?? agent.workingDirectory, user: user.ids)
        if let rows = request.rows, rows > 0 { self.rows = rows }
        if let cols = request.cols, cols > 0 { self.cols = cols }
        idleTimeout = request.idleTimeoutSeconds
    }
}

/// `bash -l`, or `sh -l` on an image without bash.
func loginShell(searchPath: String) -> [String] {
    resolveExecutable("bash", searchPath: searchPath) != nil ? ["bash", "-l"] : ["sh", "-l"]
}

/// A started session process and the agent's ends of its terminal or pipes, each owned by one user.
struct SessionProcess: Sendable {
    let pid: Int32
    /// Read by the output thread.
    let output: FileDescriptor
    /// Written by the input thread.
    let input: FileDescriptor
    /// The PTY master for resizes and the foreground group; nil for pipes.
    let control: FileDescriptor?

    /// Spawns `launch`: on a fresh PTY as its controlling terminal, or on pipes with stderr merged into
    /// stdout. Either way in a new session, so one signal to the group reaches what it started.
    static func start(_ launch: SessionLaunch) throws(WireErrorMessage) -> SessionProcess {
        guard let program = launch.argv.first, !program.isEmpty else {
            throw WireErrorMessage(code: .badRequest, message: "session needs a command (argv[0] is empty)")
        }
        guard let path = resolveExecutable(program, searchPath: launch.environment["PATH"] ?? "") else {
            throw WireErrorMessage(code: .notFound, message: "\(program): command not found")
        }
        var spawn = Spawn(
            path: path, arguments: launch.argv, environment: launch.environment.map { "\($0.key)=\($0.value)" }.sorted(),
            workingDirectory: launch.cwd)
        if let user = launch.user { spawn.user = (user.uid, user.gid, [UInt32(user.gid)]) }
        do {
            if launch.tty {
                let (master, slave) = try PTY.open(rows: launch.rows, cols: launch.cols)
                // Duplicated before the spawn: once the process runs, nothing may fail and orphan it.
                let output = try master.duplicate()
                let input = try master.duplicate()
                // The user's terminal should be the user's (programs that reopen it by name, like sudo).
                if let user = launch.user { _ = fchown(slave.rawValue, uid_t(user.uid), gid_t(user.gid)) }
                spawn.standardInput = slave.rawValue
                spawn.standardOutput = slave.rawValue
                spawn.standardError = slave.rawValue
                let pid = try spawn.runOnTerminal()
                // Only the child may hold the slave: the master reads EIO once the child's side closes.
                slave.close()
                return SessionProcess(pid: pid, output: output, input: input, control: master)
            }
            let out = try Pipe.make()
            let stdin = try Pipe.make()
            spawn.standardInput = stdin.read.rawValue
            spawn.standardOutput = out.write.rawValue
            spawn.standardError = out.write.rawValue
            spawn.newSession = true
            let pid = try spawn.run()
            // The child holds its copies; ours must close or the reader never sees end of file.
            out.write.close()
            stdin.read.close()
            return SessionProcess(pid: pid, output: out.read, input: stdin.write, control: nil)
        } catch {
            let code: WireErrorCode =
                switch error.rawValue {
                case ENOENT, ENOTDIR: .notFound
                case EACCES, EPERM: .permissionDenied
                default: .internal
                }
            throw WireErrorMessage(code: code, message: "cannot start \(program) in \(launch.cwd): \(error)")
        }
    }
}
