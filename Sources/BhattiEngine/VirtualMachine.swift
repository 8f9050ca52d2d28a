public import BhattiSystem
import BhattiWire
import Foundation
import Glibc
import Synchronization

/// What the engine needs to boot one VM.
public struct VMConfiguration: Sendable {
    public var id: String
    public var cpus: Int
    public var memoryMB: Int
    public var paths: VMPaths
    public var kernel: String
    public var initramfs: String
    public var baseImage: String
    public var accelerator: Accelerator
    public var tscKilohertz: Int?
    public var bootTimeout: Duration
    /// The guest's hostname, delivered with the token right after hello.
    public var hostname: String = "bhatti"
    /// The network card, if any (configured in the guest with the hostname).
    public var nic: NetworkInterface?
    public var diskThrottle = DiskThrottle()
    /// Where QEMU's resource limits go; nil runs it unconfined.
    var cgroups: Cgroups?
    /// The unprivileged user and mount namespace QEMU runs in; nil runs it as the daemon's user.
    var vmm: VMMConfinement?

    /// Starts QEMU on this VM's files, as the VMM user in its own mount namespace where configured.
    func startQEMU(_ commandLine: QEMUCommandLine, passing tap: FileDescriptor?, onExit: @escaping VMExitHandler) throws -> QEMUProcess {
        var confinement: QEMUProcess.Confinement?
        if let vmm {
            let uid = vmm.uid(for: id)
            let files = [kernel, initramfs, baseImage]
            try vmm.handOver(paths.directory, to: uid)
            vmm.openPinnedDirectories(for: files)
            confinement = .init(
                uid: Int32(bitPattern: uid), gid: Int32(bitPattern: vmm.user.gid), groups: vmm.user.groups,
                jail: vmm.jail(sandbox: paths.directory, files: files))
        }
        let logPath = paths.log
        let start = { (cgroup: CgroupEntry?) in
            try QEMUProcess.start(commandLine, logPath: logPath, passing: tap, confinement: confinement, cgroup: cgroup) {
                pid, termination in
                onExit(pid, termination, QEMUProcess.tail(of: logPath))
            }
        }
        guard let cgroups else { return try start(nil) }
        // QEMU starts inside its cgroup (fail closed: no group, no VM).
        let entry = try cgroups.prepare(id: id, cpus: cpus, memoryMB: memoryMB)
        defer { if case .v2(let fd) = entry { close(fd) } }
        do { return try start(entry) } catch EngineError.spawn(_, let e) where e.rawValue == ENOSYS {
            // A kernel without CLONE_INTO_CGROUP: start it, then move it.
            let process = try start(nil)
            do { try cgroups.migrate(pid: process.pid, id: id) } catch {
                process.signal(SIGKILL)
                throw error
            }
            return process
        } catch {
            // No QEMU in it: the group goes now, or it would outlive the failed start.
            cgroups.remove(id: id)
            throw error
        }
    }

    public init(
        id: String, cpus: Int, memoryMB: Int, paths: VMPaths, kernel: String, initramfs: String, baseImage: String,
        accelerator: Accelerator, tscKilohertz: Int?, bootTimeout: Duration = .seconds(60)
    ) {
        self.id = id
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.paths = paths
        self.kernel = kernel
        self.initramfs = initramfs
        self.baseImage = baseImage
        self.accelerator = accelerator
        self.tscKilohertz = tscKilohertz
        self.bootTimeout = bootTimeout
    }

    var commandLine: QEMUCommandLine {
        var line = QEMUCommandLine(
            accelerator: accelerator, cpus: cpus, memoryMB: memoryMB, kernel: kernel, initramfs: initramfs,
            disk: paths.disk, memoryFile: paths.memory, qmpSocket: paths.qmpSocket, agentSocket: paths.agentSocket,
            tscKilohertz: tscKilohertz, nic: nic.map { ($0.mac, $0.tap != nil) })
        line.diskThrottle = diskThrottle
        return line
    }

