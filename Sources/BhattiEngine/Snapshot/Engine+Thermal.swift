import BhattiJSON
import BhattiSystem
import BhattiWire
import Foundation
import Glibc

/// Where a sandbox's VM stands after a daemon restart.
public enum Recovery: Sendable, Equatable {
    /// Its QEMU still ran and now answers to this daemon.
    case adopted
    /// No QEMU, but a verified snapshot on disk: it can be restored.
    case cold
    /// Neither: the VM is gone (why, for people).
    case lost(String)
}

/// The thermal tiers. The caller (the sandbox service) serialises operations per sandbox; the engine
/// only keeps its table of running QEMUs true.
extension Engine {
    /// QMP `stop` on a running VM.
    public func pause(id: String) async throws {
        try await machine(id).pause()
    }

    /// QMP `cont` on a paused VM.
    public func resume(id: String) async throws {
        try await machine(id).resume()
    }

    /// Snapshots a running or paused VM to disk and ends its QEMU (see `VirtualMachine.snapshot`).
    /// The RAM file's pages are then written back and dropped from the page cache in the background,
    /// so the host's memory is freed without holding up the caller.
    public func snapshot(id: String) async throws {
        let vm = try machine(id)
        // Out of the table first: QEMU's exit after the snapshot is not a death.
        machines[id] = nil
        do {
            try await vm.snapshot()
        } catch {
            if vm.process.termination == nil { machines[id] = vm }
            throw error
        }
        let memory = vm.configuration.paths.memory
        evictions.submit { try? await Blocking.run(name: "evict") { try flushAndEvict(memory) } }
    }

    /// Restores a cold sandbox (see `VirtualMachine.restore`). Throws `snapshotDamaged` at once if its
    /// files do not match their manifest.
    public func restore(id: String) async throws {
        guard machines[id] == nil else { return }
        guard !closed else { throw EngineError.notRunning("the engine has shut down") }
        let paths = VMPaths(dataDirectory: configuration.dataDirectory, id: id)
        let record = try VMRecord.read(paths.record)
        var config = record.configuration(id: id, paths: paths, bootTimeout: configuration.bootTimeout)
        config.cgroups = cgroups
        config.vmm = try await vmmConfinement()
        machines[id] = try await VirtualMachine.restore(config, token: record.token, onExit: exitHandler(id: id))
    }

    /// Whether `id` has a snapshot on disk (not yet verified).
    public func hasSnapshot(id: String) -> Bool {
        BhattiEngine.hasSnapshot(VMPaths(dataDirectory: configuration.dataDirectory, id: id))
    }

    /// Finds sandbox `id` again after a restart: adopts its QEMU if that still runs and answers, else
    /// falls back to a snapshot on disk. A QEMU that cannot be adopted is stopped.
    public func recover(id: String) async -> Recovery {
        if machines[id] != nil { return .adopted }
        let paths = VMPaths(dataDirectory: configuration.dataDirectory, id: id)
        var why = "its QEMU was not running"
        if let pid = livingQEMU(paths) {
            do {
                let record = try VMRecord.read(paths.record)
                let config = record.configuration(id: id, paths: paths, bootTimeout: configuration.bootTimeout)
                machines[id] = try await VirtualMachine.adopt(config, token: record.token, pid: pid, onExit: exitHandler(id: id))
                return .adopted
            } catch {
                why = "its QEMU could not be adopted (\(error))"
                // Not our child, so no waitpid: poll for it to go, without blocking the cooperative pool.
                kill(pid, SIGKILL)
                for _ in 0..<200 where kill(pid, 0) == 0 { try? await Task.sleep(for: .milliseconds(5)) }
            }
        }
        guard hasSnapshot(id: id) else { return .lost(why) }
        do {
            let record = try VMRecord.read(paths.record)
            _ = try SnapshotManifest.verified(paths, memoryMB: record.memoryMB)
            return .cold
        } catch {
            return .lost("\(why), and its snapshot is unusable: \(error)")
        }
    }

    func machine(_ id: String) throws -> VirtualMachine {
        guard let vm = machines[id] else { throw EngineError.notRunning("sandbox \(id) has no running VM") }
        return vm
    }

    /// The pid in the sandbox's pid file, if that process lives and is a QEMU of this sandbox.
    func livingQEMU(_ paths: VMPaths) -> Int32? {
        guard let text = try? String(contentsOfFile: paths.pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            let cmdline = try? readWholeFile("/proc/\(pid)/cmdline"),
            String(decoding: cmdline, as: UTF8.self).contains(paths.directory)
        else { return nil }
        return pid
    }
}

extension Engine {
    /// Enlarges sandbox `id`'s root disk to `megabytes` (never shrinks it) while it runs: QMP
    /// `block_resize` grows the overlay's virtual size, which is also the most the overlay can ever
    /// hold, and the agent grows the guest's file system online. A no-op when the disk is that big.
    public func growDisk(id: String, megabytes: Int) async throws {
        let vm = try machine(id)
        let bytes = UInt64(megabytes) << 20
        let current = try QCOW2.virtualSize(vm.configuration.paths.disk)
        guard bytes > current else { return }
        try await vm.qmp.execute("block_resize", ["device": "root", "size": .int(Int64(bytes))])
        try await vm.agent.configure(GuestConfig(replaceEnvironment: false, diskBytes: bytes))
    }
}

/// The one fact of a qcow2 header the engine needs.
enum QCOW2 {
    /// The disk's virtual size (header bytes 24..<32, big-endian).
    static func virtualSize(_ path: String) throws -> UInt64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EngineError.io("open \(path)", Errno.current) }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 32)
        guard header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 32, 0) }) == 32, header[0..<4] == [0x51, 0x46, 0x49, 0xFB] else {
            throw EngineError.io("read the qcow2 header of \(path)", Errno.current)
        }
        return header[24..<32].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
