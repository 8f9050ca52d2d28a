import BhattiSystem
import Glibc
import Synchronization

/// An HTTP/1.1 server on blocking sockets: one thread per listener blocked in `accept`, one thread per
/// connection; handlers run as tasks, so the cooperative pool never blocks on the network.
///
/// Keeps running until `shutdown()` (its threads hold it alive).
public final class HTTPServer: Sendable {
    private struct State {
        var stopped = false
        var listeners: [Listener] = []
        var connections: [Int: HTTPConnection] = [:]
        var nextConnectionID = 0
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
        try start(Listener(fd: fd, unixPath: path))
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
        try start(Listener(fd: fd, unixPath: nil))
        return bound
    }

    /// Stops accepting (removing unix socket files), closes every open connection, and cancels running
    /// handlers and streams. Returns without waiting for the threads to finish. Idempotent.
    public func shutdown() {
        let (listeners, connections) = state.withLock { state -> ([Listener], [HTTPConnection]) in
            guard !state.stopped else { return ([], []) }
            state.stopped = true
            defer { state.listeners = [] }
            return (state.listeners, Array(state.connections.values))
        }
        for listener in listeners {
            listener.wake()
            if let path = listener.unixPath { unlink(path) }
        }
        for connection in connections { connection.abort() }
    }

    /// The number of connections open now.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    private func start(_ listener: Listener) throws(Errno) {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.listeners.append(listener)
            return true
        }
        guard accepted else {
            listener.close()
            throw Errno.invalid
        }
        startThread(name: "bhatti-http-accept") { [self] in acceptLoop(listener) }
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop(_ listener: Listener) {
        defer { listener.close() }
        while !isStopped {
            // The timeout is a fallback only: `shutdown` wakes both poll and accept at once.
            let ready = (try? listener.fd.poll(timeoutMilliseconds: 500)) ?? 0
            if isStopped { return }
            if ready == 0 { continue }
            do {
                register(try Socket.accept(listener.fd))
            } catch {
                if isStopped || error == .invalid || error == .badFileDescriptor { return }
                // Out of descriptors or memory: back off instead of spinning.
                usleep(50_000)
            }
        }
    }

    private func register(_ fd: FileDescriptor) {
        let connection = state.withLock { state -> HTTPConnection? in
            guard !state.stopped else { return nil }
            state.nextConnectionID += 1
            let connection = HTTPConnection(
                id: state.nextConnectionID, fd: fd, handler: handler, limits: limits,
                onClose: { [weak self] id in self?.unregister(id) })
            state.connections[connection.id] = connection
            return connection
        }
        guard let connection else {
            fd.close()
            return
        }
        startThread(name: "bhatti-http-conn") { connection.run() }
    }

    private func unregister(_ id: Int) {
        _ = state.withLock { $0.connections.removeValue(forKey: id) }
    }
}

/// A listening socket; only its accept thread closes it, so waking it from `shutdown` cannot hit a
/// reused descriptor number.
private final class Listener: Sendable {
    let fd: FileDescriptor
    let unixPath: String?
    private let closed = Mutex(false)

    init(fd: FileDescriptor, unixPath: String?) {
        self.fd = fd
        self.unixPath = unixPath
    }

    /// Wakes a thread blocked in accept or poll on this socket (Linux fails them with EINVAL).
    func wake() {
        closed.withLock { closed in
            if !closed { Glibc.shutdown(fd.rawValue, Int32(SHUT_RDWR)) }
        }
    }

    func close() {
        closed.withLock { closed in
            closed = true
            fd.close()
        }
    }
}
