import BhattiCore
import BhattiEngine
import BhattiStore
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
        let snapshots = Set(try await store.allSnapshots().map { ($0.directory as NSString).standardizingPath })
        var removed: [String] = []
        for (root, owned) in [(data + "/sandboxes", { (name: String, path: String) in sandboxes.contains(name) }),
                              (data + "/snapshots", { (_: String, path: String) in snapshots.contains(path) })] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
                let path = ((root + "/" + name) as NSString).standardizingPath
                guard !owned(name, path) else { continue }
                let bytes = Self.diskUsage(path)
                do { try FileManager.default.removeItem(atPath: path) } catch {
                    log.warning("daemon.orphan_not_removed", ["path": path, "error": "\(error)"])
                    continue
                }
                if root.hasSuffix("/sandboxes") { await engine.destroy(id: name) }
                log.warning("daemon.orphan_removed", ["path": path, "bytes": String(bytes)])
                removed.append(path)
            }
        }
        if let network {
            for tap in await network.removeStrayTaps(keeping: sandboxes) {
                log.warning("daemon.orphan_removed", ["tap": tap])
                removed.append(tap)
            }
        }
        return removed
    }

    /// The bytes a directory's files occupy on disk (what removing it frees), for the log.
    static func diskUsage(_ path: String) -> UInt64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: UInt64 = 0
        while let file = walker.nextObject() as? String { total += StorageGuard.allocatedBytes(path + "/" + file) }
        return total
    }
}
