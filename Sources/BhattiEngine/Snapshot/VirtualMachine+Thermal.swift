import BhattiJSON
import BhattiSystem
import BhattiWire
import Foundation
import Glibc

/// The thermal tiers of one VM: pause and resume (warm), device-state snapshot and restore (cold),
/// and adoption of a QEMU left running by an earlier daemon.
extension VirtualMachine {
    /// QMP `stop`: the vCPUs halt, memory stays resident.
    public func pause() async throws { try await qmp.execute("stop") }

    /// QMP `cont`.
    /// QMP `cont`, with the host's wall clock queued for the guest first (it reads it as it runs).
    public func resume() async throws {
        agent.sendClock()
        try await qmp.execute("cont")
    }

    /// QEMU's run state (`running`, `paused`, `postmigrate`, …).
    public func runState() async throws -> String {
        try await qmp.execute("query-status")["status"]?.stringValue ?? "unknown"
    }

    /// Writes the device state next to the RAM file and ends QEMU. RAM is not copied: it already lives
    /// in the shared file (`x-ignore-shared`). Nothing is killed until the state is durable and its
    /// manifest written; on failure the VM is left as it was (running if it ran) and this throws
    /// `snapshotFailed`.
    func snapshot() async throws {
        let paths = configuration.paths
        let wasRunning = try await runState() == "running"
        removeSnapshotFiles(paths)
        var writer: AtomicFile.Writer?
        do {
            let state = try AtomicFile.Writer(path: paths.deviceState, mode: 0o600)
            writer = state
            try await saveDeviceState(into: state.descriptor)
            // The manifest's commit, next, syncs the directory for both renames.
            try state.commit(syncDirectory: false)
            try SnapshotManifest.describe(paths).write(to: paths.snapshotManifest)
            // Verify before the only live copy of the device state goes away.
            _ = try SnapshotManifest.verified(paths, memoryMB: configuration.memoryMB)
        } catch {
            writer?.abandon()
            removeSnapshotFiles(paths)
            if wasRunning { _ = try? await qmp.execute("cont") }
            throw EngineError.snapshotFailed("\(error)")
        }
        // While QEMU still maps the RAM: the pages the guest touched are what the restore reads ahead.
        let pid = process.pid
        try? await Blocking.run(name: "prefetch") { try RestorePrefetch.record(pid: pid, memory: paths.memory, to: paths.prefetchList) }
        await stopProcess()
    }

    /// Stops the vCPUs (if they run) and writes the device state to a new file at `path`, fsynced.
    func saveDeviceState(to path: String) async throws {
        let raw = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard raw >= 0 else { throw EngineError.io("create \(path)", Errno.current) }
        let file = FileDescriptor(rawValue: raw)
        defer { file.close() }
        try await saveDeviceState(into: file)
        guard fsync(raw) == 0 else { throw EngineError.io("fsync \(path)", Errno.current) }
    }

    /// Stops the vCPUs (if they run) and writes the device state into `file`. QEMU writes through an
    /// fd handed over with `getfd`, so "completed" means the bytes are in the file (with `exec:cat`
    /// the copy could still be in flight). The VM stays stopped: the caller lets it run again or
    /// ends QEMU.
    func saveDeviceState(into file: FileDescriptor) async throws {
        try await Self.skipSharedRAM(qmp)
        try await qmp.execute("stop")
        try await qmp.execute("getfd", ["fdname": "bhatti-state"], passing: file)
        try await qmp.execute("migrate", ["uri": "fd:bhatti-state"])
        try await waitForMigration()
    }

    /// Migration leaves out RAM in a shared memory backend (it is already in the sandbox's file);
    /// needed on both ends.
    static func skipSharedRAM(_ qmp: QMPClient) async throws {
        try await qmp.execute("migrate-set-capabilities", ["capabilities": [["capability": "x-ignore-shared", "state": true]]])
    }

    /// Ends QEMU after a snapshot: `quit`, then SIGKILL if it lingers.
    private func stopProcess() async {
        agent.close()
        _ = try? await qmp.execute("quit")
        qmp.close()
        let exited = try? await withDeadline(.seconds(2)) { await self.process.waitForExit() }
        if exited == nil {
            process.signal(SIGKILL)
            _ = await process.waitForExit()
        }
    }

