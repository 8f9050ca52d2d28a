import BhattiCore
import BhattiEngine
import BhattiStore
public import BhattiSystem
import Foundation

/// A sandbox whose QEMU died: how that is described and recorded (even when the store cannot be
/// written), and how `start` boots it again from its disk.
extension SandboxService {
    /// Engine event: the sandbox's QEMU ended on its own. The reason says how (`killed by signal 9
    /// (Killed)`, not a wait status), the last line QEMU wrote, and a full data directory when that
    /// is the likely cause.
    public func vmDied(id: String, termination: Termination?, log qemuLog: String) async {
        let how = termination?.described ?? "ended (it was started by an earlier daemon, so how is not known)"
        let last = qemuLog.split(separator: "\n").last.map(String.init) ?? ""
        var reason = "QEMU ended unexpectedly: \(how)\(last.isEmpty ? "" : "; its last output: \(last)")"
        let data = engine.configuration.dataDirectory
        if let free = DiskSpace.freeBytes(data), free < StorageBudget.headroomBytes {
            reason +=
                "; the data directory \(data) is nearly full (\(StorageBudget.mebibytes(free)) free), so its RAM file or disk could not grow"
        }
        await vmLost(id: id, reason: reason)
    }

    /// Marks sandboxes whose VM did not survive (QEMU died, or the daemon restarted).
    public func vmLost(id: String, reason: String) async {
        guard let sandboxID = SandboxID(rawValue: id), let found = try? await sandbox(sandboxID) else { return }
        await lose(found, reason: reason)
    }

    /// The VM is gone: the lifecycle table says where that leaves the sandbox (a sandbox already in
    /// `error` stays as it is, with its first reason).
    func lose(_ record: SandboxRecord, reason: String) async {
        guard await supervisor(record.id).fail(record, on: .vmmDied, cause: reason) else { return }
        log.error("sandbox.vm_lost", ["sandbox.id": record.id.rawValue, "reason": reason])
        events.record("sandbox.vm_lost", sandbox: record.id, user: record.userID, detail: reason)
    }

    /// The supervisor wrote a state the VM's fate forced: nothing is pending for it any more.
    func recorded(_ id: SandboxID) {
        unrecorded[id] = nil
    }

    /// The store could not take a state the VM's fate forces (a full disk: sqlite error 13): it is kept
    /// in memory, shown by every read, and written (through the supervisor) by a retry in the
    /// background once the store takes writes again: a dead QEMU never reads as hot.
    func unrecordable(_ id: SandboxID, _ state: SandboxState, reason: String?, error: any Error) {
        unrecorded[id] = UnrecordedState(state: state, reason: reason)
        log.error("sandbox.state_unrecorded", ["sandbox.id": id.rawValue, "state": state.rawValue, "error": "\(error)"])
        retryUnrecorded()
    }

    /// One retry loop at a time, owned like the template builds (a stopping daemon cancels it): it
    /// tries again after 1, 2, 4… (at most 30) seconds until every pending state is written.
    private func retryUnrecorded() {
        guard !retryingUnrecorded, !shuttingDown else { return }
        retryingUnrecorded = true
        spawn { service in
            var wait = Duration.seconds(1)
            while await service.keepRetrying() {
                do { try await Task.sleep(for: wait) } catch {
                    await service.retryEnded()
                    return
                }
                await service.flushUnrecorded()
                wait = min(wait * 2, .seconds(30))
            }
        }
    }

    /// Whether the retry loop goes on; when not, it is marked ended in the same step, so a failure
    /// recorded just after starts a new loop instead of finding this one still marked running. A
    /// stopping daemon's retry ends too: the stop never waits on a store that stays unwritable.
    private func keepRetrying() -> Bool {
        if !unrecorded.isEmpty && !shuttingDown { return true }
        retryingUnrecorded = false
        return false
    }

    private func retryEnded() { retryingUnrecorded = false }

