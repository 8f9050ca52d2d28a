// Response bodies of the E2B control plane, with the fields the SDK's generated models require:
// their `from_dict` does `d.pop("name")` for a required field, so a missing one is a KeyError and the
// SDK call fails. Optional fields are omitted when nil; the SDK treats absent and null alike.

/// `state`: the SDK parses it with `SandboxState(value)`, so anything but these two fails the call;
/// every bhatti lifecycle state must map onto one of them.
public enum SandboxState: String, Codable, Equatable, Sendable {
    case running
    case paused
}

/// Answer of create (201), connect (200 running, 201 resumed) and resume (201).
///
/// Required: templateID, sandboxID, clientID, envdVersion. The SDK then talks to envd with
/// `X-Access-Token: envdAccessToken` (when given), `E2b-Sandbox-Id: sandboxID` and
/// `E2b-Sandbox-Port: 49983` headers, at `E2B_SANDBOX_URL` when set (one URL for every sandbox, so
/// the header is what routes), `http://localhost:49983` with `E2B_DEBUG`, `https://sandbox.{domain}`
/// for E2B's own domains, else `https://49983-{sandboxID}.{domain}` (domain null: the SDK's own).
public struct Sandbox: Codable, Equatable, Sendable {
    public var templateID: String
    public var sandboxID: String
    public var alias: String?
    /// Deprecated upstream but still required by the SDK's model.
    public var clientID: String
    public var envdVersion: String
    public var envdAccessToken: String?
    public var trafficAccessToken: String?
    public var domain: String?

    public init(
        templateID: String, sandboxID: String, alias: String? = nil, clientID: String, envdVersion: String = EnvdVersion.reported,
        envdAccessToken: String? = nil, trafficAccessToken: String? = nil, domain: String? = nil
    ) {
        self.templateID = templateID
        self.sandboxID = sandboxID
        self.alias = alias
        self.clientID = clientID
        self.envdVersion = envdVersion
        self.envdAccessToken = envdAccessToken
        self.trafficAccessToken = trafficAccessToken
        self.domain = domain
    }
}

/// `lifecycle` of SandboxDetail; both fields required when present.
public struct SandboxLifecycle: Codable, Equatable, Sendable {
    public enum OnTimeout: String, Codable, Equatable, Sendable {
        case kill
        case pause
    }

    public var autoResume: Bool
    public var onTimeout: OnTimeout

    public init(autoResume: Bool, onTimeout: OnTimeout) {
        self.autoResume = autoResume
        self.onTimeout = onTimeout
    }
}

/// `GET /sandboxes/{id}` (the SDK's `get_info`).
///
/// Required: templateID, sandboxID, clientID, startedAt, endAt, envdVersion, cpuCount, memoryMB,
/// diskSizeMB, state. Dates are RFC 3339 (the SDK uses dateutil's isoparse).
public struct SandboxDetail: Codable, Equatable, Sendable {
    public var templateID: String
    /// The SDK shows it as the info's `name`.
    public var alias: String?
    public var sandboxID: String
    public var clientID: String
    public var startedAt: Timestamp
    public var endAt: Timestamp
    public var envdVersion: String
    public var envdAccessToken: String?
    public var allowInternetAccess: Bool?
    public var domain: String?
    public var cpuCount: Int
    public var memoryMB: Int
    public var diskSizeMB: Int
    public var metadata: [String: String]?
    public var state: SandboxState
    public var lifecycle: SandboxLifecycle?

    public init(
        templateID: String, alias: String? = nil, sandboxID: String, clientID: String, startedAt: Timestamp, endAt: Timestamp,
        envdVersion: String = EnvdVersion.reported, envdAccessToken: String? = nil, allowInternetAccess: Bool? = nil, domain: String? = nil,
        cpuCount: Int, memoryMB: Int, diskSizeMB: Int, metadata: [String: String]? = nil, state: SandboxState,
        lifecycle: SandboxLifecycle? = nil
    ) {
        self.templateID = templateID
        self.alias = alias
        self.sandboxID = sandboxID
        self.clientID = clientID
        self.startedAt = startedAt
        self.endAt = endAt
        self.envdVersion = envdVersion
        self.envdAccessToken = envdAccessToken
        self.allowInternetAccess = allowInternetAccess
        self.domain = domain
        self.cpuCount = cpuCount
        self.memoryMB = memoryMB
        self.diskSizeMB = diskSizeMB
        self.metadata = metadata
        self.state = state
        self.lifecycle = lifecycle
    }
}

/// One element of `GET /v2/sandboxes` (a JSON array; the SDK's `Sandbox.list`). Pagination: the SDK
/// sends `limit` and `nextToken` query parameters and reads the `X-Next-Token` response header
/// (absent or empty: last page); filters come as `state=running,paused` and `metadata=k%3Dv%26…`.
///
/// Required: the same as SandboxDetail.
public struct ListedSandbox: Codable, Equatable, Sendable {
    public var templateID: String
    public var alias: String?
    public var sandboxID: String
    public var clientID: String
    public var startedAt: Timestamp
    public var endAt: Timestamp
    public var cpuCount: Int
    public var memoryMB: Int
    public var diskSizeMB: Int
    public var metadata: [String: String]?
    public var state: SandboxState
    public var envdVersion: String

    public init(
        templateID: String, alias: String? = nil, sandboxID: String, clientID: String, startedAt: Timestamp, endAt: Timestamp,
        cpuCount: Int, memoryMB: Int, diskSizeMB: Int, metadata: [String: String]? = nil, state: SandboxState,
        envdVersion: String = EnvdVersion.reported
    ) {
        self.templateID = templateID
        self.alias = alias
        self.sandboxID = sandboxID
        self.clientID = clientID
        self.startedAt = startedAt
        self.endAt = endAt
        self.cpuCount = cpuCount
        self.memoryMB = memoryMB
        self.diskSizeMB = diskSizeMB
        self.metadata = metadata
        self.state = state
        self.envdVersion = envdVersion
    }
}

/// Every control-plane error body: `{"code":404,"message":"…"}` with `code` the HTTP status.
///
/// The SDK shows `message`; on 404 its get_info/connect/set_timeout/pause raise
/// SandboxNotFoundException and kill returns False whatever the body; 409 on pause means "already
/// paused" (returns False); `error_code` "sandbox_snapshot_guest_agent_unresponsive" raises
/// GuestUnresponsiveException.
public struct ControlPlaneError: Codable, Equatable, Sendable {
    public var code: Int
    public var message: String
    /// A machine-readable reason (snake_case key on the wire).
    public var errorCode: String?

    public init(code: Int, message: String, errorCode: String? = nil) {
        self.code = code
        self.message = message
        self.errorCode = errorCode
    }

    enum CodingKeys: String, CodingKey {
        case code, message
        case errorCode = "error_code"
    }
}
