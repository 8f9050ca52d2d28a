import BhattiSystem
import BhattiWire
import Dispatch
import Glibc
import Synchronization

/// A process on a PTY (or pipes) that outlives its clients: output goes to the scrollback and to the
/// one attached client, input comes from that client.
///
/// Threads: one reads output (blocking), one writes input, and the child waiter's callback. Appending
/// to the scrollback and choosing who receives a chunk happen under one lock, and so does an attach's
/// replay: a reattaching client gets the scrollback and then exactly the bytes that followed it.
final class Session: Sendable {
    /// Bytes of output kept for a reattach.
    static let scrollbackBytes = 64 * 1024
    /// A killed session still running after this long gets SIGKILL.
    static let killGraceSeconds = 5

    let id: String
    let argv: [String]
    let tty: Bool
    /// Unix seconds.
    let createdAt: Int
    let pid: Int32
    let idleTimeout: Int?
    /// Who it runs as (nil: the agent's own identity); a reuse finds only a session of the same user.
    let uid: Int32?
    private let input: SessionInput
    /// Wakes the output thread when the process has been reaped (it then drains and stops).
    private let reapedEvent: FileDescriptor
    private let onFinish: @Sendable (Session, _ wasAttached: Bool) -> Void
    private struct State {
        var scrollback = Scrollback(capacity: Session.scrollbackBytes)
        var attachment: SessionAttachment?
        var control: FileDescriptor?
        var reaped: Termination?
        var outputEnded = false
        var finished: Termination?
        /// Bumped by every attach and detach; an idle timer only fires for the detach that armed it.
        var generation = 0
    }
    private let state: Mutex<State>

    private init(
        id: String, launch: SessionLaunch, process: SessionProcess, event: FileDescriptor,
        onFinish: @escaping @Sendable (Session, Bool) -> Void
    ) {
        self.id = id
        argv = launch.argv
        tty = launch.tty
        createdAt = unixMilliseconds() / 1000
        pid = process.pid
        idleTimeout = launch.idleTimeout
        uid = launch.user?.uid
        input = SessionInput(fd: process.input)
        reapedEvent = event
        self.onFinish = onFinish
        state = Mutex(State(control: process.control))
    }

    /// Spawns the session's process, detached, and starts reading its output.
    static func start(
        id: String, launch: SessionLaunch, agent: AgentState, onFinish: @escaping @Sendable (Session, Bool) -> Void
    ) throws(WireErrorMessage) -> Session {
        let event: FileDescriptor
        do { event = try EventCounter.make() } catch { throw WireErrorMessage(code: .internal, message: "eventfd: \(error)") }
        let process = try SessionProcess.start(launch)
        let session = Session(id: id, launch: launch, process: process, event: event, onFinish: onFinish)
        startThread(name: "lohar-session-out") { session.readLoop(process.output, agent: agent) }
        agent.waiter.onExit(of: process.pid) { t in session.reaped(t) }
        return session
    }

    // MARK: Clients

    /// Makes `attachment` the client: info, the scrollback, then live output. The previous client is
    /// taken over. Returns false when the process had already finished: the client got the replay and
    /// the exit status and nobody needs the session any more.
    func attach(_ attachment: SessionAttachment, size: TerminalSize?) -> Bool {
        state.withLock { s in
            if let size, let control = s.control { try? PTY.setSize(control, rows: size.rows, cols: size.cols) }
            s.attachment?.end(.takenOver)
            s.attachment = nil
            s.generation += 1
            attachment.enqueue(.sessionInfo, WireJSON.encode(makeInfo(s, attached: s.finished == nil)))
            let replay = s.scrollback.snapshot()
            if !replay.isEmpty { attachment.enqueueOutput(replay) }
            if let t = s.finished {
                attachment.finish(with: exitStatus(t))
                return false
            }
            s.attachment = attachment
            return true
        }
    }

