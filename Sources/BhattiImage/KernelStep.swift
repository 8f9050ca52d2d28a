import Foundation

/// The versioned kernel package a metapackage such as `linux-image-cloud-amd64` points at.
struct KernelPackage: Equatable, Sendable {
    /// e.g. `linux-image-6.1.0-56-cloud-amd64`.
    var name: String
    /// e.g. `6.1.192-2`.
    var version: String
    /// The archive's SHA-256 of the `.deb` (from the package index, so no download is needed to know it).
    var sha256: String

    /// The step key: a new kernel upload changes version or checksum.
    var key: String { "package=\(name)\nversion=\(version)\nsha256=\(sha256)" }

    /// Where the downloaded `.deb` is cached (our own name: apt's escapes epochs).
    func debPath(in layout: ImageLayout) -> String { "\(layout.cache)/\(name)_\(version).deb" }
}

/// Step 1: fetch the kernel `.deb`, unpack it beside the image (never installed on the host),
/// and publish `vmlinuz`.
enum KernelStep {
    /// `resolve`, remembered in `cacheFile` for as long as apt's index files are unchanged: each
    /// `apt-cache` call costs ~0.8 s on hosts that disable apt's binary cache, most of a no-op build.
    static func resolve(
        _ package: String, runner: CommandRunner, cacheFile: String,
        aptState: () -> String = { AptSources.indexFingerprint() }, log: (String) -> Void
    ) throws(ImageError) -> KernelPackage {
        let header = "\(package)\n\(aptState())\n"
        if let text = try? String(contentsOfFile: cacheFile, encoding: .utf8), text.hasPrefix(header) {
            let fields = text.dropFirst(header.count).split(separator: "\n").map(String.init)
            if fields.count == 3 { return KernelPackage(name: fields[0], version: fields[1], sha256: fields[2]) }
        }
        let resolved = try resolve(package, runner: runner, log: log)
        // Fingerprint again: an `apt-get update` inside `resolve` changes the index it was resolved from.
        let entry = "\(package)\n\(aptState())\n\(resolved.name)\n\(resolved.version)\n\(resolved.sha256)\n"
        try FileOps.writeAtomically(Array(entry.utf8), to: cacheFile)
        return resolved
    }

    /// Resolves `package` (a metapackage or a versioned name) against the apt index. Runs
    /// `apt-get update` once if the index does not know it, then gives up with `packageNotFound`.
    static func resolve(_ package: String, runner: CommandRunner, log: (String) -> Void) throws(ImageError) -> KernelPackage {
        var stanza = try show(package, runner: runner)
        if stanza == nil {
            log("kernel: \(package) not in the apt index; running apt-get update")
            try runner.output("apt-get", ["update", "-q"])
            stanza = try show(package, runner: runner)
        }
        guard let meta = stanza else { throw .packageNotFound(package) }
        // A metapackage depends on exactly one linux-image-<abi>-<flavour>; a versioned name does not.
        let target = Deb822.packageNames(meta["Depends"] ?? "").first { $0.hasPrefix("linux-image-") && $0 != package }
        var image = meta
        if let target {
            guard let resolved = try show(target, runner: runner) else { throw .packageNotFound(target) }
            image = resolved
        }
        guard let name = image["Package"], let version = image["Version"], let sha = image["SHA256"] else {
            throw .packageNotFound(target ?? package)
        }
        log("kernel: \(package) is \(name) \(version)")
        return KernelPackage(name: name, version: version, sha256: sha)
    }

    /// The candidate version's `apt-cache show` stanza, or nil when apt does not know the package.
    static func show(_ package: String, runner: CommandRunner) throws(ImageError) -> [String: String]? {
        let result = try runner.run("apt-cache", ["show", "--no-all-versions", package])
        guard result.status == 0 else { return nil }
        return Deb822.parse(result.stdout).first { $0["Package"] == package }
    }

    /// The step: outputs `vmlinuz` and the unpacked package tree.
    static func step(_ package: KernelPackage, layout: ImageLayout, runner: CommandRunner) -> BuildStep {
        BuildStep(name: "kernel", key: package.key + "\nvmlinux", outputs: [layout.kernel, layout.kernelTree]) { log in
            let deb = try fetch(package, layout: layout, runner: runner, log: log)
            log("unpacking \((deb as NSString).lastPathComponent)")
            let temp = layout.kernelTree + ".tmp"
            try FileOps.remove(temp)
            try runner.output("dpkg-deb", ["-x", deb, temp])
            let release = try self.release(tree: temp)
            try decompressModules(tree: temp, release: release, runner: runner)
            try FileOps.replaceDirectory(layout.kernelTree, with: temp)
            try FileOps.copy("\(layout.kernelTree)/boot/vmlinuz-\(release)", to: layout.kernel, permissions: 0o644)
            try writeVmlinux(from: layout.kernel, to: layout.vmlinux, log: log)
            log("vmlinuz and modules for \(release)")
        }
    }

