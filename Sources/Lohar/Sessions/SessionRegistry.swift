import BhattiWire
import Dispatch
import Synchronization

/// The agent's sessions, shared by every host connection (a session outlives its client).
final class SessionRegistry: Sendable {
    /// Running sessions at most; one more is refused with `resource_exhausted`.
    static let maxSessions = 20
    /// An exited session nobody was attached to is kept this long for its scrollback and exit code.
    let keepExitedSeconds: Int
    /// The boot script's session.
    static let initID = "init"
    private struct State {
        /// In creation order.
        var sessions: [Session] = []
        var nextNumber = 1
        /// Slots reserved by sessions being spawned right now.
        var starting = 0
    }
    private let state = Mutex(State())

    init(keepExitedSeconds: Int) { self.keepExitedSeconds = keepExitedSeconds }

    /// (running, attached) counts for the activity report.
    func counts() -> (Int, Int) {
        let all = state.withLock { $0.sessions }
        return (all.count { $0.isRunning }, all.count { $0.isAttached })
    }

    func find(_ id: String) -> Session? { state.withLock { s in s.sessions.last { $0.id == id } } }

    /// The newest running session of this kind and user that has no client (never `init`: it runs the
    /// boot script, it is not a client's shell).
    func newestDetached(tty: Bool, uid: Int32?) -> Session? {
        let all = state.withLock { $0.sessions }
        return all.last { $0.id != SessionRegistry.initID && $0.tty == tty && $0.uid == uid && $0.isRunning && !$0.isAttached }
    }

    /// Every session, oldest first.
    func list() -> [SessionInfo] { state.withLock { $0.sessions }.map(\.info) }

    /// Spawns a session (id `sN`, or `id` when given) within the limit; it starts detached.
    func start(_ launch: SessionLaunch, id fixed: String? = nil, agent: AgentState) throws(WireErrorMessage) -> Session {
        let id = try state.withLock { s throws(WireErrorMessage) -> String in
            let running = s.sessions.count { $0.isRunning }
            guard running + s.starting < SessionRegistry.maxSessions else {
                throw WireErrorMessage(code: .resourceExhausted, message: "too many sessions (limit \(SessionRegistry.maxSessions))")
            }
            if let fixed, s.sessions.contains(where: { $0.id == fixed && $0.isRunning }) {
                throw WireErrorMessage(code: .badRequest, message: "session \(fixed) is already running")
            }
            s.starting += 1
            if let fixed { return fixed }
            defer { s.nextNumber += 1 }
            return "s\(s.nextNumber)"
        }
        do {
            let session = try Session.start(id: id, launch: launch, agent: agent) { [weak self] session, wasAttached in
                self?.finished(session, wasAttached: wasAttached)
            }
            state.withLock { s in
                s.starting -= 1
                // An exited namesake (a previous init) gives way.
                s.sessions.removeAll { $0.id == id }
                s.sessions.append(session)
            }
            return session
        } catch {
            state.withLock { $0.starting -= 1 }
            throw error
        }
    }

    func remove(_ session: Session) { state.withLock { $0.sessions.removeAll { $0 === session } } }

    /// Starts session `init`: the boot script under `sh -c` on a terminal, as the sandbox user, in the
    /// default directory, with nobody attached.
    func startInit(script: String, state agent: AgentState) throws {
        let env = agent.environment(overriding: ["TERM": "xterm-256color"])
        let launch = SessionLaunch(
            argv: ["sh", "-c", script], tty: true, environment: env, cwd: agent.workingDirectory, user: agent.user)
        _ = try start(launch, id: SessionRegistry.initID, agent: agent)
    }

    /// The process finished. Its client, if any, has the exit status and the session goes; otherwise
    /// it stays a while for a reattach to read.
    private func finished(_ session: Session, wasAttached: Bool) {
        if wasAttached { return remove(session) }
        // Weak: a session a reattach already consumed (and removed) should not wait for the timer to go.
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(keepExitedSeconds)) { [weak self, weak session] in
            if let session { self?.remove(session) }
        }
    }
}
