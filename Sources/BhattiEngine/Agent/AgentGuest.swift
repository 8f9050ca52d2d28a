import BhattiSystem
import BhattiWire

/// `SandboxGuest` over the agent's channel: engine values in, wire messages out, and the agent's
/// failures as `GuestError`. A struct around the connection, so handing it out costs nothing.
public struct AgentGuest: SandboxGuest {
    public let connection: AgentConnection

    public init(_ connection: AgentConnection) { self.connection = connection }

    public func exec(
        _ command: GuestCommand, stdin: [UInt8]?, timeout: Duration?, onEvent: @Sendable (ExecEvent) async -> Void
    ) async throws -> Int32 {
        try await translating {
            try await connection.exec(ExecRequest(command), stdin: stdin, timeout: timeout, onEvent: onEvent).code
        }
    }

    public func execDetached(_ command: GuestCommand) async throws -> DetachedCommand {
        let reply = try await translating { try await connection.execDetached(ExecRequest(command)) }
        return DetachedCommand(pid: reply.pid, outputFile: reply.outputFile)
    }

    public func activity(usage: Bool) async throws -> GuestActivity {
        GuestActivity(try await translating { try await connection.activity(usage: usage) })
    }

    public func configure(_ settings: GuestSettings) async throws {
        try await translating { try await connection.configure(GuestConfig(settings)) }
    }

    public func syncClock() { connection.sendClock() }

    public func readFile(
        _ read: GuestFileRead, onInfo: @Sendable (GuestFileReadInfo) async throws -> Void,
        onChunk: @Sendable ([UInt8]) async throws -> Void
    ) async throws -> GuestFileReadInfo {
        let request = FileReadRequest(path: read.path, offset: read.offset, limit: read.limit, maxBytes: read.maxBytes)
        let info = try await translating {
            try await connection.readFile(request, onInfo: { try await onInfo(GuestFileReadInfo($0)) }, onChunk: onChunk)
        }
        return GuestFileReadInfo(info)
    }

    public func writeFile(
        path: String, mode: String, size: Int, from next: @escaping @Sendable () async throws -> [UInt8]?
    ) async throws -> GuestFileInfo {
        GuestFileInfo(try await translating { try await connection.writeFile(path: path, mode: mode, size: size, from: next) })
    }

    public func writeFile(path: String, mode: String, bytes: [UInt8]) async throws -> GuestFileInfo {
        GuestFileInfo(try await translating { try await connection.writeFile(path: path, mode: mode, bytes: bytes) })
    }

    public func stat(_ path: String) async throws -> GuestFileInfo {
        GuestFileInfo(try await translating { try await connection.stat(path) })
    }

    public func list(_ path: String) async throws -> GuestFileListing {
        let listing = try await translating { try await connection.list(path) }
        return GuestFileListing(entries: listing.entries.map(GuestFileInfo.init), truncated: listing.truncated, total: listing.total)
    }

    public func makeDirectory(_ path: String) async throws -> Bool {
        try await translating { try await connection.makeDirectory(path) }
    }

    public func move(from source: String, to destination: String) async throws {
        try await translating { try await connection.move(from: source, to: destination) }
    }

    public func remove(_ path: String) async throws {
        try await translating { try await connection.remove(path) }
    }

    public func openSession(_ request: GuestSessionRequest) async throws -> any GuestSession {
        let wire = SessionRequest(
            argv: request.argv, tty: request.tty, rows: request.rows, cols: request.cols, env: request.env, cwd: request.cwd,
            sessionID: request.sessionID, reuseDetached: request.reuseDetached, user: request.user)
        return try await translating { try await connection.openSession(wire) }
    }

    public func listSessions() async throws -> [GuestSessionInfo] {
        try await translating { try await connection.listSessions() }.map(GuestSessionInfo.init)
    }

    public func forward(port: Int) async throws -> any GuestPortForward {
        try await translating { try await connection.forward(port: port) }
    }

    public func watch(path: String, recursive: Bool) async throws -> any GuestWatch {
        AgentGuestWatch(try await translating { try await connection.watch(WatchRequest(path: path, recursive: recursive)) })
    }