    /// Opens the tap QEMU is to get as fd 3, if the card has one.
    func openTap() throws -> FileDescriptor? {
        guard let nic, let namespace = nic.namespace, let tap = nic.tap else { return nil }
        do { return try Tap.open(namespace: namespace, name: tap) } catch {
            throw EngineError.io("open tap \(tap) in network namespace \(namespace)", error)
        }
    }
}

/// Called on a background thread when a VM's QEMU ends, for whatever reason: its pid, how it ended,
/// the tail of its log.
public typealias VMExitHandler = @Sendable (_ pid: Int32, Termination, _ log: String) -> Void

/// One running VM: its QEMU, QMP client and agent channel.
///
/// Created only by `boot`, which returns once the guest agent has answered hello, or cleans up
/// everything it made and throws.
public final class VirtualMachine: Sendable {
    public let configuration: VMConfiguration
    public let process: QEMUProcess
    public let qmp: QMPClient
    /// The per-VM secret the agent requires in every hello after boot; kept on the host only (vm.json).
    var token: String { tokenBox.withLock { $0 } }
    private let tokenBox: Mutex<String>
    private let connection: Mutex<AgentConnection>

    init(configuration: VMConfiguration, process: QEMUProcess, qmp: QMPClient, agent: AgentConnection, token: String) {
        self.configuration = configuration
        self.process = process
        self.qmp = qmp
        tokenBox = Mutex(token)
        connection = Mutex(agent)
    }

    /// After the guest accepted a new token (a clone takes its own identity).
    func replaceToken(_ token: String) { tokenBox.withLock { $0 = token } }

    /// The current agent channel (it may have dropped; see `reconnect`).
    public var agent: AgentConnection { connection.withLock { $0 } }

    /// Opens a new agent channel (after a drop or a restore) and says hello with the VM's token.
    /// Operations on the old channel have already failed with `.disconnected`.
    func reconnect(timeout: Duration = .seconds(10)) async throws -> AgentConnection {
        let fresh = try await AgentConnection.connect(unixPath: configuration.paths.agentSocket, token: token, timeout: timeout)
        let old = connection.withLock { c in
            defer { c = fresh }
            return c
        }
        old.close()
        return fresh
    }

    /// Creates the overlay, starts QEMU, connects QMP and the agent.
    /// `onExit` fires (on a background thread) when QEMU ends, for whatever reason.
    /// `keepDisk` boots on the overlay already there (a sandbox brought back after its QEMU died):
    /// a failure then leaves the directory as it was, so the disk is never lost to a failed try.
    public static func boot(
        _ config: VMConfiguration, keepDisk: Bool = false, onExit: @escaping VMExitHandler,
        onMiscalibrated: (_ mult: Int, _ attempt: Int) -> Void = { _, _ in }
    ) async throws -> VirtualMachine {
        // A guest whose LAPIC timer came out of its boot miscalibrated (a host stall during the
        // kernel's measurement; see `LapicCalibration`) is booted again: the next boot measures anew.
        var attempt = 1
        while true {
            do { return try await bootOnce(config, keepDisk: keepDisk, onExit: onExit) } catch EngineError.timerMiscalibrated(let mult)
                where attempt < maxCalibrationAttempts
            {
                onMiscalibrated(mult, attempt)
                attempt += 1
            }
        }
    }

    /// Boots a guest whose timer is off this many times in a row before the boot is given up.
    static let maxCalibrationAttempts = 5

