public import BhattiSystem
import Glibc

/// The guest agent: serves host connections with one shared child waiter.
public final class Agent: Sendable {
    public var configuration: AgentConfiguration { state.base }
    let state: AgentState

    public init(configuration: AgentConfiguration) {
        state = AgentState(configuration: configuration)
    }

    /// Serves one connection on the calling thread until the host disconnects.
    public func serve(connection fd: FileDescriptor) {
        AgentSession(fd: fd, state: state).run()
    }

    /// Serves connections on a unix socket forever (test mode: the host side talks to it exactly as
    /// it talks to the virtio-serial port).
    public func serve(unixSocket path: String) throws(Errno) -> Never {
        let listener = try Socket.listen(unixPath: path, mode: 0o600)
        while true {
            guard let connection = try? Socket.accept(listener) else { continue }
            startThread(name: "lohar-conn") { [self] in
                serve(connection: connection)
                connection.close()
            }
        }
    }

    /// Serves the virtio-serial port: one host at a time, for ever. While no host is connected the
    /// port reports POLLHUP (poll cannot wait on it); the virtio console driver raises SIGIO on an
    /// `O_ASYNC` port when a host connects, so the agent sleeps on that signal (through a self-pipe)
    /// and answers a reconnecting host at once, with a slow poll as a safety net.
    public func serve(port: FileDescriptor) -> Never {
        let wakeups = try? Signals.pipe(for: SIGIO)
        let flags = fcntl(port.rawValue, F_GETFL)
        if wakeups != nil { _ = fcntl(port.rawValue, F_SETOWN, getpid()) }
        while true {
            // O_ASYNC only while waiting: with it on, every arriving frame would raise a signal.
            // Set before checking, so a host that connects in between still raises one.
            if wakeups != nil { _ = fcntl(port.rawValue, F_SETFL, flags | O_ASYNC) }
            let events = (try? port.poll(events: Int16(POLLIN), timeoutMilliseconds: -1)) ?? 0
            if events & Int16(POLLIN) == 0 {
                // No host on the other end: wait for the connect signal (or re-check every 250 ms).
                if let wakeups, (try? wakeups.poll(events: Int16(POLLIN), timeoutMilliseconds: 250)) ?? 0 != 0 {
                    _ = try? wakeups.read(upTo: 4096)
                }
                continue
            }
            _ = fcntl(port.rawValue, F_SETFL, flags)
            serve(connection: port)
        }
    }
}
