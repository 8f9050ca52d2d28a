public import BhattiSystem
import Foundation
import Glibc

/// A cgroup per VM, capping what its QEMU may take from the host: CPU time to its vCPUs plus one for the
/// VMM's own threads (the I/O thread serves the agent channel: capped at exactly the vCPUs, a guest busy
/// on all of them would starve it), memory to its RAM plus a fixed VMM overhead, and the number of tasks. cgroup v2 where it is mounted, v1's cpu,
/// memory and pids hierarchies otherwise (as on this machine). Groups live under
/// `bhatti-<6 hex of the data directory>/<sandbox id>`, so daemons never share one.
public struct Cgroups: Sendable {
    /// QEMU's own memory beyond the guest's RAM (TCG's translation cache is 64 MiB of it).
    static let overheadMB = 384
    static let maxTasks = 256
    static let period = 100_000

    let root: String
    let unified: Bool
    let group: String

    /// nil where no usable cgroup filesystem is mounted (the VM then runs unconfined, as documented).
    public init?(dataDirectory: String, root: String = "/sys/fs/cgroup") {
        self.root = root
        unified = FileManager.default.fileExists(atPath: root + "/cgroup.controllers")
        if !unified, !FileManager.default.fileExists(atPath: root + "/memory/memory.limit_in_bytes") { return nil }
        group = "bhatti-" + String(sha256Hex(Array(dataDirectory.utf8)).prefix(6))
    }

    /// The directories of sandbox `id`'s group, one per hierarchy.
    func directories(id: String) -> [(controller: String, path: String)] {
        if unified { return [("unified", "\(root)/\(group)/\(id)")] }
        return ["cpu", "memory", "pids"].map { ($0, "\(root)/\($0)/\(group)/\(id)") }
    }

    /// Creates (or reuses) the group with its limits and says how a new QEMU enters it: on v1 by
    /// joining its `tasks` files itself, on v2 by being created inside the group (the caller closes the
    /// directory fd once the child exists). Either way nobody migrates a running process, which on
    /// this kernel costs an RCU grace period (7–20 ms) on every VM start.
    public func prepare(id: String, cpus: Int, memoryMB: Int) throws -> CgroupEntry {
        let memory = String((memoryMB + Self.overheadMB) << 20)
        if unified {
            let parent = "\(root)/\(group)"
            try make(parent)
            // Controllers must be enabled for the children, from the root down.
            try? write("+cpu +memory +pids", to: "\(root)/cgroup.subtree_control")
            try write("+cpu +memory +pids", to: parent + "/cgroup.subtree_control")
            let dir = parent + "/" + id
            try make(dir)
            try write("\((cpus + 1) * Self.period) \(Self.period)", to: dir + "/cpu.max")
            try write(memory, to: dir + "/memory.max")
            try write(String(Self.maxTasks), to: dir + "/pids.max")
            let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw EngineError.io("open \(dir)", Errno.current) }
            return .v2(fd)
        }
        var tasks: [String] = []
        for (controller, dir) in directories(id: id) {
            try make((dir as NSString).deletingLastPathComponent)
            try make(dir)
            switch controller {
            case "cpu":
                try write(String(Self.period), to: dir + "/cpu.cfs_period_us")
                try write(String((cpus + 1) * Self.period), to: dir + "/cpu.cfs_quota_us")
            case "memory":
                try write(memory, to: dir + "/memory.limit_in_bytes")
            default:
                try write(String(Self.maxTasks), to: dir + "/pids.max")
            }
            tasks.append(dir + "/tasks")
        }
        return .v1(tasks)
    }

    /// Moves a running `pid` (all its threads) into sandbox `id`'s prepared group: the slow way, for a
    /// kernel without clone3's CLONE_INTO_CGROUP.
    public func migrate(pid: Int32, id: String) throws {
        for (_, dir) in directories(id: id) { try write(String(pid), to: dir + "/cgroup.procs") }
    }

    /// Removes the group once its QEMU is gone (an empty cgroup directory is removed with rmdir).
    public func remove(id: String) {
        for (_, dir) in directories(id: id) {
            rmdir(dir)
            // The daemon's group too, once its last VM is gone (fails harmlessly while others remain).
            rmdir((dir as NSString).deletingLastPathComponent)
        }
    }

    private func make(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path) { return }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw EngineError.io("create cgroup \(path)", Errno.current)
        }
    }

    private func write(_ value: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EngineError.io("open \(path)", Errno.current) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw EngineError.io("write \(value) to \(path)", Errno.current)
        }
    }
}
