import FoundationEssentials

/// The protocol version both sides send in hello; a mismatch refuses the connection.
public let wireProtocolVersion = 1

/// Host → guest, first frame on stream 0.
public struct Hello: Codable, Equatable, Sendable {
    public var version: Int
    /// The per-sandbox token the agent must see before serving (empty until tokens are provisioned).
    public var token: String
    public init(version: Int = wireProtocolVersion, token: String = "") {
        self.version = version
        self.token = token
    }
}

/// Guest → host, the answer to `Hello`.
public struct HelloReply: Codable, Equatable, Sendable {
    public var version: Int
    public var agentVersion: String
    /// The guest kernel's boot id: it changes when the VM reboots, not when it is restored.
    public var bootID: String
    public var uptimeMilliseconds: Int
    /// Optional frames this agent understands (`clock`); nil from an agent older than the list. A host
    /// sends none of them to an agent that does not list them, so a cold sandbox of an older image
    /// still wakes under a newer daemon.
    public var capabilities: [String]?
    /// The `mult` of the guest kernel's `lapic` clock event device (`/proc/timer_list`): how it
    /// converts nanoseconds to timer counts, i.e. its boot-time calibration of the LAPIC timer. 0 when
    /// the kernel has no such device; nil from an agent that does not report it.
    public var lapicMult: Int?
    public init(
        version: Int, agentVersion: String, bootID: String, uptimeMilliseconds: Int, capabilities: [String]? = nil, lapicMult: Int? = nil
    ) {
        self.version = version
        self.agentVersion = agentVersion
        self.bootID = bootID
        self.uptimeMilliseconds = uptimeMilliseconds
        self.capabilities = capabilities
        self.lapicMult = lapicMult
    }
    enum CodingKeys: String, CodingKey {
        case version
        case agentVersion = "agent_version"
        case bootID = "boot_id"
        case uptimeMilliseconds = "uptime_ms"
        case capabilities
        case lapicMult = "lapic_mult"
    }

    public func can(_ capability: String) -> Bool { capabilities?.contains(capability) == true }
}

/// The optional parts of the protocol, as an agent lists them in its hello reply. The host uses none
/// that the agent does not list: a frame type it does not know ends the whole connection, and a field
/// it does not know is ignored (a command would run as the wrong user), so a cold sandbox of an older
/// image still wakes and works, and refuses only what its agent cannot do.
public enum AgentCapability {
    /// The `clock` frame.
    public static let clock = GuestClock.capability
    /// `user` in exec and session requests.
    public static let commandUser = "command_user"
    /// The `file_make_directory`, `file_move` and `file_remove` requests.
    public static let fileOperations = "file_ops"
    /// The `watch` stream.
    public static let watch = "watch"
}

/// The host's wall clock for the guest to take: after a restore or a resume the guest's clock is as
/// old as its snapshot, and TLS, package signatures and `make` need the real time.
public struct GuestClock: Equatable, Sendable {
    public static let capability = "clock"
    /// Nanoseconds since the Unix epoch.
    public var nanosecondsSinceEpoch: Int64
    public init(nanosecondsSinceEpoch: Int64) { self.nanosecondsSinceEpoch = nanosecondsSinceEpoch }

    public var payload: [UInt8] { withUnsafeBytes(of: nanosecondsSinceEpoch.bigEndian) { Array($0) } }

    public init(payload: [UInt8]) throws(WireError) {
        guard payload.count == 8 else { throw .malformedPayload(.clock, "expected 8 bytes, got \(payload.count)") }
        self.init(nanosecondsSinceEpoch: payload.reduce(Int64(0)) { $0 << 8 | Int64($1) })
    }
}

/// Opens a piped exec: argv, environment, working directory.
public struct ExecRequest: Codable, Equatable, Sendable {
    public var argv: [String]
    /// Overrides on top of the agent's defaults.
    public var env: [String: String]
    /// Working directory; the agent's default (`/workspace`) when nil.
    public var cwd: String?
    /// Whether the host will send `stdin` frames; without it stdin is /dev/null.
    public var stdin: Bool
    /// Start in its own session with output to `outputFile`, reply with the pid, and do not wait.
    public var detach: Bool?
    /// Where a detached command's stdout and stderr go (default `/tmp/bhatti-exec-<id>.log`).
    public var outputFile: String?
    /// Who it runs as: a user of the guest's /etc/passwd; nil is the sandbox's user. Only for agents
    /// listing `AgentCapability.commandUser` (an older one ignores the field).
    public var user: String?

    public init(
        argv: [String], env: [String: String] = [:], cwd: String? = nil, stdin: Bool = false, detach: Bool? = nil,
        outputFile: String? = nil, user: String? = nil
    ) {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.stdin = stdin
        self.detach = detach
        self.outputFile = outputFile
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case argv, env, cwd, stdin, detach, user
        case outputFile = "output_file"
    }
}

/// How the process ended. `code` follows the shell: the exit status, or 128 + signal.
public struct ExitStatus: Codable, Equatable, Sendable {
    public var code: Int32
    public var signal: Int32?
    /// Time the guest spent from decoding the request to sending this frame, for host-overhead accounting.
    public var guestMicroseconds: Int?
    public init(code: Int32, signal: Int32? = nil, guestMicroseconds: Int? = nil) {
        self.code = code
        self.signal = signal
        self.guestMicroseconds = guestMicroseconds
    }
    enum CodingKeys: String, CodingKey {
        case code, signal
        case guestMicroseconds = "guest_us"
    }
}

/// An error that ends a stream. `code` is one of the `WireErrorCode` raw values.
public struct WireErrorMessage: Codable, Equatable, Sendable, Error {
    public var code: WireErrorCode
    public var message: String
    public init(code: WireErrorCode, message: String) {
        self.code = code
        self.message = message
    }
}

/// Why the agent refused or failed a request.
public enum WireErrorCode: String, Codable, Sendable {
    case badRequest = "bad_request"
    case notFound = "not_found"
    case permissionDenied = "permission_denied"
    case unauthenticated = "unauthenticated"
    case resourceExhausted = "resource_exhausted"
    /// The guest's file system is full (ENOSPC, EDQUOT): not a limit the caller can wait out.
    case insufficientStorage = "insufficient_storage"
    case `internal` = "internal"
}

/// JSON payload coding shared by both sides.
public enum WireJSON {
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        // Encoding our own plain structs cannot fail.
        (try? Array(JSONEncoder().encode(value))) ?? []
    }

    public static func decode<T: Decodable>(_ type: T.Type, from frame: Frame) throws(WireError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(frame.payload))
        } catch {
            throw .malformedPayload(frame.type, String(describing: error))
        }
    }
}

extension ExitStatus {
    /// The JSON payload written by hand: the guest sends one per exec, and Foundation's encoder costs
    /// a few hundred microseconds under software emulation. Same bytes a decoder expects.
    public var fastJSON: [UInt8] {
        var text = "{\"code\":\(code)"
        if let signal { text += ",\"signal\":\(signal)" }
        if let guestMicroseconds { text += ",\"guest_us\":\(guestMicroseconds)" }
        text += "}"
        return Array(text.utf8)
    }
}
