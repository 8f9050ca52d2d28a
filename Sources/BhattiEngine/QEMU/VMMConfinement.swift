public import BhattiSystem
import Foundation
import Glibc
import Synchronization

/// The unprivileged system account (`bhatti-vmm` by default, no home, no shell) whose group every QEMU
/// runs in, each with a uid of its sandbox's own (`VMMConfinement.uid(for:)`). The daemon keeps root for
/// what needs it (taps, cgroups) and hands QEMU open fds.
public struct VMMUser: Sendable, Equatable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32
    /// Supplementary groups: the group of /dev/kvm under KVM, so QEMU can open it.
    public let groups: [UInt32]

    /// By name and accelerator (the supplementary groups depend on it).
    private static let cache = Mutex<[String: VMMUser]>([:])

    /// Looks `name` up, creating it with `useradd --system` when missing. nil when the daemon is not
    /// root: QEMU then runs as the daemon's own user and there is nothing to drop.
    public static func ensure(_ name: String, accelerator: Accelerator) async throws -> VMMUser? {
        guard getuid() == 0 else { return nil }
        let key = name + "/" + accelerator.rawValue
        if let known = cache.withLock({ $0[key] }) { return known }
        if lookup(name, accelerator: accelerator) == nil {
            let shell = FileManager.default.fileExists(atPath: "/usr/sbin/nologin") ? "/usr/sbin/nologin" : "/bin/false"
            do {
                try await runTool(
                    "useradd", ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", shell, "--user-group", name])
            } catch {
                // Another daemon (or test) may have created it meanwhile; only a still-missing user is an error.
                guard lookup(name, accelerator: accelerator) != nil else {
                    throw EngineError.unsupported(
                        "cannot create the VMM user \(name) (\(error)); create it, or set vmm_user to \"\" to run QEMU as root")
                }
            }
        }
        guard let user = lookup(name, accelerator: accelerator) else {
            throw EngineError.unsupported("VMM user \(name) not found after useradd")
        }
        guard user.uid != 0 else { throw EngineError.unsupported("VMM user \(name) has uid 0: it must be unprivileged") }
        cache.withLock { $0[key] = user }
        return user
    }

    static func lookup(_ name: String, accelerator: Accelerator) -> VMMUser? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        var groups: [UInt32] = []
        var st = stat()
        if accelerator == .kvm, stat("/dev/kvm", &st) == 0, st.st_gid != 0 { groups.append(st.st_gid) }
        return VMMUser(name: name, uid: entry.pw_uid, gid: entry.pw_gid, groups: groups)
    }
}

/// How one QEMU is confined beyond seccomp and its cgroup: which user it runs as, and the little of the
/// filesystem its mount namespace shows.
///
/// Each sandbox's QEMU gets a uid of its own (from a range above the ones distributions and container
/// managers hand out, derived from the sandbox id), in the VMM user's group: QEMUs sharing one uid could
/// ptrace or signal each other, so a guest that escaped one could read another tenant's memory. The uid
/// needs no passwd entry; the sandbox's directory is handed to it before every start.
public struct VMMConfinement: Sendable {
    /// 0x70000000 up: above systemd-nspawn's container range (which ends at 0x6FFFFFFF) and below 2^31.
    public static let uidBase: UInt32 = 0x7000_0000
    public static let uidRange: UInt32 = 0x0FFF_FFF0
    public let user: VMMUser
    public let dataDirectory: String

    public init(user: VMMUser, dataDirectory: String) {
        self.user = user
        self.dataDirectory = dataDirectory
    }

    /// Hidden from every QEMU (a tmpfs over each that exists): temporary and home directories, the
    /// daemon's config and runtime state, and the data directory with every other sandbox in it.
    static let privateDirectories = ["/tmp", "/var/tmp", "/dev/shm", "/root", "/home", "/run", "/etc/bhatti"]

    /// The uid sandbox `id`'s QEMU runs as: stable for the id, distinct between sandboxes but for a
    /// hash collision (about 1 in 270 million per pair; then that pair shares a uid, still apart in
    /// their mount namespaces).
    public func uid(for id: String) -> UInt32 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Self.uidBase + UInt32(hash % UInt64(Self.uidRange))
    }

    /// The view for a VM whose own directory is `sandbox` (read-write) and which reads `files`
    /// (kernel, initramfs, the disk's base): their directories come back read-only. Any directory on
    /// the way that others may not traverse is masked too, so the bound ones are reachable.
    public func jail(sandbox: String, files: [String]) -> MountJail {
        let readOnly = Set(files.map { ($0 as NSString).deletingLastPathComponent }).subtracting([sandbox]).sorted()
        let binds =
            [MountJail.Bind(source: sandbox, target: sandbox, readOnly: false)]
            + readOnly.map { MountJail.Bind(source: $0, target: $0, readOnly: true) }
        var candidates = Self.privateDirectories + [dataDirectory]
        for bind in binds { candidates += Self.closedAncestors(of: bind.target) }
        return MountJail(masks: Self.outermost(candidates.filter(Self.isDirectory)), binds: binds)
    }

    /// Makes the image's pinned-file directories searchable by the VMM user: earlier versions made
    /// them 0700, and a sandbox that went cold before an upgrade restores without pinning again.
    public func openPinnedDirectories(for files: [String]) {
        for directory in Set(files.map { ($0 as NSString).deletingLastPathComponent }) where directory.hasSuffix("/bases") {
            var st = stat()
            if stat(directory, &st) == 0, st.st_mode & 0o005 != 0o005 { chmod(directory, 0o755) }
        }
    }

    /// Gives the sandbox's directory and the files in it to `uid` (the daemon made some of them: the
    /// overlay, copies from a snapshot or template, the record), in the VMM user's group, 0700.
    public func handOver(_ directory: String, to uid: UInt32) throws {
        guard chown(directory, uid, user.gid) == 0, chmod(directory, 0o700) == 0 else {
            throw EngineError.io("give \(directory) to uid \(uid)", Errno.current)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            guard lchown(path, uid, user.gid) == 0 else { throw EngineError.io("give \(path) to uid \(uid)", Errno.current) }
        }
    }

    /// Ancestors of `path` (not `/`, not `path` itself) that others cannot search.
    static func closedAncestors(of path: String) -> [String] {
        var result: [String] = []
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += "/" + component
            var st = stat()
            if stat(prefix, &st) == 0, st.st_mode & 0o001 == 0 { result.append(prefix) }
        }
        return result
    }

    /// Keeps each path once and drops those inside another (already hidden by it), outermost first.
    static func outermost(_ paths: [String]) -> [String] {
        var kept: [String] = []
        for path in Set(paths).sorted(by: { ($0.split(separator: "/").count, $0) < ($1.split(separator: "/").count, $1) }) {
            if !kept.contains(where: { path == $0 || path.hasPrefix($0 + "/") }) { kept.append(path) }
        }
        return kept
    }

    /// A real directory (not a symlink to one: a mount would land on its target).
    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
