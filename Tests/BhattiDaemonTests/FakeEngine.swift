import BhattiCore
import BhattiEngine

/// A `SandboxEngine` with no VMs: it records each step it is asked for, can hold a step until the test
/// lets it go (a transition caught mid-way), and can fail one.
actor FakeEngine: SandboxEngine {
    nonisolated let configuration: EngineConfiguration
    /// Every step asked for, in order ("pause", "restore"…).
    private(set) var calls: [String] = []
    private var held: Set<String> = []
    private var waitingToGo: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var watchers: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var failures: [String: String] = [:]
    private var running: Set<String> = []
    /// What `guest(for:)` hands out for every sandbox; none by default.
    private var guest: (any SandboxGuest)?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(dataDirectory: String) throws {
        let probe = try AcceleratorProbe.decide(.tcg, facts: .init(kvmDeviceUsable: false, cpuFlags: [], pvmLoaded: false))
        configuration = EngineConfiguration(dataDirectory: dataDirectory, accelerator: probe)
    }

    /// `op` waits, once started, until `release(op)`.
    func hold(_ op: String) { held.insert(op) }

    func release(_ op: String) {
        held.remove(op)
        for waiter in waitingToGo.removeValue(forKey: op) ?? [] { waiter.resume() }
    }

    /// `op` throws `message` from now on.
    func fail(_ op: String, _ message: String) { failures[op] = message }

    /// Returns once `op` has been asked for (at once if it already was).
    func called(_ op: String) async {
        if calls.contains(op) { return }
        await withCheckedContinuation { watchers[op, default: []].append($0) }
    }

    func count(_ op: String) -> Int { calls.filter { $0 == op }.count }

    /// Every sandbox's guest is `guest` from now on.
    func install(_ guest: any SandboxGuest) { self.guest = guest }

    private func step(_ op: String) async throws {
        calls.append(op)
        for watcher in watchers.removeValue(forKey: op) ?? [] { watcher.resume() }
        if held.contains(op) { await withCheckedContinuation { waitingToGo[op, default: []].append($0) } }
        if let message = failures[op] { throw Failure(description: message) }
    }

    func boot(
        id: String, cpus: Int, memoryMB: Int, hostname: String, nic: NetworkInterface?, diskThrottle: DiskThrottle, image: String
    ) async throws {
        try await step("boot")
        running.insert(id)
    }

    func reboot(id: String, nic: NetworkInterface?, diskThrottle: DiskThrottle) async throws {
        try await step("reboot")
        running.insert(id)
    }

    func pause(id: String) async throws { try await step("pause") }
    func resume(id: String) async throws { try await step("resume") }

    func snapshot(id: String) async throws {
        try await step("snapshot")
        running.remove(id)
    }

    func restore(id: String) async throws {
        try await step("restore")
        running.insert(id)
    }

    func recover(id: String) async -> Recovery { running.contains(id) ? .adopted : .cold }
    func isRunning(_ id: String) async -> Bool { running.contains(id) }
    func destroy(id: String) async { running.remove(id) }
    func growDisk(id: String, megabytes: Int) async throws { try await step("growDisk") }

    func checkpoint(id: String, into directory: String, durable: Bool) async throws -> Int {
        try await step("checkpoint")
        return 0
    }

    func flattenDisk(id: String, to path: String) async throws { try await step("flattenDisk") }

    func clone(
        from directory: String, to id: String, hostname: String, keepEnvironment: Bool, nic: NetworkInterface?, diskThrottle: DiskThrottle
    ) async throws {
        try await step("clone")
        running.insert(id)
    }

    func template(cpus: Int, memoryMB: Int, withCard: Bool, image: String) async throws -> String? { nil }
    func templateDirectory(cpus: Int, memoryMB: Int, withCard: Bool, image: String) async throws -> String {
        configuration.dataDirectory + "/templates/x"
    }
    func buildTemplate(cpus: Int, memoryMB: Int, withCard: Bool, settle: Duration, image: String) async throws -> String {
        throw Failure(description: "no templates here")
    }

    /// The installed guest. Without one, the idle check finds none to ask and counts the sandbox idle.
    func guest(for id: String) async throws -> any SandboxGuest {
        guard let guest else { throw EngineError.notRunning("sandbox \(id) has no fake guest") }
        return guest
    }
}