    /// Polls `query-migrate` until the migration ends; throws if it failed.
    func waitForMigration(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let info = try await qmp.execute("query-migrate")
            switch info["status"]?.stringValue {
            case "completed": return
            case "failed", "cancelled":
                throw EngineError.snapshotFailed(
                    "migration \(info["status"]?.stringValue ?? "?"): \(info["error-desc"]?.stringValue ?? "")")
            default:
                guard ContinuousClock.now < deadline else { throw EngineError.snapshotFailed("migration did not finish in \(timeout)") }
                try await Task.sleep(for: .microseconds(500))
            }
        }
    }

    /// Starts QEMU on a cold sandbox's files and resumes the guest where it stopped: lazy RAM from the
    /// shared file, device state from the snapshot. The files are verified first (a damaged snapshot
    /// fails fast with `snapshotDamaged`); they are kept if the restore fails, removed once it worked
    /// (the RAM file moves on, so the old device state no longer matches it).
    static func restore(
        _ config: VMConfiguration, token: String, onExit: @escaping VMExitHandler
    ) async throws -> VirtualMachine {
        let paths = config.paths
        _ = try SnapshotManifest.verified(paths, memoryMB: config.memoryMB)
        RestorePrefetch.start(memory: paths.memory, list: paths.prefetchList)
        var commandLine = config.commandLine
        commandLine.incoming = true
        let tap = try config.openTap()
        defer { tap?.close() }
        let process = try config.startQEMU(commandLine, passing: tap, onExit: onExit)
        _ = try? AtomicFile.write(Array("\(process.pid)\n".utf8), to: paths.pidFile, mode: 0o600, durable: false)
        do {
            let qmp = try await whenListening(paths.qmpSocket, process: process) { try await QMPClient.connect(path: paths.qmpSocket) }
            do {
                try await skipSharedRAM(qmp)
                let raw = open(paths.deviceState, O_RDONLY | O_CLOEXEC)
                guard raw >= 0 else { throw EngineError.snapshotDamaged("open \(paths.deviceState): \(Errno.current)") }
                let file = FileDescriptor(rawValue: raw)
                defer { file.close() }
                try await qmp.execute("getfd", ["fdname": "bhatti-restore"], passing: file)
                try await qmp.execute("migrate-incoming", ["uri": "fd:bhatti-restore"])
                try await waitForIncoming(qmp, process: process)
                try await qmp.execute("cont")
                let agent = try await AgentConnection.connect(unixPath: paths.agentSocket, token: token, timeout: .seconds(10))
                removeSnapshotFiles(paths)
                return VirtualMachine(configuration: config, process: process, qmp: qmp, agent: agent, token: token)
            } catch {
                qmp.close()
                throw error
            }
        } catch {
            process.signal(SIGKILL)
            _ = await process.waitForExit()
            if error is EngineError { throw error }
            throw EngineError.restoreFailed("\(error); QEMU: \(process.logTail())")
        }
    }

    /// Waits until QEMU has loaded the incoming state (run state `paused`), failing fast if QEMU exits
    /// or the load fails.
    private static func waitForIncoming(_ qmp: QMPClient, process: QEMUProcess, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let t = process.termination { throw EngineError.restoreFailed("QEMU \(t.described): \(process.logTail())") }
            let status = try await qmp.execute("query-status")["status"]?.stringValue
            if status == "paused" || status == "running" { return }
            let migration = try await qmp.execute("query-migrate")
            if migration["status"]?.stringValue == "failed" {
                throw EngineError.restoreFailed(
                    "QEMU could not load the device state: \(migration["error-desc"]?.stringValue ?? process.logTail())")
            }
            guard ContinuousClock.now < deadline else { throw EngineError.restoreFailed("device state not loaded within \(timeout)") }
            try await Task.sleep(for: .microseconds(500))
        }
    }

    /// Takes over a QEMU that an earlier daemon started and left running. A paused one is resumed (the
    /// thermal manager decides again); the agent must answer the token from the VM's record.
    static func adopt(
        _ config: VMConfiguration, token: String, pid: Int32, onExit: @escaping VMExitHandler
    ) async throws -> VirtualMachine {
        let paths = config.paths
        let logPath = paths.log
        let process = try QEMUProcess.adopt(pid: pid, logPath: logPath) { pid, termination in
            onExit(pid, termination, QEMUProcess.tail(of: logPath))
        }
        let qmp = try await QMPClient.connect(path: paths.qmpSocket)
        do {
            let state = try await qmp.execute("query-status")["status"]?.stringValue ?? "unknown"
            switch state {
            case "running": break
            // postmigrate: the earlier daemon died between writing a snapshot and ending QEMU; the
            // VM can simply go on (cont re-activates its disk).
            case "paused", "postmigrate":
                try await qmp.execute("cont")
                removeSnapshotFiles(paths)
            default: throw EngineError.notRunning("QEMU of \(config.id) is \(state)")
            }
            let agent = try await AgentConnection.connect(unixPath: paths.agentSocket, token: token, timeout: .seconds(10))
            return VirtualMachine(configuration: config, process: process, qmp: qmp, agent: agent, token: token)
        } catch {
            qmp.close()
            throw error
        }
    }
}

/// Removes a snapshot's device state and manifest (the RAM file is the VM's own and stays).
func removeSnapshotFiles(_ paths: VMPaths) {
    unlink(paths.snapshotManifest)
    unlink(paths.deviceState)
}

/// Whether the sandbox's files hold a cold snapshot (its manifest exists; `verified` checks it).
func hasSnapshot(_ paths: VMPaths) -> Bool { FileManager.default.fileExists(atPath: paths.snapshotManifest) }

/// Runs `body`, giving up (returning nil) after `timeout`.
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T) async throws -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return await group.next() ?? nil
    }
}
