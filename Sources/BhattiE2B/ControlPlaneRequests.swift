// Request bodies of the E2B control plane (spec/openapi.yml) as e2b SDK 2.63.0 sends them, with field
// names exactly as on the wire (note `templateID` and the snake_case `allow_internet_access`). Unknown
// fields are ignored, as the SDK's generated models do with `additional_properties`.

/// `POST /v2/sandboxes` (NewSandboxV2, what 2.63.0 calls) and `POST /sandboxes` (NewSandbox, which adds
/// the ignored `secure`). The SDK sends `templateID`, `metadata` and `envVars` always (maybe `{}`),
/// `timeout` when given, and the rest only when the caller set them; an `Idempotency-Key` header
/// comes with it.
public struct NewSandbox: Codable, Equatable, Sendable {
    public var templateID: String
    /// Seconds to live; absent means the server's default.
    public var timeout: Int?
    public var autoPause: Bool?
    public var autoPauseMemory: Bool?
    public var autoResume: AutoResume?
    public var secure: Bool?
    public var allowInternetAccess: Bool?
    public var metadata: [String: String]?
    public var envVars: [String: String]?
    /// Fields the SDK can send that these models leave out (network, mcp, iam, volumeMounts), present
    /// in this body; the server decides whether to refuse them rather than silently dropping them.
    public var unmodeledFields: [String]

    public struct AutoResume: Codable, Equatable, Sendable {
        public var enabled: Bool
        public init(enabled: Bool) { self.enabled = enabled }
    }

    static let unmodeled = ["network", "mcp", "iam", "volumeMounts"]

    public init(
        templateID: String, timeout: Int? = nil, autoPause: Bool? = nil, autoPauseMemory: Bool? = nil, autoResume: AutoResume? = nil,
        secure: Bool? = nil, allowInternetAccess: Bool? = nil, metadata: [String: String]? = nil, envVars: [String: String]? = nil,
        unmodeledFields: [String] = []
    ) {
        self.templateID = templateID
        self.timeout = timeout
        self.autoPause = autoPause
        self.autoPauseMemory = autoPauseMemory
        self.autoResume = autoResume
        self.secure = secure
        self.allowInternetAccess = allowInternetAccess
        self.metadata = metadata
        self.envVars = envVars
        self.unmodeledFields = unmodeledFields
    }

    enum CodingKeys: String, CodingKey {
        case templateID, timeout, autoPause, autoPauseMemory, autoResume, secure, metadata, envVars
        case allowInternetAccess = "allow_internet_access"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        templateID = try c.decode(String.self, forKey: .templateID)
        timeout = try c.decodeIfPresent(Int.self, forKey: .timeout)
        autoPause = try c.decodeIfPresent(Bool.self, forKey: .autoPause)
        autoPauseMemory = try c.decodeIfPresent(Bool.self, forKey: .autoPauseMemory)
        autoResume = try c.decodeIfPresent(AutoResume.self, forKey: .autoResume)
        secure = try c.decodeIfPresent(Bool.self, forKey: .secure)
        allowInternetAccess = try c.decodeIfPresent(Bool.self, forKey: .allowInternetAccess)
        metadata = try c.decodeIfPresent([String: String].self, forKey: .metadata)
        envVars = try c.decodeIfPresent([String: String].self, forKey: .envVars)
        let all = try decoder.container(keyedBy: ProtoFieldKey.self)
        unmodeledFields = try Self.unmodeled.filter { try all.contains(ProtoFieldKey($0)) && !all.decodeNil(forKey: ProtoFieldKey($0)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(templateID, forKey: .templateID)
        try c.encodeIfPresent(timeout, forKey: .timeout)
        try c.encodeIfPresent(autoPause, forKey: .autoPause)
        try c.encodeIfPresent(autoPauseMemory, forKey: .autoPauseMemory)
        try c.encodeIfPresent(autoResume, forKey: .autoResume)
        try c.encodeIfPresent(secure, forKey: .secure)
        try c.encodeIfPresent(allowInternetAccess, forKey: .allowInternetAccess)
        try c.encodeIfPresent(metadata, forKey: .metadata)
        try c.encodeIfPresent(envVars, forKey: .envVars)
    }
}

/// `POST /v2/sandboxes/{id}/connect` (ConnectSandboxV2; the SDK's `Sandbox.connect`, which also
/// resumes a paused sandbox) and `POST /sandboxes/{id}/connect`. The SDK sends `{}` when no timeout
/// was given. 200 answers "was running", 201 "was resumed"; both carry a `Sandbox`.
public struct ConnectSandbox: Codable, Equatable, Sendable {
    /// Seconds from now; extends the TTL, never shortens it.
    public var timeout: Int?
    /// false: resume from disk only (cold boot).
    public var memory: Bool?

    public init(timeout: Int? = nil, memory: Bool? = nil) {
        self.timeout = timeout
        self.memory = memory
    }
}

/// `POST /sandboxes/{id}/resume` (ResumedSandbox, deprecated; 2.63.0 resumes through connect).
public struct ResumedSandbox: Codable, Equatable, Sendable {
    public var timeout: Int?
    public var autoPause: Bool?
    public var memory: Bool?

    public init(timeout: Int? = nil, autoPause: Bool? = nil, memory: Bool? = nil) {
        self.timeout = timeout
        self.autoPause = autoPause
        self.memory = memory
    }
}

/// `POST /sandboxes/{id}/timeout`: `{"timeout":60}`, answered 204.
public struct SandboxTimeoutRequest: Codable, Equatable, Sendable {
    public var timeout: Int

    public init(timeout: Int) { self.timeout = timeout }
}

/// `POST /sandboxes/{id}/pause`, answered 204, or 409 when already paused (the SDK's pause() then
/// returns False). The SDK sends `{}` unless a snapshot mode or `strict` was asked for.
public struct SandboxPauseRequest: Codable, Equatable, Sendable {
    /// Default true: keep memory.
    public var memory: Bool?
    public var requireHealthyGuest: Bool?

    public init(memory: Bool? = nil, requireHealthyGuest: Bool? = nil) {
        self.memory = memory
        self.requireHealthyGuest = requireHealthyGuest
    }
}

/// `POST /sandboxes/{id}/refreshes`: `{"duration":60}` seconds more to live (0–3600), answered 204.
/// It only ever extends; an absent body or duration means the server's default.
public struct SandboxRefreshRequest: Codable, Equatable, Sendable {
    public var duration: Int?

    public init(duration: Int? = nil) { self.duration = duration }
}
