import BhattiCore
public import BhattiEngine
public import BhattiStore
import Foundation

/// What a buffered or streamed exec produced.
public struct ExecOutcome: Sendable {
    public var exitCode: Int32
    public var duration: Duration
}

/// The guest routes' way in: a sandbox's agent channel, woken first (one wake however many ask), held
/// hot while used.
extension SandboxService {
    /// Runs a command to completion, reporting output through `onEvent` as it arrives.
    /// A command that cannot start (not found) reports exit 127 with the reason on stderr; a
    /// timeout kills the process group and reports 124, like `timeout(1)`.
    public func exec(
        _ idOrName: SandboxRef, command: GuestCommand, stdin: [UInt8]?, timeout: Duration,
        onEvent: @escaping @Sendable (ExecEvent) async -> Void
    ) async throws -> ExecOutcome {
        let (record, guest, waking) = try await guestOverlappingWake(idOrName)
        let start = ContinuousClock.now
        do {
            // The duration is the agent's round trip alone, so `duration_ms` is the command's time as
            // the engine saw it, and what a caller waits beyond it is the API's own cost.
            let (status, ran) = try await releasing(record.id) {
                try await Self.alongside(waking) {
                    let began = ContinuousClock.now
                    let status = try await guest.exec(command, stdin: stdin, timeout: timeout, onEvent: onEvent)
                    return (status, ContinuousClock.now - began)
                }
            }
            return ExecOutcome(exitCode: status, duration: ran)
        } catch let error as GuestError {
            switch error.kind {
            case .timedOut:
                await onEvent(.stderr(Array("bhatti: command timed out after \(timeout)\n".utf8)))
                return ExecOutcome(exitCode: 124, duration: ContinuousClock.now - start)
            case .unavailable:
                throw BhattiError(.unavailable, "exec in \(record.name) failed: \(error)", cause: error)
            case .badRequest, .notFound, .permissionDenied, .resourceExhausted, .insufficientStorage, .internal:
                // The guest could not start the command: reported as a shell would.
                await onEvent(.stderr(Array("bhatti: \(error.message)\n".utf8)))
                let code: Int32 = error.kind == .notFound ? 127 : (error.kind == .permissionDenied ? 126 : 1)
                return ExecOutcome(exitCode: code, duration: ContinuousClock.now - start)
            }
        }
    }

    /// The guest of a sandbox, waking it first if it is warm or cold (one wake however many
    /// callers ask at once). Counts as use: the idle clock restarts.
    public func guest(_ idOrName: SandboxRef) async throws -> (SandboxRecord, any SandboxGuest) {
        try await guest(record: try await get(idOrName), holding: false)
    }

    /// `guest`, with the sandbox held hot for the caller, who must `release` it (a stream that
    /// outlives its handler: a file read).
    func heldGuest(_ idOrName: SandboxRef) async throws -> (SandboxRecord, any SandboxGuest) {
        try await guest(record: try await get(idOrName), holding: true)
    }

    /// `holding`: the sandbox is held hot for the caller, who ends it with `releasing` (one step on
    /// the supervisor where a touch, a hold and a release took three).
    private func guest(record: SandboxRecord, holding: Bool) async throws -> (SandboxRecord, any SandboxGuest) {
        var record = record
        if record.state == .warm || record.state == .cold { record = try await wake(record.id) }
        guard record.state == .hot else {
            throw BhattiError(
                .invalidState, "sandbox \(record.name) is \(record.state.rawValue)\(record.stateReason.map { ": \($0)" } ?? "")")
        }
        let supervisor = supervisor(record.id)
        if holding { await supervisor.hold() } else { await supervisor.touch() }
        do { return (record, try await engine.guest(for: record.id.rawValue)) } catch {
            if holding { await supervisor.release() }
            throw BhattiError(.invalidState, "sandbox \(record.name) has no running VM", cause: error)
        }
    }

    /// `guest`, except that a warm sandbox's wake is not waited for: its agent channel is already
    /// open, so the request goes out while QMP `cont` and the store's update are still in flight and
    /// the guest takes it the moment it runs (the wake's ~0.7 ms then overlaps the request instead of
    /// preceding it). The caller runs its work `alongside` the returned wake, which fails it if the
    /// wake fails. Cold sandboxes are restored first, as by `guest`. The sandbox is held hot for the
    /// caller, who ends it with `releasing`.
    func guestOverlappingWake(_ idOrName: SandboxRef) async throws -> (SandboxRecord, any SandboxGuest, Task<SandboxRecord, any Error>?) {
        let record = try await get(idOrName)
        guard record.state == .warm else {
            let (record, guest) = try await guest(record: record, holding: true)
            return (record, guest, nil)
        }
        let supervisor = supervisor(record.id)
        await supervisor.hold()
        let waking = Task { try await self.wake(record.id) }
        do {
            let guest = try await engine.guest(for: record.id.rawValue)
            // Ahead of the request, which may reach the guest before the wake's own clock frame.
            guest.syncClock()
            var hot = record
            hot.state = .hot
            return (hot, guest, waking)
        } catch {
            // No open channel to reuse: wake first, the usual way (held already).
            do {
                let (woken, guest) = try await guest(record: try await waking.value, holding: false)
                return (woken, guest, nil)
            } catch {
                await supervisor.release()
                throw error
            }
        }
    }

    /// Runs `body` while `waking` finishes: a failed wake cancels `body` and is what is thrown
    /// (its request would otherwise wait for a guest that never runs). Returns only once the wake is
    /// done too, so the store says hot before the answer goes out; a wake that fails after `body`
    /// finished (its store update) does not undo the answer: the guest ran the command.
    static func alongside<T: Sendable>(
        _ waking: Task<SandboxRecord, any Error>?, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let waking else { return try await body() }
        // The group's scope ends only when both children have: the waiter child outlives a body
        // that finished first (the wake task itself cannot be cancelled from here).
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                _ = try await waking.value
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
            }
            throw CancellationError()
        }
    }

    /// Opens something long-lived on the guest (a session, a watch) with the sandbox held hot: on
    /// success the hold stays with what `open` returned, and the caller releases it (`release`) when
    /// that ends; a failure releases it at once, the guest's refusal mapped to an API error.
    func holding<T: Sendable>(_ idOrName: SandboxRef, _ open: (any SandboxGuest) async throws -> T) async throws -> (SandboxRecord, T) {
        let (record, guest) = try await heldGuest(idOrName)
        do { return (record, try await open(guest)) } catch {
            await release(record.id)
            guard let refusal = error as? GuestError else { throw error }
            throw GuestErrors.map(refusal, sandbox: record.name.rawValue)
        }
    }

    /// Runs `body` against the sandbox's guest, mapping the guest's refusals to API errors.
    public func withGuest<T: Sendable>(_ idOrName: SandboxRef, _ body: (any SandboxGuest) async throws -> T) async throws -> T {
        let (record, guest) = try await heldGuest(idOrName)
        do { return try await releasing(record.id) { try await body(guest) } } catch let error as GuestError {
            throw GuestErrors.map(error, sandbox: record.name.rawValue)
        }
    }
}
