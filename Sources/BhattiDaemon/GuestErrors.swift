import BhattiCore
import BhattiEngine
import BhattiWire

/// The agent's refusals, as API errors: a missing file is a 404, a bad path a 400.
enum GuestErrors {
    static func map(_ error: AgentError, sandbox: String) -> BhattiError {
        guard case .remote(let m) = error else {
            return BhattiError(.unavailable, "the agent in \(sandbox) did not answer: \(error)", cause: error)
        }
        let code: BhattiError.Code = switch m.code {
        case .badRequest: .invalidArgument
        case .notFound: .notFound
        case .permissionDenied: .permissionDenied
        case .unauthenticated: .internal
        case .resourceExhausted: .resourceExhausted
        case .insufficientStorage: .insufficientStorage
        case .internal: .internal
        }
        // The guest's message is about the user's own files and commands: safe to pass on, except
        // for internal failures, which the envelope hides anyway.
        return BhattiError(code, m.message, cause: error)
    }
}
