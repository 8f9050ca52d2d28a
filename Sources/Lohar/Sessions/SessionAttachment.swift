import BhattiSystem
import BhattiWire
import Dispatch
import Synchronization

/// One client's view of a session: a `session` stream on a host connection.
///
/// Everything it sends (info, replay, live output, then exit or the detach reply) goes through one
/// queue, drained in order by its own thread within the host's credit; the session only enqueues, so
/// it never blocks on a host while holding its lock.
///
/// Takeover: when another client attaches, this one gets `result` `{"detached":true,"reason":"taken
/// over"}` and its stream ends, the same reply as a detach it asked for (no `error`: nothing failed,
/// and the session goes on).
final class SessionAttachment: GuestStream {
    /// Why an attachment ends while its session runs on.
    enum Ending {
        case detached, takenOver, hostGone
    }
    /// Queued output beyond which the session's reader waits for this client.
    static let maxBacklog = 256 * 1024
    let window: SendWindow
    private let context: StreamContext
    private let request: SessionRequest
    private let agent: AgentState
    private enum Item {
        case frame(FrameType, [UInt8])
        case output([UInt8])
        case end
    }
    private struct State {
        var items: [Item] = []
        var backlog = 0
        /// Nothing more may be queued (the final frame, if any, already is).
        var ended = false
        var roomWaiters = 0
        var session: Session?
    }
    private let state = Mutex(State())
    /// One signal per queued item.
    private let wake = DispatchSemaphore(value: 0)
    private let room = DispatchSemaphore(value: 0)

    init(request: SessionRequest, context: StreamContext, agent: AgentState) {
        self.request = request
        self.context = context
        self.agent = agent
        window = context.window
    }

    /// Finds or opens the session, then attaches.
    func start() {
        let registry = agent.sessions
        let session: Session
        do {
            if let id = request.sessionID {
                guard let found = registry.find(id) else { return context.fail(.notFound, "no session \(id)") }
                session = found
            } else {
                let launch = try SessionLaunch(request, agent: agent)
                if request.reuseDetached, let found = registry.newestDetached(tty: request.tty, uid: launch.user?.uid) {
                    session = found
                } else {
                    session = try registry.start(launch, agent: agent)
                }
            }
        } catch {
            return context.fail(error.code, error.message)
        }
        state.withLock { $0.session = session }
        startThread(name: "lohar-session-send") { [self] in drain() }
        let size: TerminalSize? =
            if let rows = request.rows, let cols = request.cols, rows > 0, cols > 0 {
                TerminalSize(rows: rows, cols: cols)
            } else { nil }
        // A finished session was only kept for this: its last client has had everything.
        if !session.attach(self, size: size) { registry.remove(session) }
    }

    func receive(_ frame: Frame) {
        guard let session = state.withLock({ $0.session }) else { return }
        switch frame.type {
        case .stdin: session.write(frame.payload, from: self, credit: context.received)
        case .resize: if let size = try? TerminalSize.decode(frame) { session.resize(size) }
        case .detach:
            session.detach(self)
            end(.detached)
        case .kill, .error: session.terminate()
        default: break
        }
    }

    /// The host is gone: the session keeps running, detached.
    func connectionClosed() {
        state.withLock { $0.session }?.detach(self)
        end(.hostGone)
    }

    // MARK: Called by the session (under its lock: these only queue)

    func enqueue(_ type: FrameType, _ payload: [UInt8]) { push(.frame(type, payload), bytes: 0) }

    func enqueueOutput(_ bytes: [UInt8]) { push(.output(bytes), bytes: bytes.count) }

    /// The process finished: the queued output, then `exit`, then the stream ends.
    func finish(with status: ExitStatus) {
        let queued = state.withLock { s -> Bool in
            guard !s.ended else { return false }
            s.ended = true
            s.items.append(.frame(.exit, WireJSON.encode(status)))
            s.items.append(.end)
            return true
        }
        if queued {
            wake.signal()
            wake.signal()
        }
        wakeRoomWaiters()
    }

    /// Ends the attachment while the session runs on. Queued output is dropped (the scrollback has
    /// it for the next client), so a client that leaves never waits for output it will not read.
    func end(_ ending: Ending) {
        let queued = state.withLock { s -> Int in
            guard !s.ended else { return 0 }
            s.ended = true
            s.items.removeAll()
            s.backlog = 0
            switch ending {
            case .detached: s.items.append(.frame(.result, WireJSON.encode(DetachReply(detached: true, reason: nil))))
            case .takenOver: s.items.append(.frame(.result, WireJSON.encode(DetachReply(detached: true, reason: "taken over"))))
            case .hostGone: break
            }
            s.items.append(.end)
            return s.items.count
        }
        for _ in 0..<queued { wake.signal() }
        // Wakes the sender if it waits for credit for output that is no longer wanted.
        window.close()
        wakeRoomWaiters()
    }

    /// Blocks the session's reader while this client is far behind (the host grants too little credit).
    func waitForRoom() {
        while true {
            let wait = state.withLock { s -> Bool in
                if s.ended || s.backlog <= SessionAttachment.maxBacklog { return false }
                s.roomWaiters += 1
                return true
            }
            if !wait { return }
            room.wait()
        }
    }

    // MARK: Sending

    private func push(_ item: Item, bytes: Int) {
        let queued = state.withLock { s -> Bool in
            guard !s.ended else { return false }
            s.items.append(item)
            s.backlog += bytes
            return true
        }
        if queued { wake.signal() }
    }

    private func drain() {
        var sending = true
        while true {
            wake.wait()
            let next: Item? = state.withLock { s in
                guard !s.items.isEmpty else { return nil }
                let item = s.items.removeFirst()
                if case .output(let bytes) = item { s.backlog -= bytes.count }
                return item
            }
            wakeRoomWaiters()
            switch next {
            case nil: continue
            case .output(let bytes):
                // False once the window closed: this client left, or its host did.
                if sending { sending = context.sendMetered(.stdout, bytes) }
            case .frame(let type, let payload): context.send(type, payload)
            case .end:
                context.finished()
                return
            }
        }
    }

    private func wakeRoomWaiters() {
        let waiters = state.withLock { s -> Int in
            guard s.ended || s.backlog <= SessionAttachment.maxBacklog else { return 0 }
            defer { s.roomWaiters = 0 }
            return s.roomWaiters
        }
        for _ in 0..<waiters { room.signal() }
    }
}

/// The `result` that ends an attachment whose session runs on.
struct DetachReply: Codable, Sendable {
    var detached: Bool
    /// Set when another client took the session over.
    var reason: String?
}
