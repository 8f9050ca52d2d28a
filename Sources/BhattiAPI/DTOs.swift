import BhattiCore
import Foundation

/// The sandbox as the API shows it (SPEC §4).
public struct SandboxDTO: Codable, Equatable, Sendable {
    public var id: String
    public var name: String
    public var state: String
    public var cpus: Int
    public var memoryMB: Int
    public var diskMB: Int?
    public var ip: String?
    public var image: String
    public var labels: [String: String]
    public var keepHot: Bool
    public var createdAt: String
    public var urls: [String]
    /// Why the sandbox is in `error`.
    public var stateReason: String?
    /// `public` or `deny`.
    public var egress: String?
    public var allowCIDRs: [String]?

    public init(
        id: String, name: String, state: String, cpus: Int, memoryMB: Int, diskMB: Int?, ip: String?, image: String,
        labels: [String: String], keepHot: Bool, createdAt: String, urls: [String], stateReason: String?,
        egress: String? = nil, allowCIDRs: [String]? = nil
    ) {
        self.egress = egress
        self.allowCIDRs = allowCIDRs
        self.id = id
        self.name = name
        self.state = state
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.diskMB = diskMB
        self.ip = ip
        self.image = image
        self.labels = labels
        self.keepHot = keepHot
        self.createdAt = createdAt
        self.urls = urls
        self.stateReason = stateReason
    }

    enum CodingKeys: String, CodingKey {
        case id, name, state, cpus, ip, image, labels, urls
        case memoryMB = "memory_mb"
        case diskMB = "disk_mb"
        case keepHot = "keep_hot"
        case createdAt = "created_at"
        case stateReason = "state_reason"
        case egress
        case allowCIDRs = "allow_cidrs"
    }
}

/// `POST /v1/sandboxes`.
public struct CreateSandboxRequest: Codable, Equatable, Sendable {
    public var name: String?
    public var cpus: Int?
    public var memoryMB: Int?
    public var diskMB: Int?
    public var labels: [String: String]?
    public var keepHot: Bool?
    /// A running sandbox to fork (its memory and disk) instead of booting.
    public var from: String?
    /// Environment of every command in the guest.
    public var env: [String: String]?
    /// Names of the caller's secrets, delivered as environment variables (over `env`).
    public var secrets: [String]?
    public var files: [GuestFileDTO]?
    /// A script run once as the session `init`.
    public var initScript: String?
    /// `public` (default) or `deny`.
    public var egress: String?
    /// IPv4 CIDRs still reachable with `egress: deny`.
    public var allowCIDRs: [String]?
    /// The image to boot; absent: the daemon's default.
    public var image: String?

    public init(
        name: String? = nil, cpus: Int? = nil, memoryMB: Int? = nil, diskMB: Int? = nil, labels: [String: String]? = nil,
        keepHot: Bool? = nil, from: String? = nil, env: [String: String]? = nil, secrets: [String]? = nil,
        files: [GuestFileDTO]? = nil, initScript: String? = nil, egress: String? = nil, allowCIDRs: [String]? = nil,
        image: String? = nil
    ) {
        self.image = image
        self.egress = egress
        self.allowCIDRs = allowCIDRs
        self.from = from
        self.name = name
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.diskMB = diskMB
        self.labels = labels
        self.keepHot = keepHot
        self.env = env
        self.secrets = secrets
        self.files = files
        self.initScript = initScript
    }

    enum CodingKeys: String, CodingKey {
        case name, cpus, labels, from, env, secrets, files, image
        case memoryMB = "memory_mb"
        case diskMB = "disk_mb"
        case keepHot = "keep_hot"
        case initScript = "init"
        case egress
        case allowCIDRs = "allow_cidrs"
    }

    /// Fields the contract names that this server does not implement yet: refused, never ignored.
    public static let notYetSupported: Set<String> = []
    public static let knownFields: Set<String> = [
        "name", "cpus", "memory_mb", "disk_mb", "labels", "keep_hot", "from", "env", "secrets", "files", "init", "egress", "allow_cidrs",
        "image",
    ]
}

/// A named snapshot (`GET /v1/snapshots`).
public struct SnapshotDTO: Codable, Equatable, Sendable {
    public var id: String
    public var name: String
    public var sourceSandboxID: String?
    /// The source sandbox's name while it exists.
    public var sourceSandboxName: String?
    public var cpus: Int
    public var memoryMB: Int
    public var sizeBytes: Int64
    public var createdAt: String

    public init(
        id: String, name: String, sourceSandboxID: String?, sourceSandboxName: String? = nil, cpus: Int, memoryMB: Int, sizeBytes: Int64,
        createdAt: String
    ) {
        self.id = id
        self.name = name
        self.sourceSandboxID = sourceSandboxID
        self.sourceSandboxName = sourceSandboxName
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, cpus
        case sourceSandboxID = "source_sandbox_id"
        case sourceSandboxName = "source_sandbox_name"
        case memoryMB = "memory_mb"
        case sizeBytes = "size_bytes"
        case createdAt = "created_at"
    }
}

/// `POST /v1/sandboxes/{id}/snapshots`.
public struct CreateSnapshotRequest: Codable, Equatable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
    public static let knownFields: Set<String> = ["name"]
}

/// `POST /v1/snapshots/{name}/restore`: the new sandbox's name (optional) and labels.
public struct RestoreSnapshotRequest: Codable, Equatable, Sendable {
    public var name: String?
    public var labels: [String: String]?
    public init(name: String? = nil, labels: [String: String]? = nil) {
        self.name = name
        self.labels = labels
    }
    public static let knownFields: Set<String> = ["name", "labels"]
}