    /// A record as the service knows it: the store's, with any state the store could not take yet.
    func overlaid(_ record: SandboxRecord) -> SandboxRecord {
        guard let pending = unrecorded[record.id] else { return record }
        var record = record
        record.state = pending.state
        record.stateReason = pending.reason
        return record
    }

    /// Retries the writes the store refused.
    func flushUnrecorded() async {
        for id in Array(unrecorded.keys) {
            // Read again after every await: a start or destroy meanwhile may have cleared or replaced it,
            // and a stale state must not be written over a newer one.
            guard let pending = unrecorded[id] else { continue }
            guard (try? await supervisor(id).write(pending.state, reason: pending.reason)) != nil else { return }
            // A newer state may have come while this one was written: it stays pending.
            if unrecorded[id] == pending { unrecorded[id] = nil }
            log.info("sandbox.state_recorded", ["sandbox.id": id.rawValue, "state": pending.state.rawValue])
        }
    }

    /// The store's record of `id`, overlaid (nil: no such sandbox).
    func sandbox(_ id: SandboxID) async throws -> SandboxRecord? {
        try await store.sandbox(id: id).map(overlaid)
    }

    /// `start` on a sandbox in `error`: its QEMU is gone, so it boots afresh from its disk (the RAM's
    /// state is lost, its files are kept). A VM that still runs (a snapshot that kept failing, which
    /// leaves a warm one paused) is resumed and its failures forgotten. No disk: a clear error, and it
    /// stays in `error`.
    func rebootNow(_ record: SandboxRecord) async throws -> SandboxRecord {
        let id = record.id.rawValue
        let running = await engine.isRunning(id)
        let next = try await supervisor(record.id).perform(record, .rebooted) {
            try await self.bootAgain(record, running: running)
        }
        // A fresh guest: the names of the owner's sandboxes are pushed again by the wake's catch-up.
        if !running { hostsApplied[record.id] = nil }
        unrecorded[record.id] = nil
        log.info("sandbox.rebooted", ["sandbox.id": id])
        events.record("sandbox.rebooted", sandbox: record.id, user: record.userID, detail: "after: \(record.stateReason ?? "error")")
        return next
    }

    /// The engine's part of `rebootNow`: resume a VM that still runs, or boot one from the disk.
    private func bootAgain(_ record: SandboxRecord, running: Bool) async throws {
        let id = record.id.rawValue
        if running {
            do { try await engine.resume(id: id) } catch {
                throw BhattiError(.unavailable, "resuming \(record.name) failed (it stays in error): \(error)", cause: error)
            }
        } else {
            try checkStorage(memoryMB: record.memoryMB, for: "start \(record.name)")
            do {
                let nic = record.ip != nil ? try await attachNetwork(record) : nil
                let io = try await ioLimits(owner: record.userID ?? "")
                _ = try await engine.reboot(
                    id: id, nic: nic, diskThrottle: DiskThrottle(bytesPerSecond: io.diskBytesPerSecond, iops: io.diskIOPS))
            } catch EngineError.diskMissing(let why) {
                throw BhattiError(
                    .invalidState, "cannot start sandbox \(record.name) again: \(why); destroy it (bhatti destroy \(record.name))")
            } catch let error as BhattiError {
                throw error
            } catch {
                throw BhattiError(
                    .unavailable, "booting \(record.name) again from its disk failed (it stays in error): \(error)", cause: error)
            }
        }
    }

    /// Refuses with 507 unless the data directory can hold a new VM of `memoryMB` (its RAM file and
    /// the disk's growth headroom).
    func checkStorage(memoryMB: Int, ramBytesOnDisk: UInt64 = 0, for what: String) throws {
        let data = engine.configuration.dataDirectory
        try StorageBudget.check(
            free: DiskSpace.freeBytes(data), needed: StorageBudget.needed(memoryMB: memoryMB, ramBytesOnDisk: ramBytesOnDisk),
            directory: data, for: what)
    }
}

/// A sandbox state the store could not take yet (see `SandboxService.record`).
struct UnrecordedState: Sendable, Equatable {
    var state: SandboxState
    var reason: String?
}
