import BhattiSystem
import BhattiWire
import Glibc
import Synchronization

/// What outlives a host connection: the configuration delivered at boot, sessions, activity, the
/// child waiter, and the operation limit.
final class AgentState: Sendable {
    let base: AgentConfiguration
    let waiter: ChildWaiter
    let sessions: SessionRegistry
    /// At most this many streams (execs, attachments, transfers, forwards) open at once.
    static let maxOperations = 50
    private struct Runtime {
        var env: [String: String] = [:]
        var secrets: [String: String] = [:]
        var workingDirectory: String?
        /// The image's `User`, resolved in this guest; nil runs commands as `base.user`.
        var user: UserSpec?
        var token: String
        var lastActivityMs: Int
        var openOperations = 0
        var runningExecs = 0
    }
    private let runtime: Mutex<Runtime>

    init(configuration: AgentConfiguration) {
        base = configuration
        waiter = ChildWaiter(reapsAll: configuration.reapsAllChildren)
        runtime = Mutex(Runtime(token: configuration.token, lastActivityMs: unixMilliseconds()))
        sessions = SessionRegistry(keepExitedSeconds: configuration.keepExitedSessionSeconds)
    }

    var token: String { runtime.withLock { $0.token } }

    /// The environment for a new process: defaults ← its user's HOME, USER and LOGNAME (`command`'s
    /// when it names one, else the sandbox's) ← sandbox env ← secrets ← the request's own.
    func environment(overriding request: [String: String], for command: CommandUser? = nil) -> [String: String] {
        var env = base.defaultEnvironment
        runtime.withLock { r in
            if let user = command?.named ?? r.user {
                env["HOME"] = user.home
                env["USER"] = user.name ?? String(user.uid)
                env["LOGNAME"] = env["USER"]
            }
            for (k, v) in r.env { env[k] = v }
            for (k, v) in r.secrets { env[k] = v }
        }
        for (k, v) in request { env[k] = v }
        return env
    }

    /// Where a command starts when its request names no `cwd`: the sandbox's (an image's
    /// `WorkingDir`), else the configuration's.
    var workingDirectory: String { runtime.withLock { $0.workingDirectory } ?? base.defaultWorkingDirectory }

    /// The identity commands and written files get: the image's `User` when it has one, else the
    /// configuration's.
    var user: (uid: Int32, gid: Int32)? { runtime.withLock { $0.user }.map { ($0.uid, $0.gid) } ?? base.user }

    /// Who owns what the host writes (files, their parents, directories it makes): the sandbox's user.
    var fileOwner: AtomicFile.Owner? { user.map { AtomicFile.Owner(uid: uid_t(bitPattern: $0.uid), gid: gid_t(bitPattern: $0.gid)) } }

    /// Records the sandbox-wide env, secrets, working directory, user and token from `configure` (kept
    /// in memory only).
    func apply(env: [String: String], secrets: [String: String], workingDirectory: String? = nil, user: UserSpec? = nil, token: String?) {
        runtime.withLock { r in
            r.env = env
            r.secrets = secrets
            r.workingDirectory = workingDirectory.flatMap { $0.isEmpty ? nil : $0 }
            r.user = user
            if let token { r.token = token }
        }
    }

    func apply(token: String?) {
        if let token { runtime.withLock { $0.token = token } }
    }

    /// Something happened: a request, or output from a process.
    func touch() { runtime.withLock { $0.lastActivityMs = unixMilliseconds() } }

    /// Reserves an operation slot; false when `maxOperations` are open.
    func beginOperation() -> Bool {
        runtime.withLock { r in
            guard r.openOperations < AgentState.maxOperations else { return false }
            r.openOperations += 1
            return true
        }
    }

    func endOperation() { runtime.withLock { $0.openOperations = max(0, $0.openOperations - 1) } }

    func execStarted() { runtime.withLock { $0.runningExecs += 1 } }
    func execEnded() { runtime.withLock { $0.runningExecs = max(0, $0.runningExecs - 1) } }

    /// Read when asked (a thermal probe, a metrics sample), never kept up to date in between: an idle
    /// guest does nothing for them. Memory and disk only with `usage`: the idle probes, which come
    /// often, do not need them.
    func activity(usage: Bool = false) -> Activity {
        let (last, execs) = runtime.withLock { ($0.lastActivityMs, $0.runningExecs) }
        let (running, attached) = sessions.counts()
        let cpu = cpuTicks()
        let memory = usage ? (try? readWholeFile("/proc/meminfo")).flatMap { MemInfo.parse(String(decoding: $0, as: UTF8.self)) } : nil
        let disk = usage ? DiskSpace.usage("/") : nil
        return Activity(
            lastActivityMs: last, runningSessions: running, attachedSessions: attached, runningExecs: execs,
            cpuBusyTicks: cpu?.busy, cpuTotalTicks: cpu?.total, memTotalBytes: memory?.total, memUsedBytes: memory?.used,
            memCacheBytes: memory?.cache, diskTotalBytes: disk.map { Int(clamping: $0.total) },
            diskUsedBytes: disk.map { Int(clamping: $0.used) })
    }
}

/// The first line of /proc/stat: busy ticks (everything but idle and iowait) and all ticks.
func cpuTicks(stat path: String = "/proc/stat") -> (busy: Int, total: Int)? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    guard fgets(&line, Int32(line.count), file) != nil else { return nil }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .split(separator: " ").dropFirst().compactMap { Int($0.filter { $0 != "\n" }) }
    guard fields.count >= 5 else { return nil }
    // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user/nice).
    let counted = Array(fields.prefix(8))
    let total = counted.reduce(0, +)
    return (total - counted[3] - counted[4], total)
}

func unixMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
