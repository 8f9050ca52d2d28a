import BhattiCore
import BhattiStore
import Foundation
import Testing

@testable import BhattiDaemon

/// A service over a fake engine and a real SQLite store, its timers on a `ManualClock`.
struct Harness {
    let directory: String
    let store: SandboxStore
    let engine: FakeEngine
    let service: SandboxService
    let clock = ManualClock()

    init(policy: ThermalPolicy = ThermalPolicy(templates: false)) throws {
        directory = FileManager.default.temporaryDirectory.path + "/bhatti-daemon-tests-" + SandboxID.random().rawValue
        try FileManager.default.createDirectory(atPath: directory + "/sandboxes", withIntermediateDirectories: true)
        store = try SandboxStore(path: directory + "/state.db")
        engine = try FakeEngine(dataDirectory: directory)
        service = SandboxService(store: store, engine: engine, log: Logger(sink: { _ in }), policy: policy, clock: clock)
    }

    /// A sandbox recorded in `state`, as if it had been running (the fake engine keeps no VM for it).
    func sandbox(_ name: String, _ state: SandboxState) async throws -> SandboxRecord {
        let record = SandboxRecord(
            id: .random(), name: SandboxName(rawValue: name)!, state: state, cpus: 1, memoryMB: 128, image: "default", createdAt: Date(),
            userID: nil)
        try await store.insert(record)
        return record
    }

    func ref(_ record: SandboxRecord) -> SandboxRef { SandboxRef(record.id.rawValue, owner: "") }

