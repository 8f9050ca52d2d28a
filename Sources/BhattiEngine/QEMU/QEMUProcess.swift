public import BhattiSystem
import Foundation
import Glibc
import Synchronization

/// A running QEMU: its pid, its log, and how it ended.
///
/// A dedicated thread waits in waitpid; the termination is recorded here and handed to `onExit`,
/// so a QEMU that dies under a running VM is noticed at once, not at the next request.
public final class QEMUProcess: Sendable {
    public let pid: Int32
    public let logPath: String
    /// Started by an earlier daemon: not our child, so how it ends cannot be known (it reads `exited(-1)`).
    public let adopted: Bool
    private struct State {
        /// Set once waitpid returned: the pid may be reused from then on, so no more signals.
        var reaped = false
        /// Published only after the exit handler ran (see `ended`).
        var termination: Termination?
        var waiters: [CheckedContinuation<Termination, Never>] = []
    }
    private let state = Mutex(State())

    private init(pid: Int32, logPath: String, adopted: Bool = false) {
        self.pid = pid
        self.logPath = logPath
        self.adopted = adopted
    }

    /// Who QEMU runs as and what it sees of the filesystem.
    public struct Confinement: Sendable {
        public var uid: Int32
        public var gid: Int32
        public var groups: [UInt32]
        public var jail: MountJail
    }

    /// Starts `commandLine` with stdout/stderr appended to `logPath`, in its own session so a
    /// terminal's Ctrl+C aimed at the daemon does not reach the VMs. With a confinement, the child
    /// enters its mount namespace and drops to the VMM user before exec: QEMU never holds root, so its
    /// seccomp filter can deny privilege changes outright (`-runas` would need them). With a cgroup,
    /// QEMU runs in it from before its first instruction.
    public static func start(
        _ commandLine: QEMUCommandLine, logPath: String, passing tap: FileDescriptor? = nil, confinement: Confinement? = nil,
        cgroup: CgroupEntry? = nil, onExit: @escaping @Sendable (_ pid: Int32, Termination) -> Void
    ) throws -> QEMUProcess {
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard logFD >= 0 else { throw EngineError.io("open \(logPath)", Errno.current) }
        defer { close(logFD) }
        guard let binary = findExecutable(commandLine.binary) else {
            throw EngineError.unsupported("\(commandLine.binary) not found on PATH (apt-get install qemu-system-x86)")
        }
        var args = commandLine.arguments
        args[0] = binary
        var spawn = Spawn(path: binary, arguments: args, environment: ["PATH=/usr/bin:/bin", "LANG=C"])
        spawn.standardOutput = logFD
        spawn.standardError = logFD
        spawn.newSession = true
        spawn.passedDescriptor = tap?.rawValue
        if let confinement {
            spawn.user = (confinement.uid, confinement.gid, confinement.groups)
            spawn.mountJail = confinement.jail
        }
        spawn.cgroup = cgroup
        let pid: Int32
        do { pid = try spawn.run() } catch { throw EngineError.spawn("QEMU", error) }
        let process = QEMUProcess(pid: pid, logPath: logPath)
        startThread(name: "qemu-wait") {
            process.ended((try? BhattiSystem.waitForExit(pid: pid)) ?? .exited(-1), onExit: onExit)
        }
        return process
    }

    /// Takes over a QEMU started by an earlier daemon (not our child): its exit is seen through a pidfd,
    /// and how it ended is not knowable, so it reads as `exited(-1)`.
    public static func adopt(pid: Int32, logPath: String, onExit: @escaping @Sendable (_ pid: Int32, Termination) -> Void) throws
        -> QEMUProcess
    {
        let pidfd: FileDescriptor
        do { pidfd = try ForeignProcess.open(pid: pid) } catch { throw EngineError.io("watch QEMU pid \(pid)", error) }
        let process = QEMUProcess(pid: pid, logPath: logPath, adopted: true)
        startThread(name: "qemu-watch") {
            try? ForeignProcess.waitForExit(pidfd)
            pidfd.close()
            process.ended(.exited(-1), onExit: onExit)
        }
        return process
    }

    private func ended(_ t: Termination, onExit: @Sendable (Int32, Termination) -> Void) {
        state.withLock { $0.reaped = true }
        // The exit handler before anyone learns of the exit: whoever waits for it (a snapshot ending
        // QEMU, then a restore starting the next one) must find its cleanup (the empty cgroup removed)
        // done, never racing it.
        onExit(pid, t)
        let waiters = state.withLock { s in
            s.termination = t
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume(returning: t) }
    }

    /// How QEMU ended, or nil while it runs.
    public var termination: Termination? { state.withLock { $0.termination } }

    /// Waits for QEMU to end.
    public func waitForExit() async -> Termination {
        await withCheckedContinuation { c in
            let done: Termination? = state.withLock { s in
                if let t = s.termination { return t }
                s.waiters.append(c)
                return nil
            }
            if let done { c.resume(returning: done) }
        }
    }

    /// Sends `signal` to QEMU (a no-op once it has been reaped, so the pid is never reused by mistake).
    public func signal(_ signal: Int32) {
        state.withLock { s in
            if !s.reaped { _ = kill(pid, signal) }
        }
    }

    /// The last lines QEMU wrote, for error messages.
    public func logTail(maxBytes: Int = 2048) -> String {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Searches PATH (and the sbin directories root tools live in) for `name`.
func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for dir in path.split(separator: ":") where !dir.isEmpty {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Runs a short helper tool (qemu-img) to completion on a dedicated thread; throws with its output on failure.
func runTool(_ name: String, _ arguments: [String]) async throws {
    _ = try await toolOutput(name, arguments)
}

/// `runTool`, returning the tool's output (stdout and stderr together).
func toolOutput(_ name: String, _ arguments: [String]) async throws -> String {
    guard let path = findExecutable(name) else { throw EngineError.unsupported("\(name) not found on PATH (apt-get install qemu-utils)") }
    return try await Blocking.run(name: "tool") { () throws -> String in
        let (read, write) = try Pipe.make()
        var spawn = Spawn(path: path, arguments: [name] + arguments, environment: ["PATH=/usr/bin:/bin", "LANG=C"])
        spawn.standardOutput = write.rawValue
        spawn.standardError = write.rawValue
        let pid: Int32
        do { pid = try spawn.run() } catch let e as Errno { throw EngineError.spawn(name, e) }
        write.close()
        var output: [UInt8] = []
        while let chunk = try? read.read(upTo: 4096), !chunk.isEmpty { output += chunk }
        let t = try waitForExit(pid: pid)
        guard t == .exited(0) else {
            throw EngineError.io(
                "\(name) \(arguments.joined(separator: " ")) failed (\(t.described))",
                ToolOutput(text: String(decoding: output, as: UTF8.self)))
        }
        return String(decoding: output, as: UTF8.self)
    }
}

struct ToolOutput: Error, CustomStringConvertible {
    let text: String
    var description: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
}
