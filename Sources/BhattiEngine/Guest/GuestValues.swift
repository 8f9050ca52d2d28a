/// The values a `SandboxGuest` takes and returns: plain engine types, so the daemon needs nothing
/// of the wire format.

/// A command to run in the guest.
public struct GuestCommand: Sendable, Equatable {
    public var argv: [String]
    /// Over the guest's defaults.
    public var env: [String: String]
    /// The guest's default (`/workspace`) when nil.
    public var cwd: String?
    /// A user of the guest's /etc/passwd (`root`), resolved when the command starts: it runs with
    /// that user's ids, HOME, USER and LOGNAME. Nil: the sandbox's user. Unknown: `.badRequest`.
    public var user: String?
    public init(argv: [String], env: [String: String] = [:], cwd: String? = nil, user: String? = nil) {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.user = user
    }
}

/// A command started without waiting for it.
public struct DetachedCommand: Sendable, Equatable {
    public var pid: Int32
    public var outputFile: String
    public init(pid: Int32, outputFile: String) {
        self.pid = pid
        self.outputFile = outputFile
    }
}

/// What the guest is doing, for the idle check and a sandbox's metrics.
public struct GuestActivity: Sendable, Equatable {
    /// Unix milliseconds of the last request or process output.
    public var lastActivityMs: Int
    public var runningSessions: Int
    public var attachedSessions: Int
    public var runningExecs: Int
    /// CPU time so far in clock ticks, busy and total; nil from a guest that does not say.
    public var cpuBusyTicks: Int?
    public var cpuTotalTicks: Int?
    /// Memory in bytes: all, in use (not available), page cache; nil from a guest that does not say.
    public var memTotalBytes: Int?
    public var memUsedBytes: Int?
    public var memCacheBytes: Int?
    /// The root file system in bytes; nil from a guest that does not say.
    public var diskTotalBytes: Int?
    public var diskUsedBytes: Int?
    public init(
        lastActivityMs: Int, runningSessions: Int, attachedSessions: Int, runningExecs: Int, cpuBusyTicks: Int?, cpuTotalTicks: Int?,
        memTotalBytes: Int? = nil, memUsedBytes: Int? = nil, memCacheBytes: Int? = nil, diskTotalBytes: Int? = nil,
        diskUsedBytes: Int? = nil
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
}

/// A file for the guest to write at setup.
public struct GuestFile: Sendable, Equatable {
    public var path: String
    /// Base64.
    public var content: String
    /// Octal, like "0644".
    public var mode: String
    public init(path: String, content: String, mode: String) {
        self.path = path
        self.content = content
        self.mode = mode
    }
}

/// The part of a guest's configuration the daemon sets: a create's environment, secrets, files and
/// init script, and the owner's names for /etc/hosts.
public struct GuestSettings: Sendable, Equatable {
    public var env: [String: String]
    /// Secrets become environment variables of every command, over `env`.
    public var secrets: [String: String]
    public var files: [GuestFile]
    public var initScript: String?
    /// False keeps the guest's current environment and secrets.
    public var replaceEnvironment: Bool
    /// Names and addresses for /etc/hosts (replacing the last set); nil leaves them.
    public var hosts: [String: String]?
    /// Where commands start when a request names none (an image's `WorkingDir`); nil: /workspace.
    public var workingDirectory: String?
    /// Who commands run as (an image's `User`); nil: `lohar`.
    public var user: String?
    public init(
        env: [String: String], secrets: [String: String], files: [GuestFile], initScript: String?, replaceEnvironment: Bool,
        hosts: [String: String]?, workingDirectory: String? = nil, user: String? = nil
    ) {
        self.workingDirectory = workingDirectory
        self.user = user
        self.env = env
        self.secrets = secrets
        self.files = files
        self.initScript = initScript
        self.replaceEnvironment = replaceEnvironment
        self.hosts = hosts
    }
}

/// A file read, whole or cut.
public struct GuestFileRead: Sendable, Equatable {
    public var path: String
    /// First line to return, 1-based.
    public var offset: Int?
    /// Lines to return.
    public var limit: Int?
    /// Bytes to return at most (may cut a line).
    public var maxBytes: Int?
    public init(path: String, offset: Int?, limit: Int?, maxBytes: Int?) {
        self.path = path
        self.offset = offset
        self.limit = limit
        self.maxBytes = maxBytes
    }
}

/// A read file's whole size and mode, known before its bytes.
public struct GuestFileReadInfo: Sendable, Equatable {
    public var size: Int
    /// Octal, like "0644".
    public var mode: String
    public init(size: Int, mode: String) {
        self.size = size
        self.mode = mode
    }
}

public struct GuestFileInfo: Sendable, Equatable {
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
}

/// A directory's entries, sorted by name; `truncated` past the guest's cap, `total` counted anyway.
public struct GuestFileListing: Sendable, Equatable {
    public var entries: [GuestFileInfo]
    public var truncated: Bool
    public var total: Int
    public init(entries: [GuestFileInfo], truncated: Bool, total: Int) {
        self.entries = entries
        self.truncated = truncated
        self.total = total
    }
}

/// Opens a session (`sessionID` nil) or attaches to one.
public struct GuestSessionRequest: Sendable, Equatable {
    /// A login shell when empty.
    public var argv: [String]
    /// A PTY, or pipes with stderr merged.
    public var tty: Bool
    public var rows: UInt16?
    public var cols: UInt16?
    public var env: [String: String]
    public var sessionID: String?
    /// With `sessionID` nil: attach to the newest detached running session of this kind and user if any.
    public var reuseDetached: Bool
    /// Who a new session runs as, as `GuestCommand.user`; nil: the sandbox's user.
    public var user: String?
    /// Where a new session starts; nil: the guest's default (`/workspace`).
    public var cwd: String?
    public init(
        argv: [String], tty: Bool, rows: UInt16?, cols: UInt16?, env: [String: String], sessionID: String?, reuseDetached: Bool,
        user: String? = nil, cwd: String? = nil
    ) {
        self.argv = argv
        self.tty = tty
        self.rows = rows
        self.cols = cols
        self.env = env
        self.sessionID = sessionID
        self.reuseDetached = reuseDetached
        self.user = user
        self.cwd = cwd
    }
}

public struct GuestSessionInfo: Sendable, Equatable {
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
}

/// One change in a watched directory, as E2B's envd reports it (its `EventType` and `name`).
public struct GuestWatchEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// Made, or moved in (a rename's new name).
        case create
        /// Its content changed.
        case write
        case remove
        /// Moved away (a rename's old name).
        case rename
        /// Its permissions, owner or times changed.
        case chmod
    }
    public var kind: Kind
    /// Relative to the watched directory: `a.txt`, `sub/a.txt`.
    public var name: String
    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
}