    /// Lets go of `attachment` if it is still the client; the process keeps running (until the idle
    /// timeout, when there is one).
    func detach(_ attachment: SessionAttachment) {
        let armed: Int? = state.withLock { s in
            guard s.attachment === attachment else { return nil }
            s.attachment = nil
            s.generation += 1
            return s.finished == nil ? s.generation : nil
        }
        guard let armed, let timeout = idleTimeout else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(max(0, timeout))) { [weak self] in
            self?.signalGroup(SIGKILL) { $0.attachment == nil && $0.generation == armed }
        }
    }

    /// Input from `attachment`; dropped (its credit returned) unless it is the current client.
    func write(_ bytes: [UInt8], from attachment: SessionAttachment, credit: ReceiveCredit) {
        guard state.withLock({ $0.attachment === attachment }) else { return credit.consumed(bytes.count) }
        // An empty chunk ends a pipe's input; a terminal has no such thing (^D is the user's to send).
        if bytes.isEmpty && tty { return }
        input.push(bytes, credit: credit)
    }

    func resize(_ size: TerminalSize) {
        state.withLock { s in
            if let control = s.control { try? PTY.setSize(control, rows: size.rows, cols: size.cols) }
        }
    }

    /// Asks the session to end: SIGTERM to its process group (on a terminal also SIGHUP, the hangup an
    /// interactive shell honours where it ignores SIGTERM), and SIGKILL if it is still there after the
    /// grace period.
    func terminate() {
        if tty { signalGroup(SIGHUP) }
        signalGroup(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Session.killGraceSeconds)) { [weak self] in
            self?.signalGroup(SIGKILL)
        }
    }

    var info: SessionInfo { state.withLock { makeInfo($0, attached: $0.attachment != nil) } }
    var isRunning: Bool { state.withLock { $0.finished == nil } }
    var isAttached: Bool { state.withLock { $0.attachment != nil } }

    private func makeInfo(_ s: State, attached: Bool) -> SessionInfo {
        SessionInfo(
            sessionID: id, argv: argv, tty: tty, running: s.finished == nil, exitCode: s.finished?.exitCode,
            attached: attached, createdAt: createdAt)
    }

    /// Sends `sig` to the session's group and, on a terminal, to its foreground job (a job-control
    /// shell runs each job in a group of its own). Only while the process is unreaped, so the group id
    /// cannot have been reused, and only when `when` holds.
    private func signalGroup(_ sig: Int32, when: (State) -> Bool = { _ in true }) {
        state.withLock { s in
            guard s.reaped == nil, when(s) else { return }
            if let control = s.control, let group = try? PTY.foregroundGroup(control), group > 0, group != pid {
                _ = kill(-group, sig)
            }
            _ = kill(-pid, sig)
        }
    }

    // MARK: Output and exit

    private func readLoop(_ fd: FileDescriptor, agent: AgentState) {
        let size = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer { buffer.deallocate() }
        var drainUntil: Int?  // set once reaped: what is left is read, then the loop stops
        while true {
            var fds = [
                pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: reapedEvent.rawValue, events: Int16(POLLIN), revents: 0),
            ]
            let timeout: Int32 = drainUntil == nil ? -1 : 50
            let n = poll(&fds, drainUntil == nil ? 2 : 1, timeout)
            if n < 0 && errno == EINTR { continue }
            // Quiet after the exit: a background job holding the terminal must not keep the session open.
            if n <= 0 { break }
            if drainUntil == nil && fds[1].revents != 0 { drainUntil = monotonicMicroseconds() + 500_000 }
            if let until = drainUntil, monotonicMicroseconds() > until { break }
            guard fds[0].revents != 0 else { continue }
            // 0 is end of file on a pipe; EIO on a PTY master means every slave descriptor has closed.
            guard let got = try? fd.read(into: buffer), got > 0 else { break }
            deliver(Array(buffer[0..<got]))
            agent.touch()
        }
        fd.close()
        state.withLock { $0.outputEnded = true }
        finishIfReady()
    }

    private func deliver(_ bytes: [UInt8]) {
        let client: SessionAttachment? = state.withLock { s in
            s.scrollback.append(bytes)
            s.attachment?.enqueueOutput(bytes)
            return s.attachment
        }
        // A slow client slows the process down, as a terminal would; a detached session runs free.
        client?.waitForRoom()
    }

    private func reaped(_ t: Termination) {
        state.withLock { $0.reaped = t }
        EventCounter.signal(reapedEvent)
        finishIfReady()
    }

    /// Once the process is reaped and its output drained: the exit goes to the client after the last
    /// output, the terminal closes (hanging up what is left on it), and the registry hears of it.
    private func finishIfReady() {
        let wasAttached: Bool? = state.withLock { s in
            guard s.outputEnded, let t = s.reaped, s.finished == nil else { return nil }
            s.finished = t
            s.control?.close()
            s.control = nil
            let client = s.attachment
            s.attachment = nil
            client?.finish(with: exitStatus(t))
            return client != nil
        }
        guard let wasAttached else { return }
        input.close()
        onFinish(self, wasAttached)
    }
}

func exitStatus(_ t: Termination) -> ExitStatus {
    if case .signaled(let s) = t { return ExitStatus(code: t.exitCode, signal: s) }
    return ExitStatus(code: t.exitCode)
}
