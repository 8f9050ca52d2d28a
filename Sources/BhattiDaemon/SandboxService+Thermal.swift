import BhattiCore
import BhattiEngine
import BhattiStore
import BhattiSystem
import BhattiWire
import Foundation

/// One sandbox as its idle timer sees it: its phase (BhattiCore's `SandboxPhase`, with the phase's
/// own data: since when hot or warm, snapshot retries), how it is used, and the timer. Moments are on
/// the service's `TimeLine`. What happens next is `ThermalPolicy.decide`'s answer, never worked out here.
struct ThermalEntry {
    /// Nil until a state change or the timer's first look records it.
    var phase: SandboxPhase?
    /// Last use, holds (open streams, shells, requests in flight: while above zero it stays hot) and
    /// `keep_hot` as last read (touches start no timer while it is set, until an edit clears it).
    var activity: SandboxActivity
    var timer: Task<Void, Never>?
    /// Tells the current timer from one that was replaced, so an old one ending cannot clear it.
    var timerGeneration = 0

    init(lastUse: Duration) { activity = SandboxActivity(lastUse: lastUse) }
}

extension SandboxService {
    // MARK: explicit transitions (each idempotent, serialised per sandbox)

    /// Hot → warm (vCPUs paused). Warm and cold stay as they are.
    public func pause(_ idOrName: SandboxRef) async throws -> SandboxRecord {
        let id = try await get(idOrName).id
        return try await transition(id) { service, record in
            guard record.state == .hot else { return try await service.settled(record, for: "pause") }
            return try await service.pauseNow(record)
        }
    }

    /// Hot or warm → cold (snapshot on disk, QEMU gone, memory freed). Cold stays cold.
    public func stop(_ idOrName: SandboxRef) async throws -> SandboxRecord {
        let id = try await get(idOrName).id
        return try await transition(id) { service, record in
            guard record.state == .hot || record.state == .warm else { return try await service.settled(record, for: "stop") }
            return try await service.snapshotNow(record)
        }
    }

    /// Warm or cold → hot; error → hot booted from its disk (SandboxService+Recovery). Hot stays hot.
    public func start(_ idOrName: SandboxRef) async throws -> SandboxRecord {
        try await wake(try await get(idOrName).id)
    }

    /// Brings a sandbox back to hot; concurrent callers share one resume or restore.
    func wake(_ id: SandboxID) async throws -> SandboxRecord {
        let record = try await transition(id) { service, record in
            switch record.state {
            case .warm: return try await service.resumeNow(record)
            case .cold: return try await service.restoreNow(record)
            case .error: return try await service.rebootNow(record)
            default: return try await service.settled(record, for: "start")
            }
        }
        touch(id)
        await hostsCatchUp(record)
        return record
    }

    /// Runs `body` as the sandbox's only transition, on a fresh read of its record. Later callers wait
    /// for the one in flight, then run theirs on what it left (so twenty wakes give one restore).
    func transition(
        _ id: SandboxID, _ body: @escaping @Sendable (SandboxService, SandboxRecord) async throws -> SandboxRecord
    ) async throws -> SandboxRecord {
        while let pending = transitions[id] {
            _ = try? await pending.value
            // Whoever sees it finished first clears it: awaiting a finished task need not suspend, so
            // waiting for its owner to do it could spin on the actor forever.
            if transitions[id] == pending { transitions[id] = nil }
        }
        // No suspension between the check above and registering below.
        let task = Task { [self] () throws -> SandboxRecord in
            guard let record = try await sandbox(id) else {
                throw BhattiError(.notFound, "sandbox \(id) not found")
            }
            return try await body(self, record)
        }
        transitions[id] = task
        defer { if transitions[id] == task { transitions[id] = nil } }
        return try await task.value
    }

    /// A state in which `operation` has nothing to do: hot/warm/cold are answered as they are.
    private func settled(_ record: SandboxRecord, for operation: String) throws -> SandboxRecord {
        switch record.state {
        case .hot, .warm, .cold: return record
        case .creating: throw BhattiError(.invalidState, "sandbox \(record.name) is still being created")
        case .error:
            throw BhattiError(.invalidState, "cannot \(operation) sandbox \(record.name): it is in error\(record.stateReason.map { ": \($0)" } ?? "")")
        }
    }

