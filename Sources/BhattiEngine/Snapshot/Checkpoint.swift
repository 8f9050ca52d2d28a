import BhattiSystem
import BhattiWire
import Foundation
import Glibc

/// Named snapshots, forks and templates: a running VM's memory, device state and disk copied into
/// another directory, and a new VM started from such a copy with a new identity.
extension VirtualMachine {
    /// Pauses the VM, writes its device state into `target`, copies the RAM file and the disk overlay
    /// there (sparse: untouched memory costs nothing), and lets it run again. The VM is stopped only
    /// for as long as the copies take. Returns the bytes of data copied.
    /// `durable`: fsync the copies before returning (named snapshots outlive a host crash; forks and
    /// templates need not pay for it).
    func checkpoint(into target: VMPaths, durable: Bool = false) async throws -> Int {
        let wasRunning = try await runState() == "running"
        do {
            try FileManager.default.createDirectory(atPath: target.directory, withIntermediateDirectories: true)
            try await saveDeviceState(to: target.deviceState)
            let source = configuration.paths
            let copied = try await Blocking.run(name: "checkpoint-copy") { () throws -> Int in
                let bytes: Int
                do { bytes = try SparseCopy.copy(source.memory, to: target.memory) + SparseCopy.copy(source.disk, to: target.disk) } catch {
                    throw EngineError.io("copy \(source.directory) to \(target.directory)", error)
                }
                if durable {
                    do {
                        try AtomicFile.sync(target.memory)
                        try AtomicFile.sync(target.disk)
                    } catch { throw EngineError.io("sync \(target.directory)", error) }
                }
                return bytes
            }
            // Running again before the manifests are written: they describe the copies, not the VM.
            if wasRunning { try await qmp.execute("cont") }
            try SnapshotManifest.describe(target).write(to: target.snapshotManifest)
            try VMRecord(configuration, token: token).write(to: target.record)
            return copied
        } catch {
            if wasRunning { _ = try? await qmp.execute("cont") }
            try? FileManager.default.removeItem(atPath: target.directory)
            throw EngineError.snapshotFailed("checkpoint of \(configuration.id): \(error)")
        }
    }
}

extension Engine {
    /// Copies running sandbox `id` into `directory` (see `VirtualMachine.checkpoint`); returns the bytes copied.
    public func checkpoint(id: String, into directory: String, durable: Bool = false) async throws -> Int {
        try await machine(id).checkpoint(into: VMPaths(directory: directory), durable: durable)
    }

    /// Starts sandbox `id` from a checkpoint in `directory`: its files are copied into the sandbox's
    /// own directory and restored there, then the guest takes its new identity (hostname, token, fresh
    /// randomness) through the agent. `keepEnvironment` keeps the source's env (a fork). `nic` is the new
    /// VM's own card; it applies only when the source has a card too (the devices must match), and the
    /// guest is told its address and MAC.
    public func clone(
        from directory: String, to id: String, hostname: String, keepEnvironment: Bool = true, nic: NetworkInterface? = nil,
        diskThrottle: DiskThrottle = DiskThrottle()
    ) async throws {
        let source = VMPaths(directory: directory)
        let target = VMPaths(dataDirectory: configuration.dataDirectory, id: id)
        var record = try VMRecord.read(source.record)
        if record.nic != nil, let nic { record.nic = nic }
        // The new owner's limits, not the source's (a template has none).
        record.diskThrottle = diskThrottle
        do {
            try FileManager.default.createDirectory(atPath: target.directory, withIntermediateDirectories: true)
            // A fork checkpoints straight into its own directory: nothing to copy then.
            if source.directory != target.directory {
                try await Blocking.run(name: "clone-copy") {
                    do {
                        try SparseCopy.copy(source.memory, to: target.memory)
                        try SparseCopy.copy(source.disk, to: target.disk)
                        try SparseCopy.copy(source.deviceState, to: target.deviceState)
                        try SparseCopy.copy(source.snapshotManifest, to: target.snapshotManifest)
                    } catch { throw EngineError.io("copy \(source.directory) to \(target.directory)", error) }
                }
            }
            try record.write(to: target.record)
            try await restore(id: id)
            let vm = try machine(id)
            let token = randomToken()
            var fresh = [UInt8](repeating: 0, count: 64)
            var generator = SystemRandomNumberGenerator()
            for i in fresh.indices { fresh[i] = generator.next() }
            var identity = GuestConfig(
                hostname: hostname, token: token, entropy: Data(fresh).base64EncodedString(), replaceEnvironment: !keepEnvironment)
            if let card = record.nic, card.address != nil {
                identity.address = card.address
                identity.gateway = card.gateway
                identity.mac = card.mac
                identity.dns = card.dns
            }
            try await vm.agent.configure(identity)
            var updated = record
            updated.token = token
            updated.hostname = hostname
            try updated.write(to: target.record)
            vm.replaceToken(token)
        } catch {
            await destroy(id: id)
            throw error
        }
    }
}

extension Engine {
    /// Writes sandbox `id`'s disk as it is now, flattened onto its base, to `path` (raw, sparse). The VM
    /// is paused (QEMU flushes its writes on `stop`) only while its overlay is copied beside `path`,
    /// then runs again if it ran; the copy, whose backing file is the pinned base, is then converted.
    /// Whatever the guest has not written back is not in it: sync in the guest first.
    public func flattenDisk(id: String, to path: String) async throws {
        let vm = try machine(id)
        let overlay = path + ".overlay.qcow2"
        defer { unlink(overlay) }
        let wasRunning = try await vm.runState() == "running"
        if wasRunning { try await vm.pause() }
        do {
            let source = vm.configuration.paths.disk
            try await Blocking.run(name: "flatten-copy") {
                do { _ = try SparseCopy.copy(source, to: overlay) } catch { throw EngineError.io("copy \(source) to \(overlay)", error) }
            }
        } catch {
            if wasRunning { _ = try? await vm.resume() }
            throw error
        }
        if wasRunning { try await vm.resume() }
        try await runTool("qemu-img", ["convert", "-q", "-O", "raw", overlay, path])
    }
}