    /// Runs `body`, its `AgentError`s as `GuestError`s; anything else (cancellation, a caller's own
    /// throw) passes as it is.
    private func translating<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as AgentError { throw GuestError(error) }
    }
}

extension AgentSessionAttachment: GuestSession {
    public var sessionID: String { info.sessionID }
}

extension AgentForward: GuestPortForward {}

/// An `AgentWatch` in engine terms: its events as `GuestWatchEvent`s, its failures as `GuestError`s.
struct AgentGuestWatch: GuestWatch {
    let watch: AgentWatch
    let events: AsyncThrowingStream<GuestWatchEvent, any Error>

    init(_ watch: AgentWatch) {
        self.watch = watch
        // The stream holds the watch with its cursor: a consumer that kept only `events` still has it.
        let source = (watch: watch, cursor: StreamCursor(watch.events))
        events = AsyncThrowingStream(unfolding: {
            do { return try await source.cursor.next().map(GuestWatchEvent.init) } catch let error as AgentError {
                throw GuestError(error)
            }
        })
    }

    func close() { watch.close() }
}

extension GuestError {
    /// The agent's refusal codes, and the channel's failures as `unavailable` (or `timedOut`).
    public init(_ error: AgentError) {
        guard case .remote(let m) = error else {
            switch error {
            case .timedOut: self.init(.timedOut, error.description, cause: error)
            // The guest answers for itself; it cannot do what was asked (an older lohar).
            case .unsupported: self.init(.badRequest, error.description, cause: error)
            default: self.init(.unavailable, error.description, cause: error)
            }
            return
        }
        let kind: Kind =
            switch m.code {
            case .badRequest: .badRequest
            case .notFound: .notFound
            case .permissionDenied: .permissionDenied
            // The host's own token was refused: the guest is not at fault, nor the caller.
            case .unauthenticated: .internal
            case .resourceExhausted: .resourceExhausted
            case .insufficientStorage: .insufficientStorage
            case .internal: .internal
            }
        self.init(kind, m.message, cause: error)
    }
}

extension ExecRequest {
    init(_ command: GuestCommand) { self.init(argv: command.argv, env: command.env, cwd: command.cwd, user: command.user) }
}

extension GuestConfig {
    init(_ settings: GuestSettings) {
        self.init(
            env: settings.env, secrets: settings.secrets,
            files: settings.files.map { File(path: $0.path, content: $0.content, mode: $0.mode) },
            initScript: settings.initScript, replaceEnvironment: settings.replaceEnvironment,
            workingDir: settings.workingDirectory, user: settings.user)
        hosts = settings.hosts
    }
}

extension GuestActivity {
    init(_ a: Activity) {
        self.init(
            lastActivityMs: a.lastActivityMs, runningSessions: a.runningSessions, attachedSessions: a.attachedSessions,
            runningExecs: a.runningExecs, cpuBusyTicks: a.cpuBusyTicks, cpuTotalTicks: a.cpuTotalTicks, memTotalBytes: a.memTotalBytes,
            memUsedBytes: a.memUsedBytes, memCacheBytes: a.memCacheBytes, diskTotalBytes: a.diskTotalBytes, diskUsedBytes: a.diskUsedBytes)
    }
}

extension GuestFileReadInfo {
    init(_ i: FileReadInfo) { self.init(size: i.size, mode: i.mode) }
}

extension GuestFileInfo {
    init(_ i: FileInfo) { self.init(name: i.name, size: i.size, mode: i.mode, isDir: i.isDir, mtime: i.mtime) }
}

extension GuestSessionInfo {
    init(_ s: SessionInfo) {
        self.init(
            sessionID: s.sessionID, argv: s.argv, tty: s.tty, running: s.running, exitCode: s.exitCode, attached: s.attached,
            createdAt: s.createdAt)
    }
}

extension GuestWatchEvent {
    init(_ e: WatchEvent) {
        let kind: Kind =
            switch e.kind {
            case .create: .create
            case .write: .write
            case .remove: .remove
            case .rename: .rename
            case .chmod: .chmod
            }
        self.init(kind: kind, name: e.name)
    }
}
