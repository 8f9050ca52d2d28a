import CBhattiShim
import Glibc

/// Stream sockets: unix and TCP, blocking, close-on-exec.
public enum Socket {
    /// The longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL).
    public static let maxUnixPathLength = 107

    public static func connect(unixPath path: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_unix_connect(path)))
    }

    /// Listens on `path`, replacing a stale socket file, with file mode `mode`.
    public static func listen(unixPath path: String, mode: UInt32 = 0o600, backlog: Int32 = 128) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_unix_listen(path, backlog, mode)))
    }

    /// Listens on a numeric address; port 0 picks a free one (see `localPort`).
    public static func listen(host: String, port: Int, backlog: Int32 = 128) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_tcp_listen(host, Int32(port), backlog)))
    }

    public static func connect(host: String, port: Int) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_tcp_connect(host, Int32(port))))
    }

    public static func localPort(of fd: FileDescriptor) throws(Errno) -> Int {
        Int(try valueOrNegatedErrno(bh_tcp_local_port(fd.rawValue)))
    }

    /// Blocks until a connection arrives.
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_accept(listener.rawValue)))
    }
}
