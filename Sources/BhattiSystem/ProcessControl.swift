import CBhattiShim
import Glibc

/// Process-wide signal plumbing. These are process-global facts: call them from `main` only.
public enum Signals {
    /// Blocks `signal` in the calling thread; threads started afterwards inherit the mask.
    public static func block(_ signal: Int32) { _ = bh_block_signal(signal) }
    /// Waits until `signal` (blocked beforehand) is pending.
    public static func wait(for signal: Int32) { _ = bh_wait_signal(signal) }
    /// EPIPE instead of death when writing to a vanished peer.
    public static func ignoreBrokenPipe() { bh_ignore_sigpipe() }
    /// Blocks SIGTERM and SIGINT so `waitForTermination` can take them (call first thing in main).
    public static func blockTermination() { _ = bh_block_termination() }
    /// Waits (blocking) for SIGTERM or SIGINT; returns the signal.
    public static func waitForTermination() -> Int32 { bh_wait_termination() }
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
