import FoundationEssentials

/// Opens a session (`session_id` nil) or attaches to one.
public struct SessionRequest: Codable, Equatable, Sendable {
    /// The command; a login shell (`bash -l`) when empty.
    public var argv: [String]
    /// A PTY (interactive) or pipes with stderr merged (long-running programs).
    public var tty: Bool
    public var rows: UInt16?
    public var cols: UInt16?
    public var env: [String: String]
    public var cwd: String?
    /// Attach to this session instead of opening one; the current client, if any, is taken over.
    public var sessionID: String?
    /// With `sessionID` nil: attach to the newest detached running session of this kind if there is one.
    public var reuseDetached: Bool
    /// A detached session idle this long is killed; nil keeps it for ever.
    public var idleTimeoutSeconds: Int?
    /// Who a new session runs as: a user of the guest's /etc/passwd; nil is the sandbox's user. Only
    /// for agents listing `AgentCapability.commandUser`.
    public var user: String?

    public init(
        argv: [String] = [], tty: Bool = true, rows: UInt16? = nil, cols: UInt16? = nil, env: [String: String] = [:],
        cwd: String? = nil, sessionID: String? = nil, reuseDetached: Bool = false, idleTimeoutSeconds: Int? = nil,
        user: String? = nil
    ) {
        self.argv = argv
        self.tty = tty
        self.rows = rows
        self.cols = cols
        self.env = env
        self.cwd = cwd
        self.sessionID = sessionID
        self.reuseDetached = reuseDetached
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case argv, tty, rows, cols, env, cwd, user
        case sessionID = "session_id"
        case reuseDetached = "reuse_detached"
        case idleTimeoutSeconds = "idle_timeout_s"
    }
}

/// What the agent knows of a session.
public struct SessionInfo: Codable, Equatable, Sendable {
    public var sessionID: String
    public var argv: [String]
    public var tty: Bool
    public var running: Bool
    public var exitCode: Int32?
    public var attached: Bool
    /// Unix seconds.
    public var createdAt: Int

    public init(sessionID: String, argv: [String], tty: Bool, running: Bool, exitCode: Int32?, attached: Bool, createdAt: Int) {
        self.sessionID = sessionID
        self.argv = argv
        self.tty = tty
        self.running = running
        self.exitCode = exitCode
        self.attached = attached
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case argv, tty, running, attached
        case sessionID = "session_id"
        case exitCode = "exit_code"
        case createdAt = "created_at"
    }
}

public struct SessionKillRequest: Codable, Equatable, Sendable {
    public var sessionID: String
    public init(sessionID: String) { self.sessionID = sessionID }
    enum CodingKeys: String, CodingKey { case sessionID = "session_id" }
}

/// Read a regular file, optionally truncated: whichever of the limits is hit first stops the read.
public struct FileReadRequest: Codable, Equatable, Sendable {
    public var path: String
    /// First line to return, 1-based.
    public var offset: Int?
    /// Lines to return.
    public var limit: Int?
    /// Bytes to return at most (may cut a line).
    public var maxBytes: Int?

    public init(path: String, offset: Int? = nil, limit: Int? = nil, maxBytes: Int? = nil) {
        self.path = path
        self.offset = offset
        self.limit = limit
        self.maxBytes = maxBytes
    }

    enum CodingKeys: String, CodingKey {
        case path, offset, limit
        case maxBytes = "max_bytes"
    }
}

/// The first reply to a read: the file's whole size, whatever part of it follows.
public struct FileReadInfo: Codable, Equatable, Sendable {
    public var size: Int
    public var mode: String
    public init(size: Int, mode: String) {
        self.size = size
        self.mode = mode
    }
}

/// Write a file atomically: temp in the same directory, fsync, rename.
public struct FileWriteRequest: Codable, Equatable, Sendable {
    public var path: String
    /// Octal, e.g. "0644".
    public var mode: String
    /// Exact byte count that follows in `data` frames.
    public var size: Int

    public init(path: String, mode: String = "0644", size: Int) {
        self.path = path
        self.mode = mode
        self.size = size
    }
}

public struct PathRequest: Codable, Equatable, Sendable {
    public var path: String
    public init(path: String) { self.path = path }
}

public struct FileInfo: Codable, Equatable, Sendable {
    public var name: String
    public var size: Int
    public var mode: String
    public var isDir: Bool
    /// Unix seconds.
    public var mtime: Int

    public init(name: String, size: Int, mode: String, isDir: Bool, mtime: Int) {
        self.name = name
        self.size = size
        self.mode = mode
        self.isDir = isDir
        self.mtime = mtime
    }

