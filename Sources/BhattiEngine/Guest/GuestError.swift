/// A guest's refusal, or its silence, in the engine's terms (the agent's wire codes stay in `AgentGuest`).
public struct GuestError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case badRequest
        case notFound
        case permissionDenied
        case resourceExhausted
        case insufficientStorage
        case `internal`
        /// A command's timeout passed (it was killed).
        case timedOut
        /// No answer: the channel could not be opened, dropped, or carried something unreadable.
        case unavailable
    }

    public let kind: Kind
    /// The guest's own words for a refusal (about the user's files and commands); what went wrong
    /// on the channel otherwise.
    public let message: String
    public let cause: (any Error)?

    public init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
