import CBhattiShim

/// TAP devices inside network namespaces.
public enum Tap {
    /// Opens (creating if absent) tap `name` in the namespace `/run/netns/<namespace>`; the caller's
    /// namespace is not changed. The fd keeps the tap's traffic: hand it to the VMM.
    public static func open(namespace: String, name: String) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_tap_open("/run/netns/" + namespace, name)))
    }
}