    private static func bootOnce(
        _ config: VMConfiguration, keepDisk: Bool, onExit: @escaping VMExitHandler
    ) async throws -> VirtualMachine {
        let paths = config.paths
        do {
            try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
        } catch { throw EngineError.io("create \(paths.directory)", error) }
        var process: QEMUProcess?
        do {
            if !keepDisk {
                try await runTool("qemu-img", ["create", "-q", "-f", "qcow2", "-b", config.baseImage, "-F", "raw", paths.disk])
            }
            let tap = try config.openTap()
            defer { tap?.close() }
            let started = try config.startQEMU(config.commandLine, passing: tap, onExit: onExit)
            process = started
            // Lets a later daemon find and stop this QEMU if this one dies without cleaning up.
            _ = try? AtomicFile.write(Array("\(started.pid)\n".utf8), to: paths.pidFile, mode: 0o600, durable: false)
            // QEMU binds its sockets before it listens on them: until then connecting is refused.
            let qmp = try await whenListening(paths.qmpSocket, process: started) { try await QMPClient.connect(path: paths.qmpSocket) }
            // If the guest panics it powers off and QEMU closes the socket: the handshake fails fast.
            let agent = try await whenListening(paths.agentSocket, process: started) {
                try await AgentConnection.connect(unixPath: paths.agentSocket, timeout: config.bootTimeout)
            }
            guard LapicCalibration.acceptable(mult: agent.hello.lapicMult, accelerator: config.accelerator) else {
                agent.close()
                qmp.close()
                throw EngineError.timerMiscalibrated(mult: agent.hello.lapicMult ?? 0)
            }
            let token = randomToken()
            // Before the guest learns the token, so a daemon that dies now can still adopt this VM.
            try VMRecord(config, token: token).write(to: paths.record)
            var setup = GuestConfig(hostname: config.hostname, token: token)
            if let nic = config.nic, nic.address != nil {
                setup.address = nic.address
                setup.gateway = nic.gateway
                setup.mac = nic.mac
                setup.dns = nic.dns
            }
            try await agent.configure(setup)
            return VirtualMachine(configuration: config, process: started, qmp: qmp, agent: agent, token: token)
        } catch {
            let exitedEarly = process?.termination
            var log = ""
            if let process {
                process.signal(SIGKILL)
                _ = await process.waitForExit()
                log = process.logTail()
            }
            if !keepDisk { try? FileManager.default.removeItem(atPath: paths.directory) }
            if let exitedEarly { throw EngineError.bootFailed("QEMU \(exitedEarly.described): \(log)") }
            // As it is, for `boot` to try again.
            if case EngineError.timerMiscalibrated = error { throw error }
            if process != nil, !log.isEmpty { throw EngineError.bootFailed("\(error); console: \(log)") }
            throw error
        }
    }

    /// Kills QEMU, waits for it, and removes every file of this VM.
    public func destroy() async {
        agent.close()
        qmp.close()
        process.signal(SIGKILL)
        _ = await process.waitForExit()
        try? FileManager.default.removeItem(atPath: configuration.paths.directory)
    }

    /// Runs `connect` once QEMU listens on `path`: retries while the socket is missing or refuses
    /// (bound, not yet listening), failing fast if QEMU exits, for at most 10 s.
    static func whenListening<T>(_ path: String, process: QEMUProcess, _ connect: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await connect()
            } catch let error where Self.isNotListening(error) {
                if let t = process.termination { throw EngineError.bootFailed("QEMU \(t.described): \(process.logTail())") }
                guard ContinuousClock.now < deadline else { throw EngineError.bootFailed("QEMU did not listen on \(path) within 10 s") }
                // QEMU listens about 15 ms after exec: a fine poll keeps a cold restore from waiting out
                // most of a coarse one (an attempt costs a socket and a refused connect).
                try await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    private static func isNotListening(_ error: any Error) -> Bool {
        let errno: Errno? =
            switch error {
            case QMPError.connect(_, let e): e
            case AgentError.connect(_, let e): e
            default: nil
            }
        return errno == .noEntry || errno == .connectionRefused
    }
}

extension QEMUProcess {
    static func tail(of path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data.suffix(2048), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// 32 random hex characters.
func randomToken() -> String {
    var g = SystemRandomNumberGenerator()
    return (0..<4).map { _ in String(format: "%016llx", g.next() as UInt64) }.joined().prefix(32).description
}
