public import BhattiSystem
import CBhattiShim
import Glibc
import Synchronization

/// An HTTP/1.1 server on an epoll event loop: one dedicated thread (not the cooperative pool) accepts,
/// reads, parses and writes for every connection, and each request's handler runs as a task that hands
/// its answer back to the loop, so an idle keep-alive connection or a slow client costs no thread.
///
/// Streamed bodies (`ResponseStream`) and WebSocket upgrades are the exception: such a connection is
/// lent to a dedicated thread for as long as the response lasts (see `HandOff`), and a kept-alive
/// connection returns to the loop when its stream ends. Slow clients are bounded by `HTTPLimits`: the
/// head of a request must arrive within the header timeout, a response must make progress within the
/// write timeout, and a connection with nothing to say is closed after the idle timeout.
///
/// Keeps running until `shutdown()` or `shutdown(gracePeriod:)` (its loop thread holds it alive).
public final class HTTPServer: Sendable {
    private struct State {
        var stopped = false
        /// Created with the first listener (it starts the loop thread, which may fail).
        var core: ServerCore?
        var sockets: [ListeningSocket] = []
    }

    private let handler: any HTTPHandler
    private let limits: HTTPLimits
    private let state = Mutex(State())

    /// A server answering with `handler` under `limits`.
    public init(handler: any HTTPHandler, limits: HTTPLimits = HTTPLimits()) {
        self.handler = handler
        self.limits = limits
    }

    /// Serves on a unix socket at `path` (replacing a stale socket file) with file mode `mode`.
    /// Throws `Errno.invalid` after `shutdown()`.
    public func listen(unixPath path: String, mode: UInt32 = 0o600) throws(Errno) {
        let fd = try Socket.listen(unixPath: path, mode: mode)
        try start(ListeningSocket(fd: fd, unixPath: path))
    }

    /// Serves on a numeric `host` address and `port` (0 picks a free port); returns the bound port.
    /// Throws `Errno.invalid` after `shutdown()`.
    @discardableResult
    public func listen(host: String, port: Int) throws(Errno) -> Int {
        let fd = try Socket.listen(host: host, port: port)
        let bound: Int
        do {
            bound = try Socket.localPort(of: fd)
        } catch {
            fd.close()
            throw error
        }
        try start(ListeningSocket(fd: fd, unixPath: nil))
        return bound
    }

    /// Serves a connected, non-blocking socket as if it had been accepted here: a TLS terminator hands
    /// over its plain side this way, with the client's real address. Closed if the server is not running.
    public func serve(connection fd: FileDescriptor, remoteAddress: String?, secure: Bool) {
        guard let core = runningCore else {
            fd.close()
            return
        }
        if !core.loop.execute({ core.adopt(fd, remoteAddress: remoteAddress, secure: secure) }) { fd.close() }
    }

    /// Stops accepting (removing unix socket files), closes every open connection, and cancels running
    /// handlers and streams. Returns without waiting for them to finish. Idempotent.
    public func shutdown() {
        guard let core = stopAccepting() else { return }
        core.loop.execute { core.abortAll() }
    }

    /// Stops accepting at once (removing unix socket files) and closes idle connections; requests under
    /// way (a handler running, a response being written, a stream) finish and their connections close
    /// after the response (`Connection: close`), and WebSockets are asked to close (1001). Whatever is
    /// left after `gracePeriod` is aborted as by `shutdown()`. Returns once every connection is closed;
    /// cancelling the calling task aborts at once.
    public func shutdown(gracePeriod: Duration) async {
        guard let core = stopAccepting() else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                // Refused: the loop already ended, so nothing is left to wait for.
                if !core.loop.execute({ core.drain(gracePeriod: gracePeriod, then: done) }) { done.resume() }
            }
        } onCancel: {
            shutdown()
        }
    }

    /// The number of connections open now.
    public var connectionCount: Int {
        state.withLock { $0.core }?.openConnections.load(ordering: .relaxed) ?? 0
    }

    /// The core, started now if no listener started it yet (a server fed only by `serve(connection:)`);
    /// nil once stopped.
    private var runningCore: ServerCore? {
        state.withLock { state -> ServerCore? in
            guard !state.stopped else { return nil }
            if let core = state.core { return core }
            guard let core = try? ServerCore(handler: handler, limits: limits) else { return nil }
            state.core = core
            return core
        }
    }

    private func start(_ socket: ListeningSocket) throws(Errno) {
        let core: ServerCore
        do {
            try valueOrNegatedErrno(bh_set_nonblocking(socket.fd.rawValue, 1))
            core = try state.withLock { state throws(Errno) -> ServerCore in
                guard !state.stopped else { throw Errno.invalid }
                if let core = state.core {
                    state.sockets.append(socket)
                    return core
                }
                let core = try ServerCore(handler: handler, limits: limits)
                state.core = core
                state.sockets.append(socket)
                return core
            }
        } catch {
            if let path = socket.unixPath { unlink(path) }
            socket.fd.close()
            throw error
        }
        // Refused only when a shutdown already ended the loop.
        if !core.loop.execute({ core.add(socket) }) { socket.fd.close() }
    }

    /// Marks the server stopped and refuses new connections on every listener (the first call does);
    /// the core to finish shutting down, nil if nothing was ever served.
    private func stopAccepting() -> ServerCore? {
        let (sockets, core) = state.withLock { state -> ([ListeningSocket], ServerCore?) in
            state.stopped = true
            defer { state.sockets = [] }
            return (state.sockets, state.core)
        }
        for socket in sockets { socket.refuse() }
        return core
    }
}
