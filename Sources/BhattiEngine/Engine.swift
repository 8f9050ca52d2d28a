import BhattiImage
public import BhattiSystem
import BhattiWire
import Foundation
import Glibc

/// Something the engine noticed on its own, outside any request.
public enum EngineEvent: Sendable, Equatable {
    /// QEMU ended without being asked to: the VM is gone. `termination` is nil for a QEMU adopted
    /// from an earlier daemon (not our child: how it ended cannot be known).
    case vmmExited(id: String, termination: Termination?, log: String)
    /// A boot's guest came up with its LAPIC timer miscalibrated (`LapicCalibration`) and was booted
    /// again; `attempt` is the boot that failed the check.
    case timerMiscalibrated(id: String, mult: Int, attempt: Int)
}

/// Engine-wide settings, fixed at start.
public struct EngineConfiguration: Sendable {
    public var dataDirectory: String
    public var accelerator: AcceleratorProbe
    public var tscKilohertz: Int?
    public var bootTimeout: Duration
    /// The unprivileged system user whose group QEMUs run in, each with a uid of its sandbox's own
    /// (created when missing); nil runs QEMU as the daemon's user without a mount namespace. Applies
    /// only when the daemon is root.
    public var vmmUser: String? = "bhatti-vmm"

    public init(dataDirectory: String, accelerator: AcceleratorProbe, bootTimeout: Duration = .seconds(90)) {
        self.dataDirectory = dataDirectory
        self.accelerator = accelerator
        self.tscKilohertz = AcceleratorProbe.hostTSCKilohertz()
        self.bootTimeout = bootTimeout
    }
}

