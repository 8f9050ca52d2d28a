import BhattiCore
import BhattiEngine
import BhattiImage
import BhattiStore
import BhattiWire
import Foundation
import Synchronization

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
    // Internal, not private: the thermal and snapshot extensions in their own files use them.
    let store: SandboxStore
    let engine: Engine
    let log: Logger
    /// Creates in flight, by name: a second create of the same name waits for the first.
    private var creating: [String: Task<SandboxRecord, any Error>] = [:]
    /// The lifecycle lock: at most one thermal transition per sandbox; others wait for it and look again.
    var transitions: [SandboxID: Task<SandboxRecord, any Error>] = [:]
    /// Idleness bookkeeping per sandbox (see SandboxService+Thermal).
    var thermal: [SandboxID: ThermalEntry] = [:]
    let policy: ThermalPolicy
    /// Set once shutdown begins: the thermal manager stops cooling on its own.
    var shuttingDown = false
    /// Template sizes built or being built by this daemon.
    var templateBuilds: Set<String> = []

    public init(store: SandboxStore, engine: Engine, log: Logger, policy: ThermalPolicy = ThermalPolicy()) {
        self.store = store
        self.engine = engine
        self.log = log
        self.policy = policy
    }


    /// Creates and boots a sandbox, or returns the existing one of that name (`existing: true`).
    /// `source` names a running sandbox to fork (its memory and disk) instead of a fresh boot.
    public func create(
        _ spec: SandboxSpec, labels: [String: String], keepHot: Bool, from source: String? = nil
    ) async throws -> (SandboxRecord, existing: Bool) {
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
        try SandboxLabels.validate(labels)
        var origin = Origin.boot
        var spec = spec
        if let source {
            let parent = try await get(source)
            // The fork's RAM is the parent's: its size comes along.
            spec = try SandboxSpec(name: spec.name, cpus: parent.cpus, memoryMB: parent.memoryMB, diskMB: parent.diskMB)
            origin = .fork(parent.id)
        }
        return try await create(spec, labels: labels, keepHot: keepHot, origin: origin)
    }

    /// Where a new sandbox's first state comes from.
    enum Origin: Sendable {
        /// A cold boot, or the image's template snapshot when one fits.
        case boot
        /// A running sandbox's memory and disk, copied.
        case fork(SandboxID)
        /// A named snapshot's directory.
        case snapshot(directory: String)
    }

    func create(_ spec: SandboxSpec, labels: [String: String], keepHot: Bool, origin: Origin) async throws -> (SandboxRecord, existing: Bool) {
        // Re-check after the callers' awaits: another create of this name may have started meanwhile.
        // From here to registering the task there is no suspension point.
        if let pending = creating[spec.name.rawValue] {
            return (try await pending.value, true)
        }
        let record = SandboxRecord(
            id: .random(), name: spec.name, state: .creating, cpus: spec.cpus, memoryMB: spec.memoryMB, diskMB: spec.diskMB,
            image: "default", labels: labels, keepHot: keepHot, createdAt: Date())
        let task = Task { [engine, store, log] () throws -> SandboxRecord in
            try await store.insert(record)
            do {
                let how = try await self.bringUp(record, origin: origin)
                var hot = record
                hot.state = try SandboxLifecycle.next(record.state, on: .booted)
                try await store.setState(record.id, hot.state)
                log.info("sandbox.created", ["sandbox.id": record.id.rawValue, "sandbox.name": record.name.rawValue, "from": how])
                self.touch(record.id)
                return hot
            } catch {
                // A sandbox that never booted is not kept: the create failed as a whole.
                await engine.destroy(id: record.id.rawValue)
                try? await store.delete(record.id)
                log.error("sandbox.boot_failed", ["sandbox.id": record.id.rawValue, "error": String(describing: error)])
                if let e = error as? BhattiError { throw e }
                throw BhattiError(.unavailable, "sandbox \(record.name) failed to boot: \(error)", cause: error)
            }
        }
        creating[spec.name.rawValue] = task
        defer { creating[spec.name.rawValue] = nil }
        return (try await task.value, false)
    }

    /// Brings a new sandbox's VM up; says how (for the log).
    private func bringUp(_ record: SandboxRecord, origin: Origin) async throws -> String {
        let id = record.id.rawValue, hostname = record.name.rawValue
        switch origin {
        case .boot:
            if policy.templates, let template = try? await engine.template(cpus: record.cpus, memoryMB: record.memoryMB) {
                do {
                    try await engine.clone(from: template, to: id, hostname: hostname, keepEnvironment: false)
                    return "template"
                } catch {
                    log.warning("sandbox.template_failed", ["sandbox.id": id, "error": "\(error)"])
                }
            }
            _ = try await engine.boot(id: id, cpus: record.cpus, memoryMB: record.memoryMB, hostname: hostname)
            if policy.templates { await buildTemplate(cpus: record.cpus, memoryMB: record.memoryMB) }
            return "boot"
        case .fork(let parentID):
            let (parent, _) = try await guest(parentID.rawValue)
            hold(parent.id)
            defer { release(parent.id) }
            let directory = VMPaths(dataDirectory: engine.configuration.dataDirectory, id: id).directory
            _ = try await engine.checkpoint(id: parent.id.rawValue, into: directory)
            try await engine.clone(from: directory, to: id, hostname: hostname)
            return "fork"
        case .snapshot(let directory):
            try await engine.clone(from: directory, to: id, hostname: hostname)
            return "snapshot"
        }
    }

    /// Builds the template for a size in the background, once: the next create of that size restores
    /// it instead of booting.
    private func buildTemplate(cpus: Int, memoryMB: Int) async {
        // Keyed by the template's directory, which changes with the image: a rebuilt image gets new ones.
        guard let key = try? await engine.templateDirectory(cpus: cpus, memoryMB: memoryMB), !templateBuilds.contains(key) else { return }
        templateBuilds.insert(key)
        Task { [engine, log] in
            do {
                let directory = try await engine.buildTemplate(cpus: cpus, memoryMB: memoryMB)
                log.info("template.built", ["size": key, "directory": directory])
            } catch {
                log.warning("template.failed", ["size": key, "error": "\(error)"])
            }
        }
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
        // Unpinned: idleness counts from now. Pinned: a warm or cold sandbox comes back, as at start.
        if keepHot == false {
            thermal[record.id, default: ThermalEntry()].keptHot = false
            touch(record.id)
        }
        if keepHot == true, record.state == .warm || record.state == .cold {
            let id = record.id
            Task { _ = try? await self.wake(id) }
        }
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

/// Runs `body`, cancelling it after `timeout` (then `TimeoutError`). The deadline is a Dispatch timer
/// rather than a sleeping task in a task group: it costs nothing on the cooperative pool when the body
/// finishes first, which is every exec on the hot path.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await body() }
    let timedOut = Atomic<Bool>(false)
    let timer = DispatchWorkItem {
        timedOut.store(true, ordering: .sequentiallyConsistent)
        task.cancel()
    }
    let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds)), execute: timer)
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        let result: Result<T, any Error>
        do { result = .success(try await task.value) } catch { result = .failure(error) }
        // However the cancelled body ended (an error, or the status of the killed command), it timed out.
        if timedOut.load(ordering: .sequentiallyConsistent) { throw TimeoutError() }
        return try result.get()
    } onCancel: {
        task.cancel()
    }
}
