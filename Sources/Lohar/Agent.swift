import BhattiSystem
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
    /// port reports POLLHUP; the next host to connect gets a fresh session (and must say hello).
    public func serve(port: FileDescriptor) -> Never {
        while true {
            let events = (try? port.poll(events: Int16(POLLIN), timeoutMilliseconds: -1)) ?? 0
            if events & Int16(POLLIN) == 0 {
                // No host on the other end: nothing to read until one connects.
                usleep(2000)
                continue
            }
            serve(connection: port)
        }
    }
}
