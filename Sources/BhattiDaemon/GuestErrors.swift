import BhattiCore
import BhattiEngine

/// The guest's refusals, as API errors: a missing file is a 404, a bad path a 400.
enum GuestErrors {
    static func map(_ error: GuestError, sandbox: String) -> BhattiError {
        let code: BhattiError.Code
        switch error.kind {
        case .timedOut, .unavailable:
            return BhattiError(.unavailable, "the agent in \(sandbox) did not answer: \(error)", cause: error)
        case .badRequest: code = .invalidArgument
        case .notFound: code = .notFound
        case .permissionDenied: code = .permissionDenied
        case .resourceExhausted: code = .resourceExhausted
        case .insufficientStorage: code = .insufficientStorage
        case .internal: code = .internal
        }
        // The guest's message is about the user's own files and commands: safe to pass on, except
        // for internal failures, which the envelope hides anyway.
        return BhattiError(code, error.message, cause: error)
    }
}