/// Owns the running VMs, keyed by sandbox id. Knows nothing of names, users or the store.
public actor Engine {
    public nonisolated let configuration: EngineConfiguration
    public nonisolated let events: AsyncStream<EngineEvent>
    let eventSink: AsyncStream<EngineEvent>.Continuation
    var machines: [String: VirtualMachine] = [:]
    /// Resource limits per VM; nil where no cgroup filesystem is usable.
    nonisolated let cgroups: Cgroups?
    /// Ids whose QEMU we are stopping on purpose: their exit is not news.
    var stopping: Set<String> = []
    private var reconnecting: [String: Task<AgentConnection, any Error>] = [:]
    /// Set by `shutdown`: no VM starts after it.
    var closed = false
    /// QEMU exits, reported from their wait threads onto the actor in order.
    nonisolated let exits = SerialWork()
    /// A cold sandbox's RAM file written back and dropped from the page cache, after its snapshot.
    nonisolated let evictions = SerialWork()

    public init(configuration: EngineConfiguration) throws {
        try VMPaths.validate(dataDirectory: configuration.dataDirectory)
        self.configuration = configuration
        cgroups = Cgroups(dataDirectory: configuration.dataDirectory)
        (events, eventSink) = AsyncStream.makeStream(of: EngineEvent.self)
    }

    /// Boots a VM for sandbox `id` from the guest image in `image` (a directory: kernel, initramfs,
    /// rootfs, opened at each boot so a rebuilt image is picked up); returns once its agent answers.
    public func boot(
        id: String, cpus: Int, memoryMB: Int, hostname: String = "bhatti", nic: NetworkInterface? = nil,
        diskThrottle: DiskThrottle = DiskThrottle(), image directory: String
    ) async throws {
        guard !closed else { throw EngineError.notRunning("the engine has shut down") }
        let image: GuestImage
        do { image = try GuestImage.open(directory) } catch {
            throw EngineError.imageMissing("no guest image in \(directory) (\(error)): run `bhatti image build`")
        }
        // Pinned by content like the disk's base: a restore must load the very kernel the guest runs.
        let kernelKey = image.manifest.files["vmlinuz"]?.sha256
        let kernelName = image.bootKernelPath.hasSuffix("vmlinux") ? "vmlinux" : "vmlinuz"
        let config = VMConfiguration(
            id: id, cpus: cpus, memoryMB: memoryMB, paths: VMPaths(dataDirectory: configuration.dataDirectory, id: id),
            kernel: try pin(image.bootKernelPath, key: kernelKey, suffix: kernelName, in: image),
            initramfs: try pin(image.initramfsPath, key: image.manifest.files["initramfs"]?.sha256, suffix: "initramfs", in: image),
            baseImage: try pin(image.rootfsPath, key: image.manifest.files["rootfs.ext4"]?.sha256, suffix: "ext4", in: image),
            accelerator: configuration.accelerator.accelerator,
            tscKilohertz: configuration.tscKilohertz, bootTimeout: configuration.bootTimeout)
        var vmConfig = config
        vmConfig.hostname = hostname
        try await launch(vmConfig, nic: nic, diskThrottle: diskThrottle, keepDisk: false)
    }

    /// Boots `config` with today's network card and disk limits, in this engine's cgroups and VMM
    /// confinement, and tracks the VM (a first boot, or a reboot on the disk it has: `keepDisk`).
    func launch(_ config: VMConfiguration, nic: NetworkInterface?, diskThrottle: DiskThrottle, keepDisk: Bool) async throws {
        var config = config
        config.nic = nic
        config.diskThrottle = diskThrottle
        config.cgroups = cgroups
        config.vmm = try await vmmConfinement()
        let sink = eventSink
        let vm = try await VirtualMachine.boot(config, keepDisk: keepDisk, onExit: exitHandler(id: config.id)) { mult, attempt in
            sink.yield(.timerMiscalibrated(id: config.id, mult: mult, attempt: attempt))
        }
        machines[config.id] = vm
    }

    /// The VMM user and mount namespace for QEMUs of this engine (resolved once; see `VMMUser.ensure`).
    func vmmConfinement() async throws -> VMMConfinement? {
        guard let name = configuration.vmmUser, !name.isEmpty else { return nil }
        guard let user = try await VMMUser.ensure(name, accelerator: configuration.accelerator.accelerator) else { return nil }
        return VMMConfinement(user: user, dataDirectory: configuration.dataDirectory)
    }

    /// A hard link `bases/<sha256>.<suffix>` beside the image, so a rebuild (which replaces files by
    /// rename) never changes what an existing sandbox's overlay, kernel or initramfs refers to.
    private func pin(_ path: String, key: String?, suffix: String, in image: GuestImage) throws -> String {
        guard let key, !key.isEmpty else { return path }
        let dir = image.directory + "/bases"
        let pinned = dir + "/" + key + "." + suffix
        if FileManager.default.fileExists(atPath: pinned) { return pinned }
        do {
            // (Made searchable for the VMM user when a QEMU starts: `VMMConfinement.openPinnedDirectories`.)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            if link(path, pinned) != 0 && errno != EEXIST { throw Errno.current }
        } catch {
            throw EngineError.io("pin \(pinned)", error)
        }
        return pinned
    }

    /// The guest of a running VM, over its agent channel (see `agent(for:)`).
    public func guest(for id: String) async throws -> any SandboxGuest { AgentGuest(try await agent(for: id)) }

    /// The agent channel of a running VM, reconnecting first if the channel dropped while QEMU runs.
    public func agent(for id: String) async throws -> AgentConnection {
        guard let vm = machines[id] else { throw EngineError.notRunning("sandbox \(id) has no running VM") }
        let current = vm.agent
        if !current.isClosed { return current }
        // One reconnect per VM at a time; concurrent callers share it.
        if let pending = reconnecting[id] { return try await pending.value }
        let task = Task { try await vm.reconnect() }
        reconnecting[id] = task
        defer { reconnecting[id] = nil }
        return try await task.value
    }

    public func isRunning(_ id: String) -> Bool { machines[id] != nil }

    /// QEMU's pid, for tests and diagnostics.
    public func pid(of id: String) -> Int32? { machines[id]?.process.pid }

    /// Stops the VM (if any) and removes its files. Idempotent.
    public func destroy(id: String) async {
        guard let vm = machines.removeValue(forKey: id) else {
            try? FileManager.default.removeItem(atPath: VMPaths(dataDirectory: configuration.dataDirectory, id: id).directory)
            cgroups?.remove(id: id)
            return
        }
        stopping.insert(id)
        await vm.destroy()
        stopping.remove(id)
        cgroups?.remove(id: id)
    }

    /// Kills QEMUs left behind by a previous daemon that died without cleaning up (their pid files
    /// name them; the process must still be a QEMU of that directory). Returns how many.
    public func reapOrphans() -> Int {
        let root = configuration.dataDirectory + "/sandboxes"
        var killed = 0
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where machines[id] == nil {
            guard let pid = livingQEMU(VMPaths(dataDirectory: configuration.dataDirectory, id: id)) else { continue }
            kill(pid, SIGKILL)
            killed += 1
        }
        return killed
    }

    /// Stops every VM still running (daemon shutdown), keeping their files: a sandbox that could not
    /// be snapshotted still has its disk.
    public func shutdown() async {
        closed = true
        for (id, vm) in machines {
            stopping.insert(id)
            vm.agent.close()
            vm.qmp.close()
            vm.process.signal(SIGKILL)
            _ = await vm.process.waitForExit()
        }
        machines.removeAll()
        // VMs still booting are not in `machines` yet (a create under way, a template being built):
        // their pid files name them, and nothing should outlive the daemon's stop.
        _ = reapOrphans()
        await exits.close()
        await evictions.close()
        eventSink.finish()
    }

    /// Tells the engine when a VM's QEMU ends. Runs on QEMU's wait thread, so it hands the news to
    /// `exits`, whose task tells a deliberate stop from a death on the actor.
    func exitHandler(id: String) -> VMExitHandler {
        let sink = eventSink
        let cgroups = cgroups
        return { [weak self] pid, termination, log in
            // An empty group goes at once (a restore makes it again); one a newer QEMU already uses stays.
            cgroups?.remove(id: id)
            guard let self else { return }
            exits.submit { [weak self] in await self?.exited(id: id, pid: pid, termination: termination, log: log, sink: sink) }
        }
    }

    /// Only the QEMU that is the sandbox's current one counts: an old one ending after a snapshot and
    /// restore must not take the new one with it.
    private func exited(id: String, pid: Int32, termination: Termination, log: String, sink: AsyncStream<EngineEvent>.Continuation) {
        guard !stopping.contains(id), let vm = machines[id], vm.process.pid == pid else { return }
        machines[id] = nil
        sink.yield(.vmmExited(id: id, termination: vm.process.adopted ? nil : termination, log: log))
    }
}
