import CBhattiShim
import Glibc

/// A process that is not our child (so waitpid cannot reap it), watched through a pidfd.
public enum ForeignProcess {
    /// A descriptor that becomes readable when `pid` exits. Taken while the process is known to be the
    /// right one, it keeps naming that process even if the number is later reused.
    public static func open(pid: Int32) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno { bh_pidfd_open(pid) })
    }

    /// Blocks the calling (dedicated) thread until the process behind `pidfd` exits.
    public static func waitForExit(_ pidfd: FileDescriptor) throws(Errno) {
        try pidfd.withRawValue { raw throws(Errno) in _ = try valueOrErrno { bh_pidfd_wait(raw) } }
    }
}