    func stored(_ record: SandboxRecord) async throws -> SandboxRecord { try #require(try await store.sandbox(id: record.id)) }

    /// Waits (real time only turns a hang into a failure) until `condition` holds.
    func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let giveUp = ContinuousClock.now + .seconds(60)
        while try await !condition() {
            guard ContinuousClock.now < giveUp else {
                Issue.record("never: \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Moves the clock to the next moment a timer sleeps until, once one sleeps.
    func advanceToNextDeadline() async throws {
        try await until("a timer sleeps") { clock.sleeperCount > 0 }
        if let next = clock.nextDeadline { clock.advance(by: clock.now.duration(to: next)) }
    }

    func finish() async {
        await service.snapshotAllForShutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The sandbox supervisor over a fake engine: transitions caught mid-way, raced and failed, with no
/// QEMU and time only as the test moves it.
@Suite("Sandbox supervisor")
struct SupervisorTests {
    @Test("twenty wakes of a cold sandbox at once give one restore, and all see it hot")
    func twentyWakesOneRestore() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("cold", .cold)
        await h.engine.hold("restore")
        let (service, ref) = (h.service, h.ref(sb))
        try await withThrowingTaskGroup(of: SandboxState.self) { group in
            for _ in 0..<20 { group.addTask { try await service.start(ref).state } }
            await h.engine.called("restore")
            await h.engine.release("restore")
            for try await state in group { #expect(state == .hot) }
        }
        #expect(await h.engine.count("restore") == 1)
        #expect(try await h.stored(sb).state == .hot)
        await h.finish()
    }

    @Test("a failed restore leaves the sandbox in error with its cause")
    func failedRestore() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("broken", .cold)
        await h.engine.fail("restore", "the device state does not match its manifest")
        await #expect(throws: BhattiError.self) { try await h.service.start(h.ref(sb)) }
        let seen = try await h.stored(sb)
        #expect(seen.state == .error)
        #expect(seen.stateReason?.contains("restoring its snapshot failed") == true)
        #expect(seen.stateReason?.contains("does not match its manifest") == true, "\(seen.stateReason ?? "")")
        // A second start does not restore again: error is answered by a boot from disk.
        #expect(await h.engine.count("restore") == 1)
        await h.finish()
    }

    @Test("a wake that comes while the idle timer pauses waits for the pause, then resumes")
    func wakeRacingCoolDown() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("racy", .hot)
        await h.service.touch(sb.id)
        await h.engine.hold("pause")
        // 30 s idle: the timer pauses (the fake guest cannot be asked, so it counts as idle).
        try await h.advanceToNextDeadline()
        await h.engine.called("pause")
        let (service, ref) = (h.service, h.ref(sb))
        let waking = Task { try await service.start(ref) }
        await h.engine.release("pause")
        #expect(try await waking.value.state == .hot)
        #expect(await h.engine.calls == ["pause", "resume"])
        #expect(try await h.stored(sb).state == .hot)
        await h.finish()
    }

    @Test("QEMU dying during a snapshot leaves error with its cause; the failed step does not undo it")
    func crashMidTransition() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("crashy", .hot)
        await h.engine.hold("snapshot")
        let (service, ref) = (h.service, h.ref(sb))
        let stopping = Task { try await service.stop(ref) }
        await h.engine.called("snapshot")
        await h.service.vmLost(id: sb.id.rawValue, reason: "QEMU ended unexpectedly: killed by signal 9 (Killed)")
        await h.engine.fail("snapshot", "the QMP socket closed")
        await h.engine.release("snapshot")
        await #expect(throws: BhattiError.self) { try await stopping.value }
        let seen = try await h.stored(sb)
        #expect(seen.state == .error)
        #expect(seen.stateReason == "QEMU ended unexpectedly: killed by signal 9 (Killed)")
        await h.finish()
    }

    @Test("idle 30 s: warm; warm 30 min: cold; each at its deadline on the driven clock")
    func idleTiers() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("idle", .hot)
        await h.service.touch(sb.id)
        try await h.advanceToNextDeadline()
        try await h.until("warm") { try await h.stored(sb).state == .warm }
        #expect(h.clock.now == .init(offset: .seconds(30)))
        try await h.advanceToNextDeadline()
        try await h.until("cold") { try await h.stored(sb).state == .cold }
        #expect(h.clock.now == .init(offset: .seconds(30 + 30 * 60)))
        #expect(await h.engine.calls == ["pause", "snapshot"])
        await h.finish()
    }

    @Test("a snapshot that keeps failing is tried again after 2, 4 and 8 s, then gives up with the cause")
    func snapshotBackOff() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("stuck", .warm)
        await h.engine.fail("snapshot", "no space left on device")
        await h.service.touch(sb.id)
        for _ in 0..<4 {
            try await h.advanceToNextDeadline()
            await h.engine.called("snapshot")
        }
        try await h.until("error") { try await h.stored(sb).state == .error }
        #expect(await h.engine.count("snapshot") == 4)
        #expect(h.clock.now == .init(offset: .seconds(30 * 60 + 2 + 4 + 8)))
        let reason = try await h.stored(sb).stateReason ?? ""
        #expect(reason.hasPrefix("snapshot failed 4 times: "), "\(reason)")
        #expect(reason.contains("no space left on device"), "\(reason)")
        await h.finish()
    }
}

/// The registry's destroy over the fake engine.
@Suite("Sandbox registry")
struct RegistryTests {
    @Test("a destroy that comes during a restore waits for it, then takes the VM and the record; the wake still answered")
    func destroyWaitsForWake() async throws {
        let h = try Harness()
        let sb = try await h.sandbox("doomed", .cold)
        await h.engine.hold("restore")
        let (service, ref) = (h.service, h.ref(sb))
        let waking = Task { try await service.start(ref) }
        await h.engine.called("restore")
        let destroying = Task { try await service.destroy(ref) }
        await h.engine.release("restore")
        #expect(try await waking.value.state == .hot)
        try await destroying.value
        #expect(try await h.store.sandbox(id: sb.id) == nil)
        #expect(await h.engine.isRunning(sb.id.rawValue) == false)
        #expect(await h.service.supervisors[sb.id] == nil)
        await #expect(throws: BhattiError.self) { try await service.get(ref) }
        await h.finish()
    }
}