    enum CodingKeys: String, CodingKey {
        case name, size, mode, mtime
        case isDir = "is_dir"
    }
}

/// The reply to `file_make_directory`: false when the directory was already there.
public struct MakeDirectoryReply: Codable, Equatable, Sendable {
    public var created: Bool
    public init(created: Bool) { self.created = created }
}

/// Renames `source` to `destination` (both in the guest; relative paths from /workspace).
public struct MoveRequest: Codable, Equatable, Sendable {
    public var source: String
    public var destination: String
    public init(source: String, destination: String) {
        self.source = source
        self.destination = destination
    }
}

/// A directory listing, capped (`truncated` says so, `total` counts every entry).
public struct FileListing: Codable, Equatable, Sendable {
    public var entries: [FileInfo]
    public var truncated: Bool
    public var total: Int
    public init(entries: [FileInfo], truncated: Bool, total: Int) {
        self.entries = entries
        self.truncated = truncated
        self.total = total
    }
}

public struct ForwardRequest: Codable, Equatable, Sendable {
    public var port: Int
    public init(port: Int) { self.port = port }
}

/// The `activity` request's payload: `usage` asks for the memory and disk figures too (a metrics
/// sample). Empty (the thermal manager's idle probes, and hosts that predate it) leaves them out.
public struct ActivityRequest: Codable, Equatable, Sendable {
    public var usage: Bool
    public init(usage: Bool) { self.usage = usage }
}

/// What the thermal manager needs to know, and what a sandbox's metrics show.
public struct Activity: Codable, Equatable, Sendable {
    /// Unix milliseconds of the last request or process output.
    public var lastActivityMs: Int
    public var runningSessions: Int
    public var attachedSessions: Int
    public var runningExecs: Int
    /// The guest's CPU time so far in clock ticks (/proc/stat): busy (not idle or iowait) and total.
    /// Two readings give the guest's CPU use in between; nil from an agent that predates them.
    public var cpuBusyTicks: Int?
    public var cpuTotalTicks: Int?
    /// Memory in bytes (/proc/meminfo): `MemTotal`, `MemTotal - MemAvailable`, `Cached + Buffers`.
    /// Only when the request asked for `usage`; nil from an agent that predates them, or when it
    /// could not read them.
    public var memTotalBytes: Int?
    public var memUsedBytes: Int?
    public var memCacheBytes: Int?
    /// The root file system in bytes (statvfs of `/`, as `df` counts); nil as the memory fields.
    public var diskTotalBytes: Int?
    public var diskUsedBytes: Int?

    public init(
        lastActivityMs: Int, runningSessions: Int, attachedSessions: Int, runningExecs: Int,
        cpuBusyTicks: Int? = nil, cpuTotalTicks: Int? = nil, memTotalBytes: Int? = nil, memUsedBytes: Int? = nil,
        memCacheBytes: Int? = nil, diskTotalBytes: Int? = nil, diskUsedBytes: Int? = nil
    ) {
        self.lastActivityMs = lastActivityMs
        self.runningSessions = runningSessions
        self.attachedSessions = attachedSessions
        self.runningExecs = runningExecs
        self.cpuBusyTicks = cpuBusyTicks
        self.cpuTotalTicks = cpuTotalTicks
        self.memTotalBytes = memTotalBytes
        self.memUsedBytes = memUsedBytes
        self.memCacheBytes = memCacheBytes
        self.diskTotalBytes = diskTotalBytes
        self.diskUsedBytes = diskUsedBytes
    }

    enum CodingKeys: String, CodingKey {
        case lastActivityMs = "last_activity_ms"
        case runningSessions = "running_sessions"
        case attachedSessions = "attached_sessions"
        case runningExecs = "running_execs"
        case cpuBusyTicks = "cpu_busy_ticks"
        case cpuTotalTicks = "cpu_total_ticks"
        case memTotalBytes = "mem_total_bytes"
        case memUsedBytes = "mem_used_bytes"
        case memCacheBytes = "mem_cache_bytes"
        case diskTotalBytes = "disk_total_bytes"
        case diskUsedBytes = "disk_used_bytes"
    }
}

/// The reply to a detached exec.
public struct DetachedExec: Codable, Equatable, Sendable {
    public var pid: Int32
    public var outputFile: String
    public init(pid: Int32, outputFile: String) {
        self.pid = pid
        self.outputFile = outputFile
    }
    enum CodingKeys: String, CodingKey {
        case pid
        case outputFile = "output_file"
    }
}