/// `POST /v1/sandboxes/{id}/exec`.
public struct ExecRequestDTO: Codable, Equatable, Sendable {
    public var cmd: [String]
    public var env: [String: String]?
    public var cwd: String?
    public var timeoutSec: Double?
    public var detach: Bool?
    /// Text fed to the command's stdin, which is then closed.
    public var stdin: String?

    public init(
        cmd: [String], env: [String: String]? = nil, cwd: String? = nil, timeoutSec: Double? = nil, detach: Bool? = nil,
        stdin: String? = nil
    ) {
        self.cmd = cmd
        self.env = env
        self.cwd = cwd
        self.timeoutSec = timeoutSec
        self.detach = detach
        self.stdin = stdin
    }

    enum CodingKeys: String, CodingKey {
        case cmd, env, cwd, detach, stdin
        case timeoutSec = "timeout_sec"
    }

    public static let knownFields: Set<String> = ["cmd", "env", "cwd", "timeout_sec", "detach", "stdin"]
}

/// The buffered exec reply.
public struct ExecResultDTO: Codable, Equatable, Sendable {
    public var exitCode: Int32
    public var stdout: String
    public var stderr: String
    public var durationMs: Double

    public init(exitCode: Int32, stdout: String, stderr: String, durationMs: Double) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.durationMs = durationMs
    }

    enum CodingKeys: String, CodingKey {
        case stdout, stderr
        case exitCode = "exit_code"
        case durationMs = "duration_ms"
    }
}

/// One line of a streamed exec (`Accept: application/x-ndjson`).
public struct ExecStreamLine: Codable, Equatable, Sendable {
    /// `stdout`, `stderr`, `exit` or `error`.
    public var type: String
    public var data: String?
    public var exitCode: Int32?
    public var durationMs: Double?

    public init(type: String, data: String? = nil, exitCode: Int32? = nil, durationMs: Double? = nil) {
        self.type = type
        self.data = data
        self.exitCode = exitCode
        self.durationMs = durationMs
    }

    enum CodingKeys: String, CodingKey {
        case type, data
        case exitCode = "exit_code"
        case durationMs = "duration_ms"
    }
}

/// `GET /health`.
public struct HealthDTO: Codable, Equatable, Sendable {
    public var status: String
    public var version: String
    public var accelerator: String
    public var acceleratorReason: String
    public var uptimeSeconds: Double

    public init(status: String, version: String, accelerator: String, acceleratorReason: String, uptimeSeconds: Double) {
        self.status = status
        self.version = version
        self.accelerator = accelerator
        self.acceleratorReason = acceleratorReason
        self.uptimeSeconds = uptimeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case status, version, accelerator
        case acceleratorReason = "accelerator_reason"
        case uptimeSeconds = "uptime_s"
    }
}

/// `DELETE /v1/sandboxes/{id}`.
public struct StatusDTO: Codable, Equatable, Sendable {
    public var status: String
    public init(status: String) { self.status = status }
}

/// A file as the API shows it (`HEAD`, `PUT` replies and listings).
public struct FileInfoDTO: Codable, Equatable, Sendable {
    public var name: String
    public var size: Int
    public var mode: String
    public var isDir: Bool
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

/// `GET …/files?path=DIR&ls=true`.
public struct FileListingDTO: Codable, Equatable, Sendable {
    public var entries: [FileInfoDTO]
    public var truncated: Bool
    public var total: Int
    public init(entries: [FileInfoDTO], truncated: Bool, total: Int) {
        self.entries = entries
        self.truncated = truncated
        self.total = total
    }
}

/// `GET …/sessions`.
public struct SessionDTO: Codable, Equatable, Sendable {
    public var sessionID: String
    public var argv: String
    public var tty: Bool
    public var running: Bool
    public var exitCode: Int32?
    public var attached: Bool
    public var createdAt: Int

    public init(sessionID: String, argv: String, tty: Bool, running: Bool, exitCode: Int32?, attached: Bool, createdAt: Int) {
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

/// A detached exec's reply.
public struct DetachedExecDTO: Codable, Equatable, Sendable {
    public var pid: Int32
    public var outputFile: String
    public var detached: Bool
    public init(pid: Int32, outputFile: String) {
        self.pid = pid
        self.outputFile = outputFile
        detached = true
    }
    enum CodingKeys: String, CodingKey {
        case pid, detached
        case outputFile = "output_file"
    }
}

/// `PATCH /v1/sandboxes/{id}`.
public struct EditSandboxRequest: Codable, Equatable, Sendable {
    public var name: String?
    public var keepHot: Bool?
    public var labelsAdd: [String: String]?
    public var labelsRemove: [String]?
    /// Grows the root disk (never shrinks it); the sandbox must be hot.
    public var diskMB: Int?

    public init(
        name: String? = nil, keepHot: Bool? = nil, labelsAdd: [String: String]? = nil, labelsRemove: [String]? = nil, diskMB: Int? = nil
    ) {
        self.diskMB = diskMB
        self.name = name
        self.keepHot = keepHot
        self.labelsAdd = labelsAdd
        self.labelsRemove = labelsRemove
    }

    enum CodingKeys: String, CodingKey {
        case name
        case keepHot = "keep_hot"
        case labelsAdd = "labels_add"
        case labelsRemove = "labels_remove"
        case diskMB = "disk_mb"
    }

    public static let knownFields: Set<String> = ["name", "keep_hot", "labels_add", "labels_remove", "disk_mb"]
}
