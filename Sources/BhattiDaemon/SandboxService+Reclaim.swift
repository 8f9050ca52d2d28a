import BhattiCore
import BhattiEngine
import BhattiStore
import BhattiSystem
import Foundation

/// At daemon start: files no record owns are leftovers of a crash (a daemon killed during a create,
/// a destroy or a named snapshot) and would otherwise fill the disk for good.
extension SandboxService {
    /// Removes sandbox directories without a sandbox record, snapshot directories without a snapshot
    /// record and taps without a sandbox, logging each (`daemon.orphan_removed`). Run after adoption and
    /// after orphan QEMUs were killed, before the API listens (no create can be under way). Returns what went.
    @discardableResult
    public func reclaimOrphans() async throws -> [String] {
        let data = engine.configuration.dataDirectory
        let sandboxes = Set(try await store.list().map(\.id.rawValue))
        // By directory name, never by full path: a data directory reached through another path (moved,
        // or behind a symlink) must not make every named snapshot look unowned.
        let snapshots = Set(try await store.allSnapshots().map { ($0.directory as NSString).lastPathComponent })
        var removed: [String] = []
        for name in unowned(in: data + "/sandboxes", keeping: sandboxes) {
            if remove(data + "/sandboxes/" + name) {
                await engine.destroy(id: name)
                removed.append(data + "/sandboxes/" + name)
            }
        }
        for name in unowned(in: data + "/snapshots", keeping: snapshots) where remove(data + "/snapshots/" + name) {
            removed.append(data + "/snapshots/" + name)
        }
        if let network {
            for tap in await network.removeStrayTaps(keeping: sandboxes) {
                log.warning("daemon.orphan_removed", ["tap": tap])
                removed.append(tap)
            }
        }
        return removed
    }

    private func unowned(in root: String, keeping owned: Set<String>) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { !owned.contains($0) }.sorted()
    }

    /// Removes a leftover and logs it with its size; false when it could not be removed (logged too).
    private func remove(_ path: String) -> Bool {
        let bytes = DiskSpace.allocatedBytes(path)
        do { try FileManager.default.removeItem(atPath: path) } catch {
            log.warning("daemon.orphan_not_removed", ["path": path, "error": "\(error)"])
            return false
        }
        log.warning("daemon.orphan_removed", ["path": path, "bytes": String(bytes)])
        return true
    }
}