/// The guest's configuration, sent over the channel whenever part of it changes: after boot (token,
/// hostname, network), after a clone (a new identity), with a create's env, secrets, files and init, when
/// the disk grows, when the owner's names change. Absent fields are left as they are (env and secrets
/// are replaced unless `replaceEnvironment` is false). Never written to the guest's disk (secrets, token).
public struct GuestConfig: Codable, Equatable, Sendable {
    public struct File: Codable, Equatable, Sendable {
        public var path: String
        /// Base64.
        public var content: String
        public var mode: String
        public init(path: String, content: String, mode: String = "0644") {
            self.path = path
            self.content = content
            self.mode = mode
        }
    }

    public var hostname: String?
    public var env: [String: String]
    /// Secrets become environment variables of every command, over `env`.
    public var secrets: [String: String]
    public var files: [File]
    /// `A.B.C.D/NN` for eth0.
    public var address: String?
    public var gateway: String?
    /// eth0's MAC (a restored copy of another VM's memory still has that VM's).
    public var mac: String?
    /// Names of the user's other sandboxes and their addresses, for /etc/hosts (replaces the last set).
    public var hosts: [String: String]?
    public var dns: [String]
    /// Run as session `init` (`sh -c`, as lohar, in /workspace).
    public var initScript: String?
    /// From now on hello must carry this token.
    public var token: String?
    /// Base64 random bytes mixed into the guest's pool: a restored or forked guest would otherwise
    /// share its random state with every other copy of the same memory.
    public var entropy: String?
    /// False keeps the guest's current environment and secrets (a fork); true replaces them.
    public var replaceEnvironment: Bool
    /// The root disk was enlarged to this many bytes: grow its file system to fill it.
    public var diskBytes: UInt64?
    /// Where commands start when a request names no `cwd` (an image's `WorkingDir`); nil keeps
    /// /workspace. Replaced with the environment (`replace_env`).
    public var workingDir: String?
    /// Who commands run as (an image's `User`: `name`, `uid`, `name:group`, `uid:gid`), resolved in the
    /// guest; nil keeps `lohar`. Replaced with the environment (`replace_env`).
    public var user: String?

    public init(
        hostname: String? = nil, env: [String: String] = [:], secrets: [String: String] = [:], files: [File] = [],
        address: String? = nil, gateway: String? = nil, dns: [String] = [], initScript: String? = nil, token: String? = nil,
        entropy: String? = nil, replaceEnvironment: Bool = true, diskBytes: UInt64? = nil, workingDir: String? = nil,
        user: String? = nil
    ) {
        self.user = user
        self.workingDir = workingDir
        self.diskBytes = diskBytes
        self.entropy = entropy
        self.replaceEnvironment = replaceEnvironment
        self.hostname = hostname
        self.env = env
        self.secrets = secrets
        self.files = files
        self.address = address
        self.gateway = gateway
        self.dns = dns
        self.initScript = initScript
        self.token = token
    }

    enum CodingKeys: String, CodingKey {
        case hostname, env, secrets, files, address, gateway, dns, token, entropy, mac, hosts, user
        case diskBytes = "disk_bytes"
        case workingDir = "cwd"
        case initScript = "init"
        case replaceEnvironment = "replace_env"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        secrets = try c.decodeIfPresent([String: String].self, forKey: .secrets) ?? [:]
        files = try c.decodeIfPresent([File].self, forKey: .files) ?? []
        address = try c.decodeIfPresent(String.self, forKey: .address)
        gateway = try c.decodeIfPresent(String.self, forKey: .gateway)
        mac = try c.decodeIfPresent(String.self, forKey: .mac)
        hosts = try c.decodeIfPresent([String: String].self, forKey: .hosts)
        dns = try c.decodeIfPresent([String].self, forKey: .dns) ?? []
        initScript = try c.decodeIfPresent(String.self, forKey: .initScript)
        token = try c.decodeIfPresent(String.self, forKey: .token)
        entropy = try c.decodeIfPresent(String.self, forKey: .entropy)
        replaceEnvironment = try c.decodeIfPresent(Bool.self, forKey: .replaceEnvironment) ?? true
        diskBytes = try c.decodeIfPresent(UInt64.self, forKey: .diskBytes)
        workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir)
        user = try c.decodeIfPresent(String.self, forKey: .user)
    }
}

/// An empty JSON object, for `result` frames that only acknowledge.
public struct Empty: Codable, Equatable, Sendable {
    public init() {}
}
