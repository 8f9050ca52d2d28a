import BhattiSystem
import Foundation
import Glibc

/// Steps 3 and 4: a configured debootstrap tree (slow, kept under `.rootfs-tree`), then the ext4
/// image made from it with lohar copied in (fast, rerun whenever lohar changes).
enum RootfsStep {
    /// Bump when `configure` changes what it writes, so kept trees are rebuilt.
    static let treeFormat = 1
    /// The guest user lohar runs commands as.
    static let user = (name: "lohar", uid: 1000, gid: 1000, home: "/home/lohar", shell: "/bin/bash")
    static let loharPath = "usr/local/bin/lohar"

    /// Tree inputs: suite, mirror, package list, setup commands (when any) and the configuration format.
    static func treeKey(_ options: ImageBuildOptions, mirror: String) -> String {
        let setup = options.setupCommands.map { "\nsetup=\($0)" }.joined()
        return """
            suite=\(options.suite)
            mirror=\(mirror)
            variant=minbase
            include=\(options.packages.sorted().joined(separator: ","))
            hostname=\(options.hostname)
            format=\(treeFormat)
            """ + setup
    }

    /// Image inputs: the tree, lohar's hash and the size policy.
    static func imageKey(treeKey: String, loharSHA256: String, size: UInt64?) -> String {
        "\(treeKey)\nlohar sha256=\(loharSHA256)\nsize=\(size.map(String.init) ?? "auto")\nlabel=bhatti-root"
    }

    static func treeStep(_ options: ImageBuildOptions, mirror: String, layout: ImageLayout, runner: CommandRunner) -> BuildStep {
        BuildStep(name: "rootfs-tree", key: treeKey(options, mirror: mirror), outputs: [layout.rootfsTree]) { log in
            let temp = layout.rootfsTree + ".tmp"
            try FileOps.unmountAll(under: temp)
            try FileOps.remove(temp)
            log("debootstrap \(options.suite) from \(mirror) (about a minute)")
            try runner.output(
                "debootstrap",
                [
                    "--variant=minbase", "--include=\(options.packages.joined(separator: ","))",
                    options.suite, temp, mirror,
                ])
            // debootstrap unmounts what it mounted on success; make sure before anything walks the tree.
            try FileOps.unmountAll(under: temp)
            for command in options.setupCommands {
                log("setup: \(command)")
                try runner.output("chroot", [temp, "/bin/sh", "-ec", command])
            }
            // A setup command may mount (/proc for apt-get); nothing stays mounted in the tree.
            try FileOps.unmountAll(under: temp)
            log("configuring user \(user.name), sudo, /workspace, hosts")
            try configure(tree: temp, hostname: options.hostname, runner: runner)
            try FileOps.unmountAll(under: layout.rootfsTree)
            try FileOps.replaceDirectory(layout.rootfsTree, with: temp)
        }
    }

    static func imageStep(
        key: String, loharSource: String, size: UInt64?, layout: ImageLayout, runner: CommandRunner
    ) -> BuildStep {
        BuildStep(name: "rootfs", key: key, outputs: [layout.rootfs]) { log in
            try FileOps.copy(loharSource, to: "\(layout.rootfsTree)/\(loharPath)", permissions: 0o755)
            let bytes = size ?? autoSize(treeBytes: DiskSpace.allocatedBytes(layout.rootfsTree))
            let mib = bytes / (1 << 20)
            log("mkfs.ext4 -d (\(mib) MiB, sparse)")
            let temp = layout.rootfs + ".tmp"
            try FileOps.remove(temp)
            try runner.output(
                "mkfs.ext4",
                [
                    "-F", "-q", "-L", "bhatti-root", "-E", "root_owner=0:0", "-d", layout.rootfsTree, temp, "\(mib)M",
                ])
            // Readable by the VMM user whatever the builder's umask (a daemon's is 077): each sandbox's
            // QEMU opens it read-only as its overlay's backing file.
            guard chmod(temp, 0o644) == 0 else { throw ImageError.io("cannot chmod \(temp)", underlying: Errno.current) }
            try FileOps.commit(temp, to: layout.rootfs)
        }
    }

    /// Tree size + 30 % (ext4 metadata, inode tables, small-file slack) + 256 MiB for the user,
    /// rounded up to 64 MiB. The file is sparse, and each sandbox writes to its own overlay.
    static func autoSize(treeBytes: UInt64) -> UInt64 {
        let unit: UInt64 = 64 << 20
        let wanted = treeBytes + treeBytes * 3 / 10 + (256 << 20)
        return (wanted + unit - 1) / unit * unit
    }

    /// Everything after debootstrap: the user, sudo, /workspace, host names, and a clean apt cache.
    static func configure(tree: String, hostname: String, runner: CommandRunner) throws(ImageError) {
        // The tree's own groupadd/useradd keep passwd, shadow, group and gshadow consistent.
        try runner.output("chroot", [tree, "groupadd", "--gid", "\(user.gid)", user.name])
        try runner.output(
            "chroot",
            [
                tree, "useradd", "--uid", "\(user.uid)", "--gid", "\(user.gid)", "--create-home",
                "--home-dir", user.home, "--shell", user.shell, user.name,
            ])
        try FileOps.writeAtomically(
            Array("\(user.name) ALL=(ALL) NOPASSWD:ALL\n".utf8), to: "\(tree)/etc/sudoers.d/\(user.name)", permissions: 0o440)
        // A syntax error here would lock sudo out for every sandbox; visudo checks it now.
        try runner.output("chroot", [tree, "visudo", "-c", "-q", "-f", "/etc/sudoers.d/\(user.name)"])

        try FileOps.makeDirectory("\(tree)/workspace")
        guard chown("\(tree)/workspace", uid_t(user.uid), gid_t(user.gid)) == 0 else {
            throw .io("cannot chown \(tree)/workspace", underlying: Errno.current)
        }
        try FileOps.writeAtomically(Array("\(hostname)\n".utf8), to: "\(tree)/etc/hostname")
        // 127.0.1.1 for the host name: sudo looks it up and warns on every call when it fails.
        let hosts = "127.0.0.1 localhost\n127.0.1.1 \(hostname)\n::1 localhost ip6-localhost ip6-loopback\n"
        try FileOps.writeAtomically(Array(hosts.utf8), to: "\(tree)/etc/hosts")
        // debootstrap copied the host's resolv.conf; the host's resolver is not the guest's. Public
        // resolvers work through the sandbox's NAT until lohar writes the one the network hands out.
        try FileOps.writeAtomically(Array("nameserver 1.1.1.1\nnameserver 8.8.8.8\n".utf8), to: "\(tree)/etc/resolv.conf")

        try removeContents(of: "\(tree)/var/cache/apt/archives") { $0.hasSuffix(".deb") }
        try removeContents(of: "\(tree)/var/cache/apt/archives/partial") { _ in true }
        try removeContents(of: "\(tree)/var/cache/apt") { $0.hasSuffix(".bin") }
        try removeContents(of: "\(tree)/var/lib/apt/lists") { $0 != "partial" && $0 != "lock" }
    }

    private static func removeContents(of dir: String, matching shouldRemove: (String) -> Bool) throws(ImageError) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where shouldRemove(name) {
            try FileOps.remove("\(dir)/\(name)")
        }
    }
}