    private func pauseNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let started = ContinuousClock.now
        do { try await engine.pause(id: record.id.rawValue) } catch {
            throw BhattiError(.unavailable, "pausing \(record.name) failed: \(error)", cause: error)
        }
        let next = try await moved(record, on: .paused)
        log.info("sandbox.paused", ["sandbox.id": record.id.rawValue, "ms": ms(since: started)])
        return next
    }

    private func resumeNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        do { try await engine.resume(id: record.id.rawValue) } catch {
            throw BhattiError(.unavailable, "resuming \(record.name) failed: \(error)", cause: error)
        }
        return try await moved(record, on: .resumed)
    }

    /// Snapshot to disk. A failure leaves the VM running as it was and is reported; the thermal
    /// manager retries, an explicit `stop` reports it to its caller.
    private func snapshotNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let started = ContinuousClock.now
        do { try await engine.snapshot(id: record.id.rawValue) } catch {
            log.error("sandbox.snapshot_failed", ["sandbox.id": record.id.rawValue, "error": "\(error)"])
            throw BhattiError(.unavailable, "snapshotting \(record.name) failed (it keeps running): \(error)", cause: error)
        }
        let next = try await moved(record, on: .snapshotted)
        log.info("sandbox.snapshotted", ["sandbox.id": record.id.rawValue, "ms": ms(since: started)])
        return next
    }

    /// Restore from disk. Damaged files put the sandbox in `error` with the reason: retrying cannot help.
    private func restoreNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let started = ContinuousClock.now
        let ram = DiskSpace.allocatedBytes(VMPaths(dataDirectory: engine.configuration.dataDirectory, id: record.id.rawValue).memory)
        try checkStorage(memoryMB: record.memoryMB, ramBytesOnDisk: ram, for: "restore \(record.name)")
        do {
            try await ensureNetwork(record)
            try await engine.restore(id: record.id.rawValue)
        } catch {
            let reason = "restoring its snapshot failed: \(error)"
            if let next = try? phase(of: record).after(.thermalFailed, at: time.now, snapshot: snapshotDirectory(record.id), cause: reason) {
                await self.record(record.id, next.state, reason: reason)
            }
            log.error("sandbox.restore_failed", ["sandbox.id": record.id.rawValue, "error": "\(error)"])
            throw BhattiError(.unavailable, "sandbox \(record.name): \(reason)", cause: error)
        }
        let next = try await moved(record, on: .restored)
        log.info("sandbox.restored", ["sandbox.id": record.id.rawValue, "ms": ms(since: started)])
        return next
    }

    /// Records the lifecycle table's next state (store first, then the answer) and restarts the idle
    /// timer from the new state: a timer asleep for the old state's deadline (a warm sandbox's 30
    /// minutes) must not outlive a wake, or the woken sandbox never cools again.
    func moved(_ record: SandboxRecord, on event: SandboxEvent) async throws -> SandboxRecord {
        var next = record
        let now = time.now
        let phase: SandboxPhase
        do { phase = try self.phase(of: record).after(event, at: now, snapshot: snapshotDirectory(record.id)) } catch {
            throw BhattiError(.internal, "sandbox \(record.name): \(event) is not possible in state \(record.state.rawValue)", cause: error)
        }
        next.state = phase.state
        next.stateReason = nil
        try await store.setState(record.id, next.state)
        events.record("thermal.\(next.state.rawValue)", sandbox: record.id, user: record.userID, detail: "from=\(record.state.rawValue)")
        // The new phase carries its own clock: a hot one is idle from the wake, not from before the pause.
        thermal[record.id, default: ThermalEntry(lastUse: now)].phase = phase
        if next.state == .hot || next.state == .warm {
            armTimer(record.id)
        } else {
            // Cold and error have nothing to time: no task that would only read the store and end.
            thermal[record.id]?.timer?.cancel()
            thermal[record.id]?.timer = nil
        }
        return next
    }

    // MARK: idleness

    /// Marks use of a sandbox: its idle clock restarts (and its timer starts if it had none).
    func touch(_ id: SandboxID) {
        thermal[id, default: ThermalEntry(lastUse: time.now)].activity.lastUse = time.now
        // Only a hot sandbox that can cool needs a timer; a kept-hot one would start a task per request
        // that ends at once.
        guard policy.warmAfter != nil, thermal[id]?.timer == nil, thermal[id]?.activity.keepHot != true else { return }
        armTimer(id)
    }

    /// Keeps a sandbox hot while something streams to or from it (shell, NDJSON exec, file read).
    public func hold(_ id: SandboxID) {
        thermal[id, default: ThermalEntry(lastUse: time.now)].activity.holds += 1
    }

    /// Ends a `hold`; the idle clock restarts from now.
    public func release(_ id: SandboxID) {
        thermal[id, default: ThermalEntry(lastUse: time.now)].activity.holds = max(0, (thermal[id]?.activity.holds ?? 1) - 1)
        touch(id)
    }

    /// Open holds on a sandbox: tests that drive the idle clock wait for a stream's end through it.
    func holdCount(_ id: SandboxID) -> Int { thermal[id]?.activity.holds ?? 0 }

    /// Drops a sandbox's bookkeeping (destroy).
    func forget(_ id: SandboxID) {
        thermal.removeValue(forKey: id)?.timer?.cancel()
    }

    /// One timer per sandbox, sleeping until the next moment anything could change. A touch only moves
    /// `lastUse` later, and the timer, on waking, sleeps again if the deadline moved; a state change
    /// can move the deadline earlier, so every one re-arms (see `moved`).
    func armTimer(_ id: SandboxID) {
        guard !shuttingDown, policy.warmAfter != nil || policy.coldAfter != nil else { return }
        thermal[id, default: ThermalEntry(lastUse: time.now)].timer?.cancel()
        thermal[id]?.timerGeneration += 1
        let generation = thermal[id]?.timerGeneration ?? 0
        let time = self.time
        thermal[id]?.timer = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                guard let due = await self.nextCheck(id) else { break }
                if due > time.now {
                    do { try await time.sleep(until: due) } catch { return }
                    continue
                }
                await self.cool(id)
            }
            await self?.timerEnded(id, generation: generation)
        }
    }

    /// A timer with nothing left to do (cold, error, keep_hot) is dropped, so the next touch starts one.
    private func timerEnded(_ id: SandboxID, generation: Int) {
        if thermal[id]?.timerGeneration == generation { thermal[id]?.timer = nil }
    }

    /// When `id` should be looked at again (on the `TimeLine`; now or earlier: at once), or nil when
    /// nothing will happen: the policy's decision on the sandbox's phase and activity.
    private func nextCheck(_ id: SandboxID) async -> Duration? {
        guard !shuttingDown, thermal[id] != nil, let record = try? await sandbox(id) else { return nil }
        let now = time.now
        switch decision(record, now: now) {
        case .none: return nil
        case .wait(let until): return until
        case .pause, .snapshot: return now
        }
    }

    /// The policy's answer for `record` now, with `keep_hot` as the store has it.
    private func decision(_ record: SandboxRecord, now: Duration) -> LifecycleAction {
        guard thermal[record.id] != nil else { return .none }
        thermal[record.id]?.activity.keepHot = record.keepHot
        let phase = phase(of: record)
        thermal[record.id]?.phase = phase
        return policy.decide(phase, thermal[record.id]!.activity, now: now)
    }

    /// The sandbox's phase: the one recorded with its last state change, or, when the store's state
    /// says otherwise (a create, a daemon start, an error), that state read as a phase starting now.
    func phase(of record: SandboxRecord) -> SandboxPhase {
        if let phase = thermal[record.id]?.phase, phase.state == record.state { return phase }
        return SandboxPhase(record.state, at: time.now, snapshot: snapshotDirectory(record.id), cause: record.stateReason)
    }

    /// Where a cold sandbox's snapshot lies (its own directory: device state beside the RAM file).
    func snapshotDirectory(_ id: SandboxID) -> String {
        VMPaths(dataDirectory: engine.configuration.dataDirectory, id: id.rawValue).directory
    }

    /// The timer's moment came: cool `id` one step if the policy still says so (a pause only if the
    /// guest's CPU agrees); failed snapshots back off and at last mark the sandbox `error` (the
    /// policy's `snapshotFailed`).
    private func cool(_ id: SandboxID) async {
        guard let record = try? await sandbox(id) else { return }
        switch decision(record, now: time.now) {
        case .pause:
            if await guestIsBusy(id) {
                // Logged: it says why a sandbox idle by the API's measure has not cooled.
                log.info("sandbox.idle_check_busy", ["sandbox.id": id.rawValue])
                touch(id)
                return
            }
            // Decided again after the probe's await: a request may have come in meanwhile.
            guard decision(record, now: time.now) == .pause else { return }
            do {
                _ = try await transition(id) { service, record in
                    guard record.state == .hot else { return record }
                    return try await service.pauseNow(record)
                }
            } catch {
                touch(id)
            }
        case .snapshot:
            do {
                _ = try await transition(id) { service, record in
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
        if case .error(let reason) = next {
            await self.record(record.id, .error, reason: reason)
            log.error("sandbox.snapshot_gave_up", ["sandbox.id": record.id.rawValue, "error": "\(error)"])
            return
        }
        thermal[record.id]?.phase = next
    }

    /// Whether the guest used at least `busyThreshold` of its CPU over `probeWindow`, or runs an exec
    /// for the API. A guest that cannot be asked counts as idle.
    private func guestIsBusy(_ id: SandboxID) async -> Bool {
        guard let agent = try? await engine.agent(for: id.rawValue),
              let first = try? await agent.activity()
        else { return false }
        if first.runningExecs > 0 || first.attachedSessions > 0 { return true }
        // The guest's CPU runs in real time, so its window is real time, whatever drives the timers.
        try? await Task.sleep(for: policy.probeWindow)
        guard let second = try? await agent.activity(),
              let b0 = first.cpuBusyTicks, let t0 = first.cpuTotalTicks, let b1 = second.cpuBusyTicks, let t1 = second.cpuTotalTicks,
              t1 > t0
        else { return false }
        return Double(b1 - b0) / Double(t1 - t0) >= policy.busyThreshold
    }

    func ms(since start: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - start
        return millisecondsText(d)
    }

    // MARK: daemon lifecycle

    /// At start: every sandbox is found again. A QEMU that still runs is adopted (hot); one that is
    /// gone leaves a snapshot (cold) or nothing (error, with the reason). keep_hot sandboxes are woken.
    public func recoverAfterRestart() async throws {
        for record in try await store.list() where record.state != .error {
            let id = record.id.rawValue
            switch await engine.recover(id: id) {
            case .adopted:
                if let next = try? SandboxLifecycle.next(record.state, on: .adopted) {
                    try await store.setState(record.id, next)
                }
                touch(record.id)
                log.info("sandbox.adopted", ["sandbox.id": id])
            case .cold:
                if let next = try? SandboxLifecycle.next(record.state, on: .foundCold) {
                    try await store.setState(record.id, next)
                }
                log.info("sandbox.found_cold", ["sandbox.id": id])
                if record.keepHot {
                    Task { _ = try? await self.wake(record.id) }
                }
            case .lost(let why):
                await lose(record, reason: "the daemon restarted and \(why); start it to boot it again from its disk, or destroy it")
            }
        }
    }

    /// Daemon shutdown: stops the timers and snapshots every hot and warm sandbox to disk, a few at a
    /// time, so the next start finds them cold with their memory intact.
    public func snapshotAllForShutdown() async {
        shuttingDown = true
        for entry in thermal.values { entry.timer?.cancel() }
        let running = ((try? await store.list()) ?? []).filter { $0.state == .hot || $0.state == .warm }
        let width = max(1, policy.shutdownParallelism)
        await withTaskGroup(of: Void.self) { group in
            for (i, record) in running.enumerated() {
                if i >= width { await group.next() }
                group.addTask {
                    do { _ = try await self.stop(SandboxRef(record.id.rawValue, owner: record.userID ?? "")) } catch {
                        self.log.error("sandbox.shutdown_snapshot_failed", ["sandbox.id": record.id.rawValue, "error": "\(error)"])
                    }
                }
            }
        }
    }
}
