/// The Connect error codes (https://connectrpc.com/docs/protocol#error-codes), named as on the wire.
public enum ConnectCode: String, CaseIterable, Codable, Sendable {
    case canceled
    case unknown
    case invalidArgument = "invalid_argument"
    case deadlineExceeded = "deadline_exceeded"
    case notFound = "not_found"
    case alreadyExists = "already_exists"
    case permissionDenied = "permission_denied"
    case resourceExhausted = "resource_exhausted"
    case failedPrecondition = "failed_precondition"
    case aborted
    case outOfRange = "out_of_range"
    case unimplemented
    case `internal`
    case unavailable
    case dataLoss = "data_loss"
    case unauthenticated

    /// The HTTP status of a unary error response carrying this code (streams always answer 200).
    public var httpStatus: Int {
        switch self {
        case .canceled: 499
        case .unknown, .internal, .dataLoss: 500
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .deadlineExceeded: 504
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .permissionDenied: 403
        case .resourceExhausted: 429
        case .unimplemented: 501
        case .unavailable: 503
        case .unauthenticated: 401
        }
    }

    /// The code a client infers from an error status that carries no Connect error body.
    public static func inferred(fromHTTPStatus status: Int) -> ConnectCode {
        switch status {
        case 400: .internal
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }
}

/// A Connect error: the body of a unary error response (`{"code":"not_found","message":"…"}`, sent with
/// `code.httpStatus` and `Content-Type: application/json`) and the `error` of a stream's end message.
///
/// The SDK maps codes to its exceptions: not_found → NotFoundException (and `kill`/`exists` read it as
/// false), invalid_argument, unauthenticated, resource_exhausted (rate limit), canceled and
/// deadline_exceeded (timeouts); `unavailable` makes it probe `GET /health` to tell a dead sandbox from
/// a lost connection; anything else is a plain SandboxException.
public struct ConnectError: Error, Equatable, Sendable, Codable {
    public var code: ConnectCode
    /// Omitted from the JSON when empty; clients then show a message of their own.
    public var message: String

    public init(_ code: ConnectCode, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public var httpStatus: Int { code.httpStatus }

    var orderedJSON: OrderedJSON {
        .object([.init("code", .string(code.rawValue))] + (message.isEmpty ? [] : [.init("message", .string(message))]))
    }

    /// The unary error response body.
    public func jsonBytes() -> [UInt8] { orderedJSON.serialized() }

    enum CodingKeys: String, CodingKey { case code, message }

    /// Reads an error body. An unknown code string reads as `unknown`, as Connect clients do; a missing
    /// or non-string code is an error (`{}` and `{"code":null}` are not Connect errors).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let raw = try c.decode(String.self, forKey: .code)
        code = ConnectCode(rawValue: raw) ?? .unknown
        message = try c.decodeIfPresent(String.self, forKey: .message) ?? ""
    }

    public func encode(to encoder: any Encoder) throws {
        try orderedJSON.encode(to: encoder)
    }

    public init(json bytes: some Collection<UInt8>) throws(WireDecodingError) {
        self = try WireDecodingError.decode(Self.self, from: bytes)
    }
}

extension WireDecodingError {
    /// What a Connect server answers for a request that did not decode, as connect-go does.
    public var connectError: ConnectError { ConnectError(.invalidArgument, "unmarshal message: \(message)") }
}
