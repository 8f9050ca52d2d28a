public import BhattiCore

/// A user as the admin sees it (`GET /v1/users`). The key is never part of it.
public struct UserDTO: Codable, Equatable, Sendable {
    public var id: String
    public var name: String
    public var isAdmin: Bool
    /// Limits; 0 means none (the admin).
    public var maxSandboxes: Int
    public var maxCPUs: Int
    public var maxMemoryMB: Int
    /// The user's own I/O limits; absent: the daemon's default applies.
    public var ioLimits: IOLimits?
    public var sandboxes: Int
    public var createdAt: String

    public init(
        id: String, name: String, isAdmin: Bool, maxSandboxes: Int, maxCPUs: Int, maxMemoryMB: Int, ioLimits: IOLimits? = nil,
        sandboxes: Int, createdAt: String
    ) {
        self.ioLimits = ioLimits
        self.id = id
        self.name = name
        self.isAdmin = isAdmin
        self.maxSandboxes = maxSandboxes
        self.maxCPUs = maxCPUs
        self.maxMemoryMB = maxMemoryMB
        self.sandboxes = sandboxes
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, sandboxes
        case isAdmin = "is_admin"
        case maxSandboxes = "max_sandboxes"
        case maxCPUs = "max_cpus"
        case maxMemoryMB = "max_memory_mb"
        case ioLimits = "io_limits"
        case createdAt = "created_at"
    }
}

/// `POST /v1/users`.
public struct CreateUserRequest: Codable, Equatable, Sendable {
    public var name: String
    public var maxSandboxes: Int?
    public var maxCPUs: Int?
    public var maxMemoryMB: Int?
    public var ioLimits: IOLimits?

    public init(name: String, maxSandboxes: Int? = nil, maxCPUs: Int? = nil, maxMemoryMB: Int? = nil, ioLimits: IOLimits? = nil) {
        self.ioLimits = ioLimits
        self.name = name
        self.maxSandboxes = maxSandboxes
        self.maxCPUs = maxCPUs
        self.maxMemoryMB = maxMemoryMB
    }

    enum CodingKeys: String, CodingKey {
        case name
        case maxSandboxes = "max_sandboxes"
        case maxCPUs = "max_cpus"
        case maxMemoryMB = "max_memory_mb"
        case ioLimits = "io_limits"
    }

    public static let knownFields: Set<String> = ["name", "max_sandboxes", "max_cpus", "max_memory_mb", "io_limits"]
}

/// `PATCH /v1/users/{name}`: the user's I/O limits; null returns them to the daemon's default. The disk
/// limits apply to sandboxes created from then on (a sandbox keeps its own across cold cycles); the
/// network limit applies at once.
public struct UpdateUserRequest: Codable, Equatable, Sendable {
    public var ioLimits: IOLimits?
    public init(ioLimits: IOLimits?) { self.ioLimits = ioLimits }
    enum CodingKeys: String, CodingKey { case ioLimits = "io_limits" }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ioLimits, forKey: .ioLimits)  // null is meaningful here
    }
    public static let knownFields: Set<String> = ["io_limits"]
}

/// The reply to a user create or key rotation: the only time the key is ever shown.
public struct UserKeyDTO: Codable, Equatable, Sendable {
    public var user: UserDTO
    public var apiKey: String

    public init(user: UserDTO, apiKey: String) {
        self.user = user
        self.apiKey = apiKey
    }

    enum CodingKeys: String, CodingKey {
        case user
        case apiKey = "api_key"
    }
}

/// A secret as the API shows it: its name and times, never its value.
public struct SecretDTO: Codable, Equatable, Sendable {
    public var name: String
    public var createdAt: String
    public var updatedAt: String

    public init(name: String, createdAt: String, updatedAt: String) {
        self.name = name
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case name
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// `POST /v1/secrets`: create or replace.
public struct SetSecretRequest: Codable, Equatable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public static let knownFields: Set<String> = ["name", "value"]
}

/// One entry of the audit log (`GET /v1/events`, admin only).
public struct EventDTO: Codable, Equatable, Sendable {
    public var seq: Int64
    public var at: String
    public var type: String
    public var user: String?
    public var sandboxID: String?
    public var detail: String?

    public init(seq: Int64, at: String, type: String, user: String?, sandboxID: String?, detail: String?) {
        self.seq = seq
        self.at = at
        self.type = type
        self.user = user
        self.sandboxID = sandboxID
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case seq, at, type, user, detail
        case sandboxID = "sandbox_id"
    }
}

/// A file placed in the guest at create (`files` of `POST /v1/sandboxes`).
public struct GuestFileDTO: Codable, Equatable, Sendable {
    public var path: String
    /// Base64.
    public var content: String
    /// Octal, e.g. `0644`.
    public var mode: String?

    public init(path: String, content: String, mode: String? = nil) {
        self.path = path
        self.content = content
        self.mode = mode
    }
}

/// A published port (`POST`/`GET /v1/sandboxes/{id}/publish`).
public struct PublishDTO: Codable, Equatable, Sendable {
    public var port: Int
    public var alias: String
    /// Where the preview answers; nil when the daemon runs no public proxy.
    public var url: String?
    public var createdAt: String

    public init(port: Int, alias: String, url: String?, createdAt: String) {
        self.port = port
        self.alias = alias
        self.url = url
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case port, alias, url
        case createdAt = "created_at"
    }
}

/// `POST /v1/sandboxes/{id}/publish`.
public struct PublishRequest: Codable, Equatable, Sendable {
    public var port: Int
    public var alias: String?

    public init(port: Int, alias: String? = nil) {
        self.port = port
        self.alias = alias
    }

    public static let knownFields: Set<String> = ["port", "alias"]
}
