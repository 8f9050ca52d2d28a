import BhattiCore
import BhattiEngine
import BhattiImage
import BhattiStore
import BhattiWire
import Foundation

/// What a buffered or streamed exec produced.
public struct ExecOutcome: Sendable {
    public var exitCode: Int32
    public var duration: Duration
}

/// The sandbox operations behind the API: store and engine kept in step.
///
/// Every state change is recorded in the store before it is reported, so a crash never leaves the
/// API claiming something the store forgot.
public actor SandboxService {
    private let store: SandboxStore
    private let engine: Engine
    private let log: Logger
    /// Creates in flight, by name: a second create of the same name waits for the first.
    private var creating: [String: Task<SandboxRecord, any Error>] = [:]
    /// The lifecycle lock: at most one thermal transition per sandbox; others wait for it and look again.
    var transitions: [SandboxID: Task<SandboxRecord, any Error>] = [:]
    /// Idleness bookkeeping per sandbox (see SandboxService+Thermal).
    var thermal: [SandboxID: ThermalEntry] = [:]
    let policy: ThermalPolicy
    /// Set once shutdown begins: the thermal manager stops cooling on its own.
    var shuttingDown = false

    public init(store: SandboxStore, engine: Engine, log: Logger, policy: ThermalPolicy = ThermalPolicy()) {
        self.store = store
        self.engine = engine
        self.log = log
        self.policy = policy
    }

    var storeForThermal: SandboxStore { store }
    var engineForThermal: Engine { engine }
    var logForThermal: Logger { log }

    /// Creates and boots a sandbox, or returns the existing one of that name (`existing: true`).
    public func create(_ spec: SandboxSpec, labels: [String: String], keepHot: Bool) async throws -> (SandboxRecord, existing: Bool) {
        if let pending = creating[spec.name.rawValue] {
            return (try await pending.value, true)
        }
        if let found = try await store.find(spec.name.rawValue), found.name == spec.name {
            return (found, true)
        }
        let image = engine.configuration.imageDirectory
        do { _ = try GuestImage.open(image) } catch {
            throw BhattiError(.unavailable, "no guest image in \(image): run `bhatti image build --out \(image)` first", cause: error)
        }
        // Re-check after the awaits above: another create of this name may have started meanwhile.
        // From here to registering the task there is no suspension point.
        if let pending = creating[spec.name.rawValue] {
            return (try await pending.value, true)
        }
        try SandboxLabels.validate(labels)
        let record = SandboxRecord(
            id: .random(), name: spec.name, state: .creating, cpus: spec.cpus, memoryMB: spec.memoryMB, diskMB: spec.diskMB,
            image: "default", labels: labels, keepHot: keepHot, createdAt: Date())
        let task = Task { [engine, store, log] () throws -> SandboxRecord in
            try await store.insert(record)
            do {
                _ = try await engine.boot(id: record.id.rawValue, cpus: record.cpus, memoryMB: record.memoryMB, hostname: record.name.rawValue)
                var hot = record
                hot.state = try SandboxLifecycle.next(record.state, on: .booted)
                try await store.setState(record.id, hot.state)
                log.info("sandbox.created", ["sandbox.id": record.id.rawValue, "sandbox.name": record.name.rawValue])
                self.touch(record.id)
                return hot
            } catch {
                // A sandbox that never booted is not kept: the create failed as a whole.
                await engine.destroy(id: record.id.rawValue)
                try? await store.delete(record.id)
                log.error("sandbox.boot_failed", ["sandbox.id": record.id.rawValue, "error": String(describing: error)])
                throw BhattiError(.unavailable, "sandbox \(record.name) failed to boot: \(error)", cause: error)
            }
        }
        creating[spec.name.rawValue] = task
        defer { creating[spec.name.rawValue] = nil }
        return (try await task.value, false)
    }

    /// Looks up by id or name.
    public func get(_ idOrName: String) async throws -> SandboxRecord {
        guard let record = try await store.find(idOrName) else {
            throw BhattiError(.notFound, "sandbox \(idOrName) not found")
        }
        return record
    }

    public func list(labels: [String: String] = [:]) async throws -> [SandboxRecord] {
        try await store.list().filter { r in labels.allSatisfy { r.labels[$0.key] == $0.value } }
    }

    /// Renames, sets keep_hot, adds and removes labels. The guest's hostname stays what it was at boot.
    public func edit(_ idOrName: String, name: SandboxName?, keepHot: Bool?, addLabels: [String: String], removeLabels: [String]) async throws -> SandboxRecord {
        var record = try await get(idOrName)
        if let name { record.name = name }
        if let keepHot { record.keepHot = keepHot }
        for key in removeLabels { record.labels.removeValue(forKey: key) }
        for (k, v) in addLabels { record.labels[k] = v }
        try SandboxLabels.validate(record.labels)
        try await store.update(record.id, name: record.name, keepHot: record.keepHot, labels: record.labels)
        // Unpinned: idleness counts from now.
        if keepHot == false { touch(record.id) }
        return record
    }

    /// Stops the VM and forgets the sandbox, files and all.
    public func destroy(_ idOrName: String) async throws {
        let record = try await get(idOrName)
        forget(record.id)
        await engine.destroy(id: record.id.rawValue)
        try await store.delete(record.id)
        log.info("sandbox.destroyed", ["sandbox.id": record.id.rawValue])
    }

    /// Runs a command to completion, reporting output through `onEvent` as it arrives.
    /// A command that cannot start (not found) reports exit 127 with the reason on stderr; a
    /// timeout kills the process group and reports 124, like `timeout(1)`.
    public func exec(
        _ idOrName: String, request: ExecRequest, stdin: [UInt8]?, timeout: Duration,
        onEvent: @escaping @Sendable (ExecEvent) -> Void
    ) async throws -> ExecOutcome {
        let (record, agent) = try await guest(idOrName)
        let start = ContinuousClock.now
        hold(record.id)
        defer { release(record.id) }
        do {
            let status = try await withTimeout(timeout) {
                try await agent.exec(request, stdin: stdin, onEvent: onEvent)
            }
            return ExecOutcome(exitCode: status.code, duration: ContinuousClock.now - start)
        } catch let error as AgentError {
            if case .remote(let message) = error {
                onEvent(.stderr(Array("bhatti: \(message.message)\n".utf8)))
                let code: Int32 = message.code == .notFound ? 127 : (message.code == .permissionDenied ? 126 : 1)
                return ExecOutcome(exitCode: code, duration: ContinuousClock.now - start)
            }
            throw BhattiError(.unavailable, "exec in \(record.name) failed: \(error)", cause: error)
        } catch is TimeoutError {
            onEvent(.stderr(Array("bhatti: command timed out after \(timeout)\n".utf8)))
            return ExecOutcome(exitCode: 124, duration: ContinuousClock.now - start)
        }
    }

    /// The agent channel of a sandbox, waking it first if it is warm or cold (one wake however many
    /// callers ask at once). Counts as use: the idle clock restarts.
    public func guest(_ idOrName: String) async throws -> (SandboxRecord, AgentConnection) {
        var record = try await get(idOrName)
        if record.state == .warm || record.state == .cold { record = try await wake(record.id) }
        guard record.state == .hot else {
            throw BhattiError(.invalidState, "sandbox \(record.name) is \(record.state.rawValue)\(record.stateReason.map { ": \($0)" } ?? "")")
        }
        touch(record.id)
        do { return (record, try await engine.agent(for: record.id.rawValue)) } catch {
            throw BhattiError(.invalidState, "sandbox \(record.name) has no running VM", cause: error)
        }
    }

    /// Runs `body` against the sandbox's agent, mapping the agent's refusals to API errors.
    public func withGuest<T: Sendable>(_ idOrName: String, _ body: (AgentConnection) async throws -> T) async throws -> T {
        let (record, agent) = try await guest(idOrName)
        hold(record.id)
        defer { release(record.id) }
        do { return try await body(agent) } catch let error as AgentError {
            throw GuestErrors.map(error, sandbox: record.name.rawValue)
        }
    }

    /// Marks sandboxes whose VM did not survive (QEMU died, or the daemon restarted).
    public func vmLost(id: String, reason: String) async {
        guard let record = try? await store.find(id) else { return }
        await lose(record, reason: reason)
    }

    /// The VM is gone: the lifecycle table says where that leaves the sandbox (a sandbox already in
    /// `error` stays as it is, with its first reason).
    func lose(_ record: SandboxRecord, reason: String) async {
        guard let next = try? SandboxLifecycle.next(record.state, on: .vmmDied) else { return }
        try? await store.setState(record.id, next, reason: reason)
        log.error("sandbox.vm_lost", ["sandbox.id": record.id.rawValue, "reason": reason])
    }

}

struct TimeoutError: Error {}

/// Runs `body`, cancelling it after `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimeoutError() }
        return first
    }
}
