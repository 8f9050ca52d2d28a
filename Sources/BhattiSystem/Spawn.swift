import CBhattiShim
import Glibc

/// Fork+exec through the C shim, so nothing runs in Swift between fork and exec.
public struct Spawn: Sendable {
    public var path: String
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String?
    public var standardInput: Int32 = -1
    public var standardOutput: Int32 = -1
    public var standardError: Int32 = -1
    public var user: (uid: Int32, gid: Int32, groups: [UInt32])?
    public var newSession = false
    public var newProcessGroup = false
    /// A new session whose controlling terminal is standard input (which must be a PTY slave).
    public var controllingTerminal = false
    /// Becomes fd 3 in the child (QEMU's `-netdev tap,fd=3`).
    public var passedDescriptor: Int32?
    /// A private mount namespace for the child, entered before ids are dropped (needs root).
    public var mountJail: MountJail?
    /// The cgroup the child runs in from its start, before it execs.
    public var cgroup: CgroupEntry?

    public init(path: String, arguments: [String], environment: [String], workingDirectory: String? = nil) {
        self.path = path
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Starts the process; throws the errno of the step that failed in the child (e.g. ENOENT for a
    /// missing executable, or the chdir failure).
    public func run() throws(Errno) -> Int32 {
        let argv = CStringArray(arguments)
        let envp = CStringArray(environment)
        let groups = user?.groups ?? []
        let masks = CStringArray(mountJail?.masks ?? [])
        let sources = CStringArray(mountJail?.binds.map(\.source) ?? [])
        let targets = CStringArray(mountJail?.binds.map(\.target) ?? [])
        let readOnly = mountJail?.binds.map { Int32($0.readOnly ? 1 : 0) } ?? []
        var tasksFiles: [String] = []
        if case .v1(let files) = cgroup { tasksFiles = files }
        let tasks = CStringArray(tasksFiles)
        let pid: Int32 = readOnly.withUnsafeBufferPointer { ro in
            groups.withUnsafeBufferPointer { g in
                withOptionalCString(workingDirectory) { cwd in
                    path.withCString { p in
                        var o = bh_spawn_opts()
                        o.path = p
                        o.argv = UnsafePointer(argv.pointer)
                        o.envp = UnsafePointer(envp.pointer)
                        o.cwd = cwd
                        o.stdin_fd = standardInput
                        o.stdout_fd = standardOutput
                        o.stderr_fd = standardError
                        o.uid = user?.uid ?? -1
                        o.gid = user?.gid ?? -1
                        o.groups = g.baseAddress
                        o.ngroups = Int32(g.count)
                        o.new_session = newSession ? 1 : 0
                        o.new_pgroup = newProcessGroup ? 1 : 0
                        o.controlling_tty = controllingTerminal ? 1 : 0
                        o.pass_fd_given = passedDescriptor == nil ? 0 : 1
                        o.pass_fd = passedDescriptor ?? -1
                        if let mountJail {
                            o.new_mount_ns = 1
                            o.masks = UnsafePointer(masks.constPointer)
                            o.nmasks = Int32(mountJail.masks.count)
                            o.bind_sources = UnsafePointer(sources.constPointer)
                            o.bind_targets = UnsafePointer(targets.constPointer)
                            o.bind_readonly = ro.baseAddress
                            o.nbinds = Int32(mountJail.binds.count)
                        }
                        o.join_tasks = UnsafePointer(tasks.constPointer)
                        o.njoin_tasks = Int32(tasksFiles.count)
                        if case .v2(let directory) = cgroup {
                            o.cgroup_fd_given = 1
                            o.cgroup_fd = directory
                        }
                        return bh_spawn(&o)
                    }
                }
            }
        }
        return try valueOrNegatedErrno(pid)
    }
}

/// How a spawned child enters its cgroup without the parent migrating it afterwards (a migration
/// takes the kernel's global threadgroup lock and waits out an RCU grace period: 7–20 ms on a 2-core
/// host, on the path of every VM start).
public enum CgroupEntry: Sendable, Equatable {
    /// cgroup v1: the child writes "0" to each of these `tasks` files before exec (a lone thread
    /// moving itself needs no global lock).
    case v1([String])
    /// cgroup v2: the child is created inside this open directory (clone3, CLONE_INTO_CGROUP).
    case v2(Int32)
}

/// How a process ended.
public enum Termination: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// Shell convention: the exit code, or 128 + the signal number.
    public var exitCode: Int32 {
        switch self {
        case .exited(let c): c
        case .signaled(let s): 128 + s
        }
    }

    public init(waitStatus s: Int32) {
        if s & 0x7f == 0 { self = .exited((s >> 8) & 0xff) } else { self = .signaled(s & 0x7f) }
    }

    /// How a process ended, for people: `exited with status 1`, `killed by signal 9 (Killed)`.
    public var described: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal):
            "killed by signal \(signal)" + (strsignal(signal).map { " (\(String(cString: $0)))" } ?? "")
        }
    }
}

/// Blocks in waitpid for `pid` (call from a dedicated thread).
public func waitForExit(pid: Int32) throws(Errno) -> Termination {
    var status: Int32 = 0
    try valueOrErrno { waitpid(pid, &status, 0) }
    return Termination(waitStatus: status)
}

private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

/// What a child sees of the filesystem: tmpfs over `masks` (outermost first, so a mask inside another
/// is pointless), then each bind's `source` directory at `target`. Sources are opened before the masks
/// go up, so a bind may bring back a directory a mask hid.
public struct MountJail: Sendable, Equatable {
    public struct Bind: Sendable, Equatable {
        public var source: String
        public var target: String
        public var readOnly: Bool
        public init(source: String, target: String, readOnly: Bool) {
            self.source = source
            self.target = target
            self.readOnly = readOnly
        }
    }
    public var masks: [String]
    public var binds: [Bind]
    public init(masks: [String], binds: [Bind]) {
        self.masks = masks
        self.binds = binds
    }
}

/// A NULL-terminated `char *const *` that lives as long as the value.
final class CStringArray {
    var constPointer: UnsafePointer<UnsafePointer<CChar>?> {
        UnsafeRawPointer(pointer).assumingMemoryBound(to: UnsafePointer<CChar>?.self)
    }

    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
        pointer[strings.count] = nil
    }

    deinit {
        for i in 0..<count { free(pointer[i]) }
        pointer.deallocate()
    }
}
