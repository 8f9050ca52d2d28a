import BhattiSystem
import Foundation
import Glibc

/// Builds a guest image directory (vmlinuz, initramfs, rootfs.ext4, image.json) from Debian packages.
public enum ImageBuilder {
    /// Builds or updates the image in `options.outputDirectory`, rerunning only the steps whose inputs
    /// changed; prints one line per step event through `progress`. Synchronous: it runs for minutes
    /// on a first build (debootstrap), seconds after.
    public static func build(
        _ options: ImageBuildOptions, progress: @escaping @Sendable (String) -> Void
    ) throws(ImageError) -> ImageManifest {
        let start = ContinuousClock.now
        let tools = HostTools(searchPath: options.toolSearchPath ?? HostTools.defaultSearchPath)
        try tools.check()
        guard geteuid() == 0 else { throw .notRoot }
        for (what, path) in [("lohar binary", options.loharPath), ("guest init source", options.initSourcePath)]
        where !FileManager.default.fileExists(atPath: path) {
            throw .missingInput(what: what, path: path)
        }
        let runner = CommandRunner(tools: tools)
        let layout = ImageLayout(options.outputDirectory)
        // Locked before anything is written in it: a second build of the directory changes nothing.
        try FileOps.makeDirectory(layout.directory)
        let lock = try DirectoryLock(layout.directory)
        defer { lock.release() }
        try FileOps.makeDirectory(layout.stamps)
        try FileOps.makeDirectory(layout.cache)

        let previous = try? ImageManifest.read(layout.manifest)
        let mirror = options.mirror ?? AptSources.mirror(for: options.suite)
        let kernel = try KernelStep.resolve(
            options.kernelPackage, runner: runner, cacheFile: "\(layout.cache)/kernel-resolution", log: progress)
        let initSHA = try runner.sha256(options.initSourcePath)
        let loharSHA = try runner.sha256(options.loharPath)
        let initramfsKey = InitramfsStep.key(
            kernelKey: kernel.key, initSHA256: initSHA, compiler: try InitramfsStep.compilerIdentity(runner: runner),
            modules: options.modules)
        let treeKey = RootfsStep.treeKey(options, mirror: mirror)
        let steps = [
            KernelStep.step(kernel, layout: layout, runner: runner),
            InitramfsStep.step(
                key: initramfsKey, initSource: options.initSourcePath, modules: options.modules, layout: layout,
                runner: runner),
            RootfsStep.treeStep(options, mirror: mirror, layout: layout, runner: runner),
            RootfsStep.imageStep(
                key: RootfsStep.imageKey(treeKey: treeKey, loharSHA256: loharSHA, size: options.rootfsSize),
                loharSource: options.loharPath, size: options.rootfsSize, layout: layout, runner: runner),
        ]
        // Withdraw image.json before the first change: until the new one is written, readers see
        // "not built" rather than a new kernel beside an old initramfs.
        let reports: [StepReport]
        do {
            reports = try StepRunner(stampDirectory: layout.stamps).run(steps, progress: progress) {
                try FileOps.remove(layout.manifest)
            }
        } catch let error as ImageError {
            throw error
        } catch {
            throw .io("build step failed", underlying: error)
        }

        let rebuilt = Set(reports.filter(\.ran).map(\.name))
        let manifest = try assembleManifest(
            layout: layout, options: options, kernel: kernel, mirror: mirror, initSHA: initSHA, loharSHA: loharSHA,
            rebuilt: rebuilt, previous: previous, runner: runner)
        if manifest != previous { try FileOps.writeAtomically(manifest.encoded(), to: layout.manifest) }

        let elapsed = formatSeconds((ContinuousClock.now - start).seconds)
        if rebuilt.isEmpty {
            progress("image up to date in \(layout.directory) (checked in \(elapsed))")
        } else {
            let names = steps.map(\.name).filter(rebuilt.contains).joined(separator: ", ")
            progress("image ready in \(layout.directory) in \(elapsed) (rebuilt: \(names))")
        }
        return manifest
    }

    /// The manifest for what is on disk now. File checksums are reused from the previous manifest
    /// for files whose step did not run (hashing the root file system costs seconds).
    private static func assembleManifest(
        layout: ImageLayout, options: ImageBuildOptions, kernel: KernelPackage, mirror: String, initSHA: String,
        loharSHA: String, rebuilt: Set<String>, previous: ImageManifest?, runner: CommandRunner
    ) throws(ImageError) -> ImageManifest {
        let release = try KernelStep.release(tree: layout.kernelTree)
        let (modules, _) = try InitramfsStep.resolveModules(
            options.modules, root: KernelStep.modulesDirectory(tree: layout.kernelTree, release: release))
        let outputs = [
            ("vmlinuz", layout.kernel, "kernel"), ("initramfs", layout.initramfs, "initramfs"),
            ("rootfs.ext4", layout.rootfs, "rootfs"),
        ]
        var files: [String: ImageManifest.File] = [:]
        for (name, path, step) in outputs {
            if !rebuilt.contains(step), let old = previous?.files[name], old.bytes == FileOps.size(path) {
                files[name] = old
            } else {
                files[name] = ImageManifest.File(bytes: FileOps.size(path), sha256: try runner.sha256(path))
            }
        }
        var manifest = ImageManifest(
            builtAt: previous?.builtAt ?? "", kernelVersion: release, kernelPackage: kernel.name,
            kernelPackageVersion: kernel.version, kernelPackageSHA256: kernel.sha256, modules: modules,
            initSourceSHA256: initSHA, suite: options.suite, mirror: mirror,
            packages: ImageManifest.installedPackages(tree: layout.rootfsTree), loharSHA256: loharSHA, files: files)
        if !rebuilt.isEmpty || manifest != previous {
            manifest.builtAt = ISO8601DateFormatter().string(from: Date())
        }
        return manifest
    }
}

/// An exclusive `flock` on `<dir>/.lock`: two builds into one directory would trample each other's
/// temp files. Released on close, so a crashed build never leaves it held.
private struct DirectoryLock {
    let fd: Int32

    init(_ directory: String) throws(ImageError) {
        fd = open("\(directory)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot open \(directory)/.lock", underlying: Errno.current) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = Errno.current
            close(fd)
            if error.rawValue == EWOULDBLOCK { throw .busy(directory) }
            throw .io("cannot lock \(directory)/.lock", underlying: error)
        }
    }

    func release() { close(fd) }
}
