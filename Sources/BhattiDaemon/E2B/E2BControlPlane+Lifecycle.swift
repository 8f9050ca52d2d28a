import BhattiCore
import BhattiE2B
import BhattiStore

/// What an E2B sandbox's timeout does (kill, or pause with `autoPause`) and E2B's pause, shared by the
/// routes and the deadline that fires.
extension E2BControlPlane {
    /// The longest `refreshes` may extend a sandbox by, as E2B's API.
    static let maxRefreshSeconds = 3600

    /// The store's timeout action for a create's (or resume's) lifecycle fields; refusals are 400s.
    static func timeoutAction(autoPause: Bool?, memory: Bool?) throws -> E2BTimeoutAction {
        do {
            switch try LifecyclePolicy.onTimeout(autoPause: autoPause, autoPauseMemory: memory) {
            case .kill: return .kill
            case .pause: return .pause
            }
        } catch { throw E2BError(400, "\(error)") }
    }

    static func onTimeout(_ action: E2BTimeoutAction) -> BhattiE2B.SandboxLifecycle.OnTimeout {
        switch action {
        case .kill: .kill
        case .pause: .pause
        }
    }

    /// E2B's pause: the sandbox goes cold and waits, with no deadline, to be resumed (by `connect`,
    /// or by any call, which wakes it as native calls do).
    static func pause(_ ref: SandboxRef, service: SandboxService, deadlines: E2BDeadlines) async throws {
        let record = try await service.stop(ref)
        try await deadlines.clear(record.id.rawValue)
    }

    /// A deadline passed (the deadlines have dropped it): the sandbox is destroyed, or paused when it
    /// was made with `autoPause`. One already gone is done with; any other failure is logged and
    /// answered false, so the deadline fires again.
    static func timedOut(_ ref: SandboxRef, service: SandboxService, log: Logger) async -> Bool {
        do {
            let id = try await service.get(ref).id
            if try await service.store.e2bTimeoutAction(id) == .pause {
                _ = try await service.stop(ref)
                try await service.store.setE2BDeadline(id, nil)
                log.info("e2b.timeout", ["sandbox.id": id.rawValue, "action": "pause"])
            } else {
                try await service.destroy(ref)
                log.info("e2b.timeout", ["sandbox.id": id.rawValue, "action": "kill"])
            }
            return true
        } catch let error as BhattiError where error.code == .notFound {
            return true  // destroyed meanwhile by other means
        } catch {
            log.warning("e2b.timeout_failed", ["sandbox.id": ref.key, "error": "\(error)"])
            return false
        }
    }
}
