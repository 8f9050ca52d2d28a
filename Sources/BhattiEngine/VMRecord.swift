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
    }

    func configuration(id: String, paths: VMPaths, bootTimeout: Duration) -> VMConfiguration {
        var config = VMConfiguration(
            id: id, cpus: cpus, memoryMB: memoryMB, paths: paths, kernel: kernel, initramfs: initramfs, baseImage: baseImage,
            accelerator: accelerator, tscKilohertz: tscKilohertz, bootTimeout: bootTimeout)
        config.hostname = hostname
        return config
    }

    /// Writes atomically with mode 0600.
    func write(to path: String) throws {
        let data: Data
        do { data = try JSONEncoder().encode(self) } catch { throw EngineError.io("encode \(path)", error) }
        try writeFileAtomically(path, data, mode: 0o600)
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

/// Writes `data` to a temporary file, fsyncs it and renames it over `path`, so a crash leaves the old
/// file or the new one, never half of one.
func writeFileAtomically(_ path: String, _ data: Data, mode: mode_t) throws {
    let temp = path + ".tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw EngineError.io("create \(temp)", Errno.current) }
    let file = FileDescriptor(rawValue: fd)
    defer { file.close() }
    do {
        try file.writeAllFile(Array(data))
        guard fsync(fd) == 0 else { throw Errno.current }
    } catch { throw EngineError.io("write \(temp)", error) }
    guard rename(temp, path) == 0 else { throw EngineError.io("rename \(temp)", Errno.current) }
}
