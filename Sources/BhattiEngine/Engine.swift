import BhattiImage
import BhattiSystem
import BhattiWire
import Foundation
import Glibc

/// Something the engine noticed on its own, outside any request.
public enum EngineEvent: Sendable, Equatable {
    /// QEMU ended without being asked to: the VM is gone.
    case vmmExited(id: String, termination: Termination, log: String)
}

/// Engine-wide settings, fixed at start.
public struct EngineConfiguration: Sendable {
    public var dataDirectory: String
    /// The guest image (kernel, initramfs, rootfs); opened at each boot so a rebuilt image is picked up.
    public var imageDirectory: String
    public var accelerator: AcceleratorProbe
    public var tscKilohertz: Int?
    public var bootTimeout: Duration

    public init(dataDirectory: String, imageDirectory: String, accelerator: AcceleratorProbe, bootTimeout: Duration = .seconds(90)) {
        self.dataDirectory = dataDirectory
        self.imageDirectory = imageDirectory
        self.accelerator = accelerator
        self.tscKilohertz = AcceleratorProbe.hostTSCKilohertz()
        self.bootTimeout = bootTimeout
    }
}

/// Owns the running VMs, keyed by sandbox id. Knows nothing of names, users or the store.
public actor Engine {
    public nonisolated let configuration: EngineConfiguration
    public nonisolated let events: AsyncStream<EngineEvent>
    private let eventSink: AsyncStream<EngineEvent>.Continuation
    private var machines: [String: VirtualMachine] = [:]
    /// Ids whose QEMU we are stopping on purpose: their exit is not news.
    private var stopping: Set<String> = []
    private var reconnecting: [String: Task<AgentConnection, any Error>] = [:]

    public init(configuration: EngineConfiguration) throws {
        try VMPaths.validate(dataDirectory: configuration.dataDirectory)
        self.configuration = configuration
        (events, eventSink) = AsyncStream.makeStream(of: EngineEvent.self)
    }

    /// Boots a VM for sandbox `id`; returns once its agent answers.
    public func boot(id: String, cpus: Int, memoryMB: Int, hostname: String = "bhatti") async throws -> HelloReply {
        let image: GuestImage
        do { image = try GuestImage.open(configuration.imageDirectory) } catch {
            throw EngineError.imageMissing("no guest image in \(configuration.imageDirectory) (\(error)): run `bhatti image build`")
        }
        let config = VMConfiguration(
            id: id, cpus: cpus, memoryMB: memoryMB, paths: VMPaths(dataDirectory: configuration.dataDirectory, id: id),
            kernel: image.bootKernelPath, initramfs: image.initramfsPath,
            baseImage: try pinnedBase(image), accelerator: configuration.accelerator.accelerator,
            tscKilohertz: configuration.tscKilohertz, bootTimeout: configuration.bootTimeout)
        var vmConfig = config
        vmConfig.hostname = hostname
        let sink = eventSink
        let vm = try await VirtualMachine.boot(vmConfig) { [weak self] termination, log in
            // Called on QEMU's waitpid thread: hop onto the actor to tell a deliberate stop from a death.
            // The task is short and self-contained (it only reads actor state and yields an event).
            guard let self else { return }
            Task { await self.exited(id: id, termination: termination, log: log, sink: sink) }
        }
        machines[id] = vm
        return vm.agent.hello
    }

    /// The overlay's backing file, pinned by content: a hard link `bases/<sha256>.ext4` beside the image.
    /// A rebuild replaces `rootfs.ext4` by rename, so existing overlays keep the base they were made on.
    private func pinnedBase(_ image: GuestImage) throws -> String {
        guard let sha = image.manifest.files["rootfs.ext4"]?.sha256, !sha.isEmpty else { return image.rootfsPath }
        let dir = image.directory + "/bases"
        let pinned = dir + "/" + sha + ".ext4"
        if FileManager.default.fileExists(atPath: pinned) { return pinned }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            if link(image.rootfsPath, pinned) != 0 && errno != EEXIST { throw Errno.current }
        } catch {
            throw EngineError.io("pin base image \(pinned)", error)
        }
        return pinned
    }

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
            return
        }
        stopping.insert(id)
        await vm.destroy()
        stopping.remove(id)
    }

    /// Kills QEMUs left behind by a previous daemon that died without cleaning up (their pid files
    /// name them; the process must still be a QEMU of that directory). Returns how many.
    public func reapOrphans() -> Int {
        let root = configuration.dataDirectory + "/sandboxes"
        var killed = 0
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where machines[id] == nil {
            let paths = VMPaths(dataDirectory: configuration.dataDirectory, id: id)
            guard let text = try? String(contentsOfFile: paths.pidFile, encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains(paths.directory)
            else { continue }
            kill(pid, SIGKILL)
            killed += 1
        }
        return killed
    }

    /// Stops every VM (daemon shutdown).
    public func shutdown() async {
        for id in Array(machines.keys) { await destroy(id: id) }
        eventSink.finish()
    }

    private func exited(id: String, termination: Termination, log: String, sink: AsyncStream<EngineEvent>.Continuation) {
        guard !stopping.contains(id), machines.removeValue(forKey: id) != nil else { return }
        sink.yield(.vmmExited(id: id, termination: termination, log: log))
    }
}
