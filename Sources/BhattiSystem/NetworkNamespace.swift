import CBhattiShim

/// Sockets in other network namespaces.
public enum NetworkNamespace {
    /// A non-blocking socket bound to `host:port` in `/run/netns/<namespace>` (`stream`: listening TCP,
    /// else UDP). The caller's namespace is not changed: a short-lived thread enters the namespace to make
    /// it, and the socket stays in that namespace wherever it is used.
    public static func bind(namespace: String, stream: Bool, host: String, port: Int) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_netns_bind("/run/netns/" + namespace, stream ? 1 : 0, host, Int32(port))))
    }
}
