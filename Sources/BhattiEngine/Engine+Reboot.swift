import BhattiSystem
import BhattiWire
import Foundation
import Glibc

extension Engine {
    /// Boots sandbox `id` afresh on the disk it already has, after its QEMU died: the guest's RAM is
    /// lost, its files are not. Kernel, initramfs, base image, size and hostname come from its VM
    /// record, so it boots what it ran before; `nic` and `diskThrottle` are today's. A stale snapshot
    /// and RAM file are removed first (neither matches the disk any more). Throws `diskMissing` when
    /// there is no disk to boot.
    public func reboot(id: String, nic: NetworkInterface?, diskThrottle: DiskThrottle) async throws {
        guard !closed else { throw EngineError.notRunning("the engine has shut down") }
        guard machines[id] == nil else { throw EngineError.bootFailed("sandbox \(id) still has a running VM") }
        let paths = VMPaths(dataDirectory: configuration.dataDirectory, id: id)
        guard FileManager.default.fileExists(atPath: paths.disk) else {
            throw EngineError.diskMissing("its disk \(paths.disk) is gone")
        }
        let record: VMRecord
        do { record = try VMRecord.read(paths.record) } catch {
            throw EngineError.diskMissing("its VM record \(paths.record) is unreadable (\(error))")
        }
        removeSnapshotFiles(paths)
        unlink(paths.memory)
        let config = record.configuration(id: id, paths: paths, bootTimeout: configuration.bootTimeout)
        try await launch(config, nic: nic, diskThrottle: diskThrottle, keepDisk: true)
    }
}
