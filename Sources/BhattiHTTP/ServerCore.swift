import BhattiSystem
import CBhattiShim
import Glibc
import Synchronization

/// The server's half on the event loop: its listeners, its open connections, and shutdown, whether
/// draining or immediate.
final class ServerCore: @unchecked Sendable {
    // SAFETY: loop-confined like `HTTPConnection`; `HTTPServer` reaches it only through
    // `loop.execute`, except for the immutable lets and the atomic `openConnections`.

    private enum Mode {
        case serving
        /// Stopped accepting; connections finish their exchange and close.
        case draining
        /// Every connection was aborted.
        case stopped
    }

    let loop: EventLoop
    let handler: any HTTPHandler
    let limits: HTTPLimits
    /// Every connection's reads land here first: the loop reads one socket at a time.
    let readBuffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 64 * 1024)
    /// The number of open connections, lent ones included (read from any thread).
    let openConnections = Atomic<Int>(0)

    private var mode = Mode.serving
    private var acceptors: [ObjectIdentifier: Acceptor] = [:]
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    /// Graceful shutdowns waiting for the last connection to go.
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// How long accepting pauses when the process is out of descriptors or memory.
    static let acceptBackoff = Duration.milliseconds(100)

    init(handler: any HTTPHandler, limits: HTTPLimits) throws(Errno) {
        self.handler = handler
        self.limits = limits
        loop = try EventLoop()
    }

    deinit { readBuffer.deallocate() }

    /// Starts accepting on `socket` (closing it instead once shutdown has begun).
    func add(_ socket: ListeningSocket) {
        guard case .serving = mode else {
            socket.fd.close()
            return
        }
        let acceptor = Acceptor(socket: socket, core: self)
        do {
            acceptor.token = try loop.register(fd: socket.fd.rawValue, interest: .readable, source: acceptor)
        } catch {
            socket.fd.close()
            return
        }
        acceptors[ObjectIdentifier(acceptor)] = acceptor
    }

    /// Accepts every waiting connection.
    fileprivate func accept(from acceptor: Acceptor) {
        while case .serving = mode {
            let result = bh_accept_nonblocking(acceptor.socket.fd.rawValue)
            if result >= 0 {
                open(FileDescriptor(rawValue: result))
                continue
            }
            switch -result {
            case EAGAIN:
                return
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // The waiting connection stays queued; retrying at once would spin on the same error.
                guard let token = acceptor.token else { return }
                loop.setInterest(token, [])
                loop.setDeadline(token, loop.now + Self.acceptBackoff)
                return
            default:
                // EINVAL: `HTTPServer.shutdown` shut the socket down.
                close(acceptor)
                return
            }
        }
    }

    /// Serves an already connected socket (from a TLS terminator), as if accepted.
    func adopt(_ fd: FileDescriptor, remoteAddress: String?, secure: Bool) {
        guard case .serving = mode else {
            fd.close()
            return
        }
        open(fd, handedOver: (remoteAddress, secure))
    }

    private func open(_ fd: FileDescriptor, handedOver: (remoteAddress: String?, secure: Bool)? = nil) {
        let connection = HTTPConnection(fd: fd, core: self, handedOver: handedOver)
        do {
            try connection.start()
        } catch {
            fd.close()
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        openConnections.add(1, ordering: .relaxed)
    }

    /// Called by a connection as it closes: first `forget` (so `connectionCount` has dropped by the
    /// time the client can see the close), then, with the socket closed, `finishIfIdle`.
    func forget(_ connection: HTTPConnection) {
        guard connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        openConnections.subtract(1, ordering: .relaxed)
    }

    /// Graceful shutdown: idle connections close now, the others after their exchange; whatever is
    /// left after `gracePeriod` is aborted. Resumes `done` once no connection is left.
    func drain(gracePeriod: Duration, then done: CheckedContinuation<Void, Never>) {
        waiters.append(done)
        closeAcceptors()
        if case .serving = mode {
            mode = .draining
            for connection in Array(connections.values) { connection.drain() }
            loop.schedule(after: gracePeriod) { [self] in abortAll() }
        }
        finishIfIdle()
    }

    /// Immediate shutdown: every connection is closed and its handler or stream cancelled.
    func abortAll() {
        closeAcceptors()
        mode = .stopped
        for connection in Array(connections.values) { connection.abort() }
        finishIfIdle()
    }

    /// Once shut down and empty: wakes the waiting shutdowns and ends the loop.
    func finishIfIdle() {
        if case .serving = mode { return }
        guard connections.isEmpty else { return }
        for waiter in waiters { waiter.resume() }
        waiters = []
        loop.stop()
    }

    private func closeAcceptors() {
        for acceptor in Array(acceptors.values) { close(acceptor) }
    }

    private func close(_ acceptor: Acceptor) {
        guard acceptors.removeValue(forKey: ObjectIdentifier(acceptor)) != nil else { return }
        if let token = acceptor.token { loop.deregister(token) }
        acceptor.token = nil
        acceptor.socket.fd.close()
    }
}

/// A listening socket registered with the loop.
private final class Acceptor: LoopSource {
    let socket: ListeningSocket
    let core: ServerCore
    var token: LoopToken?

    init(socket: ListeningSocket, core: ServerCore) {
        self.socket = socket
        self.core = core
    }

    func ready(_ events: PollEvents) { core.accept(from: self) }

    /// The back-off after running out of descriptors is over: listen again.
    func deadlinePassed() {
        guard let token else { return }
        core.loop.setInterest(token, .readable)
    }
}

/// A listening socket as `HTTPServer` keeps it: `refuse` runs on the caller's thread so that
/// `shutdown` has stopped new connections by the time it returns.
final class ListeningSocket: Sendable {
    let fd: FileDescriptor
    let unixPath: String?

    init(fd: FileDescriptor, unixPath: String?) {
        self.fd = fd
        self.unixPath = unixPath
    }

    /// Removes the socket file and shuts the socket down: new connections are refused (ECONNREFUSED,
    /// or ENOENT for the path) and the loop's next accept fails, which closes it there.
    func refuse() {
        if let unixPath { unlink(unixPath) }
        _ = try? fd.withRawValue { raw in Glibc.shutdown(raw, Int32(SHUT_RDWR)) }
    }
}
