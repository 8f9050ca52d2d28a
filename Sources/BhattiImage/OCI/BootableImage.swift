import BhattiSystem
import Foundation
import Glibc

/// Turns an imported root tree (`ImageArchive.importArchive`) into a bhatti image directory: the tree
/// gets what every guest needs (lohar, the `lohar` user, `/home/lohar`, `/workspace`), becomes
/// `rootfs.ext4` the way the builder makes one (`mkfs.ext4 -d`), and boots with the kernel and
/// initramfs of `boot`, the daemon's default image.
public enum BootableImage {
    /// Makes `directory` (which must exist and be empty) an image from `tree`, which it changes. The
    /// lohar binary is taken from `boot`'s own root file system, so the agent matches the daemon's image.
    /// `image.json` is written last.
    public static func make(
        tree: String, boot: GuestImage, into directory: String, log: (String) -> Void = { _ in }
    ) throws(ImageError) -> ImageManifest {
        let runner = CommandRunner(tools: HostTools())
        let layout = ImageLayout(directory)
        let lohar = directory + "/.lohar"
        // debugfs prints its banner on stderr and exits 0 even when the file is missing: check the result.
        _ = try runner.output("debugfs", ["-R", "dump /\(RootfsStep.loharPath) \(lohar)", boot.rootfsPath])
        guard FileOps.size(lohar) > 0 else {
            throw .missingInput(what: "lohar in the default image's root file system", path: boot.rootfsPath)
        }
        defer { unlink(lohar) }
        try prepare(tree: tree, lohar: lohar)

        let bytes = RootfsStep.autoSize(treeBytes: DiskSpace.allocatedBytes(tree))
        log("mkfs.ext4 -d (\(bytes >> 20) MiB, sparse)")
        let temp = layout.rootfs + ".tmp"
        try runner.output("mkfs.ext4", ["-F", "-q", "-L", "bhatti-root", "-E", "root_owner=0:0", "-d", tree, temp, "\(bytes >> 20)M"])
        guard chmod(temp, 0o644) == 0 else { throw .io("cannot chmod \(temp)", underlying: Errno.current) }
        try FileOps.commit(temp, to: layout.rootfs)

        var manifest = boot.manifest
        manifest.packages = ImageManifest.installedPackages(tree: tree)
        manifest.loharSHA256 = try runner.sha256(lohar)
        return try complete(directory, boot: boot, suite: "import", manifest: manifest)
    }

    /// Completes `directory`, which holds a new `rootfs.ext4`, into an image booting with `boot`'s
    /// kernel and initramfs (hard links when on one file system, else copies) and `image.json` (written
    /// last): `manifest` (by default `boot`'s) with the new root file system's size and checksum.
    public static func complete(
        _ directory: String, boot: GuestImage, suite: String, manifest: ImageManifest? = nil
    ) throws(ImageError) -> ImageManifest {
        let runner = CommandRunner(tools: HostTools())
        let layout = ImageLayout(directory)
        // The builder replaces files by rename, so a rebuild of `boot` never changes these links.
        let bootLayout = ImageLayout(boot.directory)
        for (from, to) in [
            (bootLayout.kernel, layout.kernel), (bootLayout.vmlinux, layout.vmlinux), (bootLayout.initramfs, layout.initramfs),
        ]
        where FileOps.exists(from) {
            if link(from, to) != 0 { try FileOps.copy(from, to: to, permissions: 0o644) }
        }
        var manifest = manifest ?? boot.manifest
        manifest.builtAt = ISO8601DateFormatter().string(from: Date())
        manifest.suite = suite
        manifest.mirror = ""
        manifest.files["rootfs.ext4"] = ImageManifest.File(bytes: FileOps.size(layout.rootfs), sha256: try runner.sha256(layout.rootfs))
        try FileOps.writeAtomically(manifest.encoded(), to: layout.manifest)
        return manifest
    }

    /// Adds lohar at `/usr/local/bin/lohar`, the `lohar` user (uid and gid 1000) when `/etc/passwd`
    /// has no such name, and `/home/lohar`, `/workspace` and the mount points when missing. The tree came from an
    /// archive: no symlink in it is followed (a directory on the way that is a symlink is refused).
    static func prepare(tree: String, lohar: String) throws(ImageError) {
        let user = RootfsStep.user
        let bin = try directory(tree, "usr/local/bin", owner: nil)
        try FileOps.copy(lohar, to: bin + "/lohar", permissions: 0o755)
        let etc = try directory(tree, "etc", owner: nil)
        try appendLine(
            etc + "/passwd", name: user.name, "\(user.name):x:\(user.uid):\(user.gid)::\(user.home):\(shell(tree))")
        try appendLine(etc + "/group", name: user.name, "\(user.name):x:\(user.gid):")
        _ = try directory(tree, String(user.home.dropFirst()), owner: (user.uid, user.gid))
        _ = try directory(tree, "workspace", owner: (user.uid, user.gid))
        // Mount points for what the guest's init and lohar mount (they make them too, on a writable root).
        for mountPoint in ["proc", "sys", "dev", "tmp", "run"] { _ = try directory(tree, mountPoint, owner: nil) }
    }

    /// `/bin/bash` when the image has one, else `/bin/sh`.
    static func shell(_ tree: String) -> String {
        var st = stat()
        return lstat(tree + "/bin/bash", &st) == 0 || lstat(tree + "/usr/bin/bash", &st) == 0 ? "/bin/bash" : "/bin/sh"
    }

    /// `relative` under `tree` as a real directory, made (and, when `owner` is given, chowned) where
    /// missing. Refuses a component that is a symlink or not a directory.
    static func directory(_ tree: String, _ relative: String, owner: (Int, Int)?) throws(ImageError) -> String {
        var path = tree
        for component in relative.split(separator: "/") {
            path += "/" + component
            var st = stat()
            if lstat(path, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw .io("the image's /\(relative) is not a directory (\(path))", underlying: Errno(rawValue: ENOTDIR))
                }
                continue
            }
            // chmod too: the daemon's umask (077) would leave it closed to the guest's user.
            guard mkdir(path, 0o755) == 0, chmod(path, 0o755) == 0 else { throw .io("cannot create \(path)", underlying: Errno.current) }
            if let owner, chown(path, uid_t(owner.0), gid_t(owner.1)) != 0 {
                throw .io("cannot chown \(path)", underlying: Errno.current)
            }
        }
        return path
    }

    /// Appends `line` to a regular file (made when missing) unless a line already starts with `name:`.
    static func appendLine(_ path: String, name: String, _ line: String) throws(ImageError) {
        var st = stat()
        var text = ""
        if lstat(path, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFREG else {
                throw .io("the image's \((path as NSString).lastPathComponent) is not a regular file", underlying: Errno(rawValue: EINVAL))
            }
            text = String(decoding: try FileOps.read(path), as: UTF8.self)
        }
        guard !text.split(separator: "\n").contains(where: { $0.hasPrefix(name + ":") }) else { return }
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        try FileOps.writeAtomically(Array((text + line + "\n").utf8), to: path)
    }
}
