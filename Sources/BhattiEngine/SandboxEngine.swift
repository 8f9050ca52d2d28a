/// What the daemon asks of a VM engine, in the engine's terms: machines by sandbox id, their
/// thermal moves, snapshots, clones and templates, and each running VM's guest (`SandboxGuest`). `Engine` (QEMU `microvm`) is
/// the implementation; a fake in `BhattiDaemonTests` tests the daemon's lifecycle without QEMU.
/// Protocols carry no default arguments: callers name every one.
public protocol SandboxEngine: Sendable {
    var configuration: EngineConfiguration { get }

    /// Boots a fresh VM from the guest image in the directory `image`; returns once its agent answers.
    func boot(
        id: String, cpus: Int, memoryMB: Int, hostname: String, nic: NetworkInterface?, diskThrottle: DiskThrottle, image: String
    ) async throws
    /// Boots a VM whose QEMU is gone again from its disk (its RAM's state is lost).
    func reboot(id: String, nic: NetworkInterface?, diskThrottle: DiskThrottle) async throws
    /// Warm: vCPUs stopped, memory kept.
    func pause(id: String) async throws
    func resume(id: String) async throws
    /// Cold: device state to disk beside the RAM file, QEMU gone.
    func snapshot(id: String) async throws
    func restore(id: String) async throws
    /// After a daemon restart: adopted, cold on disk, or lost.
    func recover(id: String) async -> Recovery
    func isRunning(_ id: String) async -> Bool
    /// Stops the VM (if any) and removes its files.
    func destroy(id: String) async
    func growDisk(id: String, megabytes: Int) async throws
    /// A snapshot that keeps the VM running, into `directory`; the bytes copied.
    func checkpoint(id: String, into directory: String, durable: Bool) async throws -> Int
    /// The VM's disk as it is now, flattened onto its base, written raw to `path` (a brief pause).
    func flattenDisk(id: String, to path: String) async throws
    /// A new VM from a checkpoint or template directory.
    func clone(
        from directory: String, to id: String, hostname: String, keepEnvironment: Bool, nic: NetworkInterface?, diskThrottle: DiskThrottle
    ) async throws
    /// Templates are kept per image (the directory `image`) and size.
    func template(cpus: Int, memoryMB: Int, withCard: Bool, image: String) async throws -> String?
    func templateDirectory(cpus: Int, memoryMB: Int, withCard: Bool, image: String) async throws -> String
    func buildTemplate(cpus: Int, memoryMB: Int, withCard: Bool, settle: Duration, image: String) async throws -> String
    /// The guest of a running VM: commands, files, sessions, forwards, activity.
    func guest(for id: String) async throws -> any SandboxGuest
}

extension Engine: SandboxEngine {}
