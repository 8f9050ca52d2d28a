import BhattiCore
import BhattiStore

/// The one owner of one sandbox's lifecycle: its phase, its one transition at a time, its idle timer,
/// and the only writes of its state to the store (`write`). `SandboxService` keeps one per sandbox
/// and does the engine's part of each transition (pause, snapshot, restore…), handing the outcome back
/// here as an event; what follows from an event is the pure `SandboxPhase.after`, and when the timer
/// acts is the pure `ThermalPolicy.decide`.
///
/// A state change takes one path: a decision (the timer's `decide`, or a request) → `transition` (one
/// at a time) → the engine step → `moved`/`commit`/`fail` (the next phase from the table) → `write`
/// (the store) → the timer re-armed from the new phase.
actor SandboxSupervisor {
    nonisolated let id: SandboxID
    private weak var service: SandboxService?
    private let store: SandboxStore
    private let policy: ThermalPolicy
    private let time: TimeLine
    private let log: Logger
    private let events: EventLog
    /// Where its cold snapshot lies (its own directory).
    private let snapshotDirectory: String

    /// Nil until a state change or the timer's first look records it (then read from the store's state).
    private var phase: SandboxPhase?
    /// Last use, holds and `keep_hot` as last read.
    private var activity: SandboxActivity
    /// The transition in flight: the lifecycle lock. Later callers await it, then run theirs.
    private var inFlight: Task<SandboxRecord, any Error>?
    /// The idle timer (at most one runs; a re-arm cancels the one before).
    private var timer: Task<Void, Never>?
    /// Tells the current timer from one that was replaced, so an old one ending cannot clear it.
    private var timerGeneration = 0
    /// Set by a shutdown or a destroy: no timer starts again.
    private var ended = false

    init(
        id: SandboxID, service: SandboxService, store: SandboxStore, policy: ThermalPolicy, time: TimeLine, log: Logger,
        events: EventLog, snapshotDirectory: String, ended: Bool = false
    ) {
        self.ended = ended
        self.id = id
        self.service = service
        self.store = store
        self.policy = policy
        self.time = time
        self.log = log
        self.events = events
        self.snapshotDirectory = snapshotDirectory
        activity = SandboxActivity(lastUse: time.now)
    }

    // MARK: transitions

    /// Runs `body` as the sandbox's only transition, on a fresh read of its record. Later callers wait
    /// for the one in flight, then run theirs on what it left (so twenty wakes give one restore).
    func transition(
        _ body: @escaping @Sendable (SandboxService, SandboxRecord) async throws -> SandboxRecord
    ) async throws -> SandboxRecord {
        while let pending = inFlight {
            _ = try? await pending.value
            // Whoever sees it finished first clears it: awaiting a finished task need not suspend, so
            // waiting for its owner to do it could spin on the actor forever.
            if inFlight == pending { inFlight = nil }
        }
        guard let service else { throw BhattiError(.unavailable, "the daemon is stopping") }
        // No suspension between the check above and registering below.
        let id = id
        let task = Task { () throws -> SandboxRecord in
            guard let record = try await service.sandbox(id) else {
                throw BhattiError(.notFound, "sandbox \(id) not found")
            }
            return try await body(service, record)
        }
        inFlight = task
        defer { if inFlight == task { inFlight = nil } }
        return try await task.value
    }

    /// The engine's step for `event` (run by a transition's body): the phase shows it in flight while
    /// it runs, then moves on (`moved`), or goes back to where it was if the step throws.
    func perform(
        _ record: SandboxRecord, _ event: SandboxEvent, _ step: @Sendable () async throws -> Void
    ) async throws -> SandboxRecord {
        let from = phase(of: record)
        do { phase = try from.begin(event) } catch {
            throw BhattiError(.internal, "sandbox \(record.name): \(event) is not possible in state \(record.state.rawValue)", cause: error)
        }
        do { try await step() } catch {
            // Unless something else (QEMU's death) moved it meanwhile, it is where it was.
            if phase == .moving(from: from, on: event) { phase = from }
            // A timer that looked while the step ran found nothing to time and ended: start it again.
            if timer == nil, from.state == .hot || from.state == .warm { armTimer() }
            throw error
        }
        return try await moved(record, on: event)
    }

    /// Records the table's next phase for a thermal event (store first, then the answer, then the event
    /// log) and restarts the idle timer from it: a timer asleep for the old phase's deadline (a warm
    /// sandbox's 30 minutes) must not outlive a wake, or the woken sandbox never cools again.
    func moved(_ record: SandboxRecord, on event: SandboxEvent) async throws -> SandboxRecord {
        let next = try await commit(record, on: event)
        events.record("thermal.\(next.state.rawValue)", sandbox: record.id, user: record.userID, detail: "from=\(record.state.rawValue)")
        if next.state == .hot || next.state == .warm {
            armTimer()
        } else {
            // Cold and error have nothing to time: no task that would only read the store and end.
            timer?.cancel()
            timer = nil
        }
        return next
    }

    /// Records the table's next phase for `event` (a boot, an adoption at start, a thermal move): the
    /// store first; the record as it now is.
    func commit(_ record: SandboxRecord, on event: SandboxEvent) async throws -> SandboxRecord {
        let now = time.now
        let next: SandboxPhase
        do { next = try phase(of: record).after(event, at: now, snapshot: snapshotDirectory) } catch {
            throw BhattiError(.internal, "sandbox \(record.name): \(event) is not possible in state \(record.state.rawValue)", cause: error)
        }
        try await write(next.state, reason: nil)
        phase = next
        var moved = record
        moved.state = next.state
        moved.stateReason = nil
        return moved
    }

    /// The VM is gone or could not be brought back (`vmmDied`, `thermalFailed`): the table says where
    /// that leaves the sandbox (a sandbox already in `error` stays as it is, with its first cause:
    /// false). When the store cannot take it (a full disk), the service keeps it in memory and
    /// retries (`SandboxService.unrecorded`).
    @discardableResult
    func fail(_ record: SandboxRecord, on event: SandboxEvent, cause: String) async -> Bool {
        // QEMU may die while a transition is in flight: the death applies to where that one started.
        guard let next = try? phase(of: record).abandoned.after(event, at: time.now, snapshot: snapshotDirectory, cause: cause) else {
            return false
        }
        await settle(next, reason: cause)
        return true
    }

    private func settle(_ next: SandboxPhase, reason: String) async {
        phase = next
        timer?.cancel()
        timer = nil
        do {
            try await write(next.state, reason: reason)
            await service?.recorded(id)
        } catch {
            await service?.unrecordable(id, next.state, reason: reason, error: error)
        }
    }

    /// The one write of this sandbox's state to the store.
    func write(_ state: SandboxState, reason: String?) async throws {
        try await store.setState(id, state, reason: reason)
        if state == .hot { service?.wentHot.raise() }
    }

    /// The sandbox's phase: the one recorded with its last state change, or, when the store's state
    /// says otherwise (a daemon start, a state written before this supervisor existed), that state read
    /// as a phase starting now.
    private func phase(of record: SandboxRecord) -> SandboxPhase {
        if let phase, phase.state == record.state { return phase }
        return SandboxPhase(record.state, at: time.now, snapshot: snapshotDirectory, cause: record.stateReason)
    }

    // MARK: idleness

    /// Marks use: its idle clock restarts (and its timer starts if it had none).
    func touch() {
        activity.lastUse = time.now
        // Only a hot sandbox that can cool needs a timer; a kept-hot one would start a task per request
        // that ends at once.
        guard policy.warmAfter != nil, timer == nil, !activity.keepHot else { return }
        armTimer()
    }

    /// Keeps it hot while something streams to or from it (shell, NDJSON exec, file read).
    func hold() { activity.holds += 1 }

    /// Ends a `hold`; the idle clock restarts from now.
    func release() {
        activity.holds = max(0, activity.holds - 1)
        touch()
    }

    var holdCount: Int { activity.holds }

    /// An edit set or cleared `keep_hot`: the timer looks again at once (a pinned sandbox's ends, an
    /// unpinned one's idleness counts from now).
    func keepHotChanged(_ keepHot: Bool) {
        activity.keepHot = keepHot
        if !keepHot { activity.lastUse = time.now }
        armTimer()
    }

    /// One timer, sleeping until the next moment anything could change. A touch only moves `lastUse`
    /// later, and the timer, on waking, sleeps again if the deadline moved; a state change can move the
    /// deadline earlier, so every one re-arms (see `moved`).
    private func armTimer() {
        guard !ended, policy.warmAfter != nil || policy.coldAfter != nil else { return }
        timer?.cancel()
        timerGeneration += 1
        let generation = timerGeneration
        let time = time
        timer = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                guard let due = await self.nextCheck() else { break }
                if due > time.now {
                    do { try await time.sleep(until: due) } catch { return }
                    continue
                }
                await self.cool()
            }
            await self?.timerEnded(generation)
        }
    }

    /// A timer with nothing left to do (cold, error, keep_hot) is dropped, so the next touch starts one.
    private func timerEnded(_ generation: Int) {
        if timerGeneration == generation { timer = nil }
    }

    /// When to look again (on the `TimeLine`; now or earlier: at once), or nil when nothing will happen.
    private func nextCheck() async -> Duration? {
        guard !ended, let record = try? await service?.sandbox(id) else { return nil }
        let now = time.now
        switch decision(record, now: now) {
        case .none: return nil
        case .wait(let until): return until
        case .pause, .snapshot: return now
        }
    }

    /// The policy's answer for `record` now, with `keep_hot` as the store has it.
    private func decision(_ record: SandboxRecord, now: Duration) -> LifecycleAction {
        activity.keepHot = record.keepHot
        let phase = phase(of: record)
        self.phase = phase
        return policy.decide(phase, activity, now: now)
    }

    /// The timer's moment came: cool one step if the policy still says so (a pause only if the guest's
    /// CPU agrees); failed snapshots back off and at last mark the sandbox `error`.
    private func cool() async {
        guard let service, let record = try? await service.sandbox(id) else { return }
        switch decision(record, now: time.now) {
        case .pause:
            if await service.guestIsBusy(id) {
                // Logged: it says why a sandbox idle by the API's measure has not cooled.
                log.info("sandbox.idle_check_busy", ["sandbox.id": id.rawValue])
                touch()
                return
            }
            // Decided again after the probe's await: a request may have come in meanwhile.
            guard decision(record, now: time.now) == .pause else { return }
            do {
                _ = try await transition { service, record in
                    guard record.state == .hot else { return record }
                    return try await service.pauseNow(record)
                }
            } catch {
                touch()
            }
        case .snapshot:
            do {
                _ = try await transition { service, record in
                    guard record.state == .warm else { return record }
                    return try await service.snapshotNow(record)
                }
            } catch {
                await snapshotFailed(record, error: error)
            }
        case .none, .wait:
            return
        }
    }

    private func snapshotFailed(_ record: SandboxRecord, error: any Error) async {
        let next = policy.snapshotFailed(phase(of: record), cause: "\(error)", now: time.now)
        guard case .error(let reason) = next else {
            phase = next
            return
        }
        await settle(next, reason: reason)
        log.error("sandbox.snapshot_gave_up", ["sandbox.id": id.rawValue, "error": "\(error)"])
    }

    // MARK: the end

    /// Destroy: the timer stops and never starts again (its transition is the destroy itself, so the
    /// timer is not waited for here: it may be waiting for that very transition).
    func end() {
        ended = true
        timer?.cancel()
        timer = nil
    }

    /// Daemon shutdown: the timer stops and is waited for, so no cooling runs beside the shutdown's
    /// snapshots.
    func shutDown() async {
        ended = true
        let running = timer
        timer = nil
        running?.cancel()
        await running?.value
    }
}
