public import BhattiCore
import BhattiEngine
public import BhattiStore
import BhattiSystem
import Foundation

/// The explicit thermal routes and the engine's part of each transition. Who may move when, the
/// phase, the idle timer and the store's record of the state are the sandbox's `SandboxSupervisor`'s.
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
        await touch(id)
        await hostsCatchUp(record)
        return record
    }

    /// Runs `body` as the sandbox's only transition (its supervisor's lock), on a fresh read of its record.
    func transition(
        _ id: SandboxID, _ body: @escaping @Sendable (SandboxService, SandboxRecord) async throws -> SandboxRecord
    ) async throws -> SandboxRecord {
        try await supervisor(id).transition(body)
    }

    /// A state in which `operation` has nothing to do: hot/warm/cold are answered as they are.
    private func settled(_ record: SandboxRecord, for operation: String) throws -> SandboxRecord {
        switch record.state {
        case .hot, .warm, .cold: return record
        case .creating: throw BhattiError(.invalidState, "sandbox \(record.name) is still being created")
        case .error:
            throw BhattiError(
                .invalidState, "cannot \(operation) sandbox \(record.name): it is in error\(record.stateReason.map { ": \($0)" } ?? "")")
        }
    }

    func pauseNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let started = ContinuousClock.now
        let engine = engine
        let next = try await supervisor(record.id).perform(record, .paused) {
            do { try await engine.pause(id: record.id.rawValue) } catch {
                throw BhattiError(.unavailable, "pausing \(record.name) failed: \(error)", cause: error)
            }
        }
        log.info("sandbox.paused", ["sandbox.id": record.id.rawValue, "ms": ms(since: started)])
        return next
    }

    private func resumeNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let engine = engine
        return try await supervisor(record.id).perform(record, .resumed) {
            do { try await engine.resume(id: record.id.rawValue) } catch {
                throw BhattiError(.unavailable, "resuming \(record.name) failed: \(error)", cause: error)
            }
        }
    }

    /// Snapshot to disk. A failure leaves the VM running as it was and is reported; the thermal
    /// manager retries, an explicit `stop` reports it to its caller.
    func snapshotNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let started = ContinuousClock.now
        let (engine, log) = (engine, log)
        let next = try await supervisor(record.id).perform(record, .snapshotted) {
            do { try await engine.snapshot(id: record.id.rawValue) } catch {
                log.error("sandbox.snapshot_failed", ["sandbox.id": record.id.rawValue, "error": "\(error)"])
                throw BhattiError(.unavailable, "snapshotting \(record.name) failed (it keeps running): \(error)", cause: error)
            }
        }
        log.info("sandbox.snapshotted", ["sandbox.id": record.id.rawValue, "ms": ms(since: started)])
        return next
    }

    /// Restore from disk. Damaged files put the sandbox in `error` with the reason: retrying cannot help.
    private func restoreNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let started = ContinuousClock.now
        let ram = DiskSpace.allocatedBytes(VMPaths(dataDirectory: engine.configuration.dataDirectory, id: record.id.rawValue).memory)
        try checkStorage(memoryMB: record.memoryMB, ramBytesOnDisk: ram, for: "restore \(record.name)")
        let supervisor = supervisor(record.id)
        let next: SandboxRecord
        do {
            next = try await supervisor.perform(record, .restored) {
                try await self.ensureNetwork(record)
                try await self.engine.restore(id: record.id.rawValue)
            }
        } catch let error as BhattiError where error.code == .internal {
            throw error
        } catch {
            let reason = "restoring its snapshot failed: \(error)"
            await supervisor.fail(record, on: .thermalFailed, cause: reason)
            log.error("sandbox.restore_failed", ["sandbox.id": record.id.rawValue, "error": "\(error)"])
            throw BhattiError(.unavailable, "sandbox \(record.name): \(reason)", cause: error)
        }
        log.info("sandbox.restored", ["sandbox.id": record.id.rawValue, "ms": ms(since: started)])
        return next
    }

    // MARK: idleness (each sandbox's supervisor keeps it)

    /// Marks use of a sandbox: its idle clock restarts (and its timer starts if it had none).
    func touch(_ id: SandboxID) async {
        await supervisor(id).touch()
    }

    /// Keeps a sandbox hot while something streams to or from it (shell, NDJSON exec, file read).
    public func hold(_ id: SandboxID) async {
        await supervisor(id).hold()
    }

    /// Ends a `hold`; the idle clock restarts from now.
    public func release(_ id: SandboxID) async {
        await supervisor(id).release()
    }

    /// Runs `body` holding the sandbox hot, and releases it however `body` ends.
    func held<T: Sendable>(_ id: SandboxID, _ body: () async throws -> T) async throws -> T {
        await supervisor(id).hold()
        return try await releasing(id, body)
    }

    /// Runs `body` on a sandbox its caller already holds (`guest(record:holding:)`), and releases it
    /// however `body` ends.
    func releasing<T: Sendable>(_ id: SandboxID, _ body: () async throws -> T) async throws -> T {
        let supervisor = supervisor(id)
        do {
            let result = try await body()
            await supervisor.release()
            return result
        } catch {
            await supervisor.release()
            throw error
        }
    }

    /// Open holds on a sandbox: tests that drive the idle clock wait for a stream's end through it.
    func holdCount(_ id: SandboxID) async -> Int { await supervisors[id]?.holdCount ?? 0 }

    /// Whether the guest used at least `busyThreshold` of its CPU over `probeWindow`, or runs an exec
    /// for the API. A guest that cannot be asked counts as idle.
    func guestIsBusy(_ id: SandboxID) async -> Bool {
        guard let guest = try? await engine.guest(for: id.rawValue),
            let first = try? await guest.activity(usage: false)
        else { return false }
        if first.runningExecs > 0 || first.attachedSessions > 0 { return true }
        // The guest's CPU runs in real time, so its window is real time, whatever drives the timers.
        try? await Task.sleep(for: policy.probeWindow)
        guard let second = try? await guest.activity(usage: false),
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
    /// gone leaves a snapshot (cold) or nothing (error, with the reason). keep_hot sandboxes are woken
    /// in the background (owned: a stopping daemon waits for them).
    public func recoverAfterRestart() async throws {
        for record in try await store.list() where record.state != .error {
            let id = record.id.rawValue
            let supervisor = supervisor(record.id)
            switch await engine.recover(id: id) {
            case .adopted:
                _ = try await supervisor.commit(record, on: .adopted)
                await supervisor.touch()
                log.info("sandbox.adopted", ["sandbox.id": id])
            case .cold:
                _ = try await supervisor.commit(record, on: .foundCold)
                log.info("sandbox.found_cold", ["sandbox.id": id])
                if record.keepHot {
                    spawn { service in _ = try? await service.wake(record.id) }
                }
            case .lost(let why):
                await lose(record, reason: "the daemon restarted and \(why); start it to boot it again from its disk, or destroy it")
            }
        }
    }

    /// Daemon shutdown: stops the timers (waiting for each) and snapshots every hot and warm sandbox to
    /// disk, a few at a time, so the next start finds them cold with their memory intact.
    public func snapshotAllForShutdown() async {
        shuttingDown = true
        for supervisor in supervisors.values { await supervisor.shutDown() }
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
