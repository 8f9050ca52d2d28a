/// The domain error: a stable code for clients, a message for people, and the cause for logs.
public struct BhattiError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable, CaseIterable {
        case invalidArgument = "invalid_argument"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case alreadyExists = "already_exists"
        case invalidState = "invalid_state"
        case unauthenticated
        case permissionDenied = "permission_denied"
        case tooLarge = "too_large"
        case resourceExhausted = "resource_exhausted"
        case rateLimited = "rate_limited"
        /// The disk the request writes to is full (a guest's file system, the host's data directory).
        case insufficientStorage = "insufficient_storage"
        case unavailable
        case badGateway = "bad_gateway"
        case `internal`
    }

    public var code: Code
    public var message: String
    /// The underlying failure; logged, never sent to clients.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// User input as an error message may echo it: quoted, and cut to `limit` characters plus "…", so
    /// a 900 KB name is not sent back whole (or written whole to the log).
    public static func quoted(_ input: some StringProtocol, limit: Int = 64) -> String {
        input.count <= limit ? "\"\(input)\"" : "\"\(input.prefix(limit))…\""
    }

    /// `quoted` without the quotes, for paths and values a message already sets apart.
    public static func shortened(_ input: some StringProtocol, limit: Int = 64) -> String {
        input.count <= limit ? String(input) : "\(input.prefix(limit))…"
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }
}
