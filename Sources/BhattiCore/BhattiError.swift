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
        /// The host's data directory has too little free space for what was asked (507).
        case insufficientStorage = "insufficient_storage"
        case rateLimited = "rate_limited"
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

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }
}
