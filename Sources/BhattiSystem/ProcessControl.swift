import CBhattiShim
import Glibc

/// Process-wide signal plumbing. These are process-global facts: call them from `main` only.
public enum Signals {
    /// Delivers `signal` through a pipe: each arrival makes one byte readable on the returned
    /// descriptor. Independent of thread signal masks, so it works however many threads exist.
    public static func pipe(for signal: Int32) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrNegatedErrno(bh_signal_pipe(signal)))
    }
    /// EPIPE instead of death when writing to a vanished peer.
    public static func ignoreBrokenPipe() { bh_ignore_sigpipe() }
    /// SIGTERM/SIGINT sync the disks and power off (PID 1 only).
    public static func powerOffOnTerminate() { _ = bh_poweroff_on_sigterm() }
}

/// Facts and actions of the machine itself.
public enum Machine {
    /// The kernel's boot id (changes on reboot, not on snapshot restore).
    public static func bootID() -> String {
        var buf = [CChar](repeating: 0, count: 64)
        guard bh_boot_id(&buf, buf.count) > 0 else { return "unknown" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func mount(source: String, target: String, type: String, flags: UInt = 0, data: String? = nil) throws(Errno) {
        let rc: Int32 = if let data { bh_mount(source, target, type, flags, data) } else { bh_mount(source, target, type, flags, nil) }
        try valueOrNegatedErrno(rc)
    }

    public static func setHostname(_ name: String) throws(Errno) { try valueOrNegatedErrno(bh_sethostname(name)) }
    public static func interfaceUp(_ name: String) throws(Errno) { try valueOrNegatedErrno(bh_if_up(name)) }
    /// sync(2) and power off; returns only on failure.
    public static func powerOff() -> Errno { Errno(rawValue: -bh_poweroff()) }
}

extension Signals {
    /// Blocks until one of `fds` is readable; returns it.
    public static func waitReadable(_ fds: [FileDescriptor]) throws(Errno) -> FileDescriptor {
        var polls = fds.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
        while true {
            _ = try valueOrErrno { Glibc.poll(&polls, nfds_t(polls.count), -1) }
            if let i = polls.firstIndex(where: { $0.revents != 0 }) { return fds[i] }
        }
    }
}
