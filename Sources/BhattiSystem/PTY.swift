import CBhattiShim
import Glibc

/// Pseudo-terminals for interactive sessions: the master stays with the caller, the slave becomes a
/// process's terminal.
public enum PTY {
    /// Opens a master/slave pair (both close-on-exec) whose window is `rows` x `cols`.
    public static func open(rows: UInt16, cols: UInt16) throws(Errno) -> (master: FileDescriptor, slave: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try valueOrNegatedErrno(bh_openpty(&fds, rows, cols))
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// Sets the window size; the terminal's foreground process group gets SIGWINCH.
    public static func setSize(_ fd: FileDescriptor, rows: UInt16, cols: UInt16) throws(Errno) {
        try valueOrNegatedErrno(bh_set_winsize(fd.rawValue, rows, cols))
    }

    /// The terminal's foreground process group (asked through the master, on Linux).
    public static func foregroundGroup(_ fd: FileDescriptor) throws(Errno) -> Int32 {
        try valueOrNegatedErrno(bh_foreground_pgrp(fd.rawValue))
    }
}

/// A counter that wakes a poller: `signal` makes it readable. Never raises SIGPIPE, whoever is gone.
public enum EventCounter {
    /// A close-on-exec eventfd at zero.
    public static func make() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_eventfd()))
    }

    /// Adds one to the counter behind `fd`, making it readable.
    public static func signal(_ fd: FileDescriptor) {
        var one: UInt64 = 1
        _ = Glibc.write(fd.rawValue, &one, 8)
    }
}

extension FileDescriptor {
    /// A second, independently closable descriptor for the same open file (close-on-exec), so two
    /// threads can each own and close theirs.
    public func duplicate() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_dup_cloexec(rawValue)))
    }
}

extension Spawn {
    /// Starts the process as the leader of a new session whose controlling terminal is its standard
    /// input (which must be a PTY slave). `newSession` and `newProcessGroup` do not apply.
    public func runOnTerminal() throws(Errno) -> Int32 {
        var onTerminal = self
        onTerminal.controllingTerminal = true
        return try onTerminal.run()
    }
}