    /// Writes the uncompressed ELF kernel beside the bzImage (QEMU boots it through its PVH note,
    /// skipping the guest-side decompressor). A kernel that is not LZ4-compressed keeps just the bzImage.
    static func writeVmlinux(from bzImage: String, to path: String, log: (String) -> Void) throws(ImageError) {
        guard let data = FileManager.default.contents(atPath: bzImage) else {
            throw .missingInput(what: "kernel", path: bzImage)
        }
        guard let elf = LZ4.extractVmlinux(fromBzImage: Array(data)) else {
            try FileOps.remove(path)
            log("kernel payload is not LZ4: booting the bzImage")
            return
        }
        try FileOps.writeAtomically(elf, to: path)
        log("vmlinux (uncompressed, \(elf.count >> 20) MiB) for PVH boot")
    }

    /// The kernel release (`uname -r`) of an unpacked package, from its `boot/vmlinuz-<release>`.
    static func release(tree: String) throws(ImageError) -> String {
        let boot = "\(tree)/boot"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: boot)) ?? []
        let kernels = names.filter { $0.hasPrefix("vmlinuz-") }
        guard kernels.count == 1, let kernel = kernels.first else {
            throw .unexpectedKernelLayout("expected one boot/vmlinuz-* in the package, found \(kernels)")
        }
        let release = String(kernel.dropFirst("vmlinuz-".count))
        guard FileManager.default.fileExists(atPath: modulesDirectory(tree: tree, release: release)) else {
            throw .unexpectedKernelLayout("no lib/modules/\(release) in the package")
        }
        return release
    }

    /// `lib/modules/<release>` inside the tree (bookworm packages still ship /lib, not /usr/lib).
    static func modulesDirectory(tree: String, release: String) -> String {
        let usr = "\(tree)/usr/lib/modules/\(release)"
        return FileManager.default.fileExists(atPath: usr) ? usr : "\(tree)/lib/modules/\(release)"
    }

    /// Reuses a cached `.deb` whose checksum matches; otherwise `apt-get download`s the exact version.
    private static func fetch(
        _ package: KernelPackage, layout: ImageLayout, runner: CommandRunner, log: (String) -> Void
    ) throws(ImageError) -> String {
        let deb = package.debPath(in: layout)
        if FileOps.exists(deb), (try? runner.sha256(deb)) == package.sha256 {
            log("using cached \((deb as NSString).lastPathComponent)")
            return deb
        }
        try FileOps.makeDirectory(layout.cache)
        // Older kernels' .debs are dead weight once a new one is published.
        for old in (try? FileManager.default.contentsOfDirectory(atPath: layout.cache)) ?? [] where old.hasSuffix(".deb") {
            try FileOps.remove("\(layout.cache)/\(old)")
        }
        log("downloading \(package.name) \(package.version)")
        let download = "\(layout.cache)/download.tmp"
        try FileOps.remove(download)
        try FileOps.makeDirectory(download)
        // apt drops privileges to _apt for downloads, which cannot write a root-owned directory.
        try runner.output(
            "apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", "\(package.name)=\(package.version)"], in: download)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: download)) ?? []).filter { $0.hasSuffix(".deb") }
        guard files.count == 1, let file = files.first else {
            throw .unexpectedKernelLayout("apt-get download left \(files) instead of one .deb")
        }
        let sha = try runner.sha256("\(download)/\(file)")
        guard sha == package.sha256 else {
            throw .unexpectedKernelLayout("\(file) has sha256 \(sha), the archive index says \(package.sha256)")
        }
        try FileOps.commit("\(download)/\(file)", to: deb)
        try FileOps.remove(download)
        return deb
    }

    /// Compressed modules (.ko.xz/.ko.zst, as newer Debian kernels ship) are unpacked in place, so
    /// the initramfs never depends on the guest kernel's in-kernel decompression support.
    private static func decompressModules(tree: String, release: String, runner: CommandRunner) throws(ImageError) {
        let modules = try KernelModules.index(root: modulesDirectory(tree: tree, release: release))
        for path in modules.values {
            if path.hasSuffix(".ko.xz") { try runner.output("xz", ["-d", "-k", "-f", path]) }
            if path.hasSuffix(".ko.zst") { try runner.output("zstd", ["-d", "-q", "-f", path]) }
            if path.hasSuffix(".ko.gz") { try runner.output("gzip", ["-d", "-k", "-f", path]) }
        }
    }
}
