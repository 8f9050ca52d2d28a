import BhattiSystem
import Foundation
import Glibc

/// What a VM was booted with, written beside its files at boot (mode 0600, it holds the agent token).
///
/// A restore must start QEMU with the very same devices, RAM size and kernel (the loader writes the
/// kernel into guest RAM), and an adopted or restored VM's agent only answers its own token.
struct VMRecord: Codable, Equatable, Sendable {
    var cpus: Int
    var memoryMB: Int
    var kernel: String
    var initramfs: String
    var baseImage: String
    var accelerator: Accelerator
    var tscKilohertz: Int?
    var hostname: String
    var token: String
    /// Absent in records from before networking: no card.
    var nic: NetworkInterface?
    /// Absent in records from before I/O limits: none.
    var diskThrottle: DiskThrottle?

    init(_ config: VMConfiguration, token: String) {
        cpus = config.cpus
        memoryMB = config.memoryMB
        kernel = config.kernel
        initramfs = config.initramfs
        baseImage = config.baseImage
        accelerator = config.accelerator
        tscKilohertz = config.tscKilohertz
        hostname = config.hostname
        self.token = token
        nic = config.nic
        diskThrottle = config.diskThrottle
    }

    func configuration(id: String, paths: VMPaths, bootTimeout: Duration) -> VMConfiguration {
        var config = VMConfiguration(
            id: id, cpus: cpus, memoryMB: memoryMB, paths: paths, kernel: kernel, initramfs: initramfs, baseImage: baseImage,
            accelerator: accelerator, tscKilohertz: tscKilohertz, bootTimeout: bootTimeout)
        config.hostname = hostname
        config.nic = nic
        config.diskThrottle = diskThrottle ?? DiskThrottle()
        return config
    }

    /// Writes atomically with mode 0600.
    func write(to path: String) throws {
        let data: Data
        do { data = try JSONEncoder().encode(self) } catch { throw EngineError.io("encode \(path)", error) }
        do { try AtomicFile.write(Array(data), to: path, mode: 0o600) } catch { throw EngineError.io("write \(path)", error) }
    }

    static func read(_ path: String) throws -> VMRecord {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.notRunning("no VM record at \(path)")
        }
        do { return try JSONDecoder().decode(VMRecord.self, from: data) } catch {
            throw EngineError.io("read VM record \(path)", error)
        }
    }
}
