import Foundation

/// Step 2: the initramfs: a static `/init` compiled from `guest/init.c`, the virtio modules in
/// load order, and `/lib/modules/order` naming them.
///
/// Uncompressed on purpose: it is ~1.5 MB, and under TCG inflating it costs more boot time than
/// copying it.
enum InitramfsStep {
    /// Bump when the archive's layout changes, so existing images are rebuilt.
    static let format = 1
    /// Where init.c finds the modules and their order (kept in sync with guest/init.c).
    static let modulesDirectory = "lib/modules"
    static let orderFile = "lib/modules/order"

    /// Inputs: the kernel (its modules), init.c's hash, the compiler, and the requested modules.
    static func key(kernelKey: String, initSHA256: String, compiler: String, modules: [String]) -> String {
        """
        \(kernelKey)
        init.c sha256=\(initSHA256)
        cc=\(compiler)
        modules=\(modules.joined(separator: ","))
        format=\(format)
        """
    }

    /// `cc --version`'s first line: a compiler upgrade rebuilds /init.
    static func compilerIdentity(runner: CommandRunner) throws(ImageError) -> String {
        let out = try runner.output("cc", ["--version"])
        return String(out.split(separator: "\n").first ?? "unknown")
    }

    static func step(
        key: String, initSource: String, modules wanted: [String], layout: ImageLayout, runner: CommandRunner
    ) -> BuildStep {
        BuildStep(name: "initramfs", key: key, outputs: [layout.initramfs]) { log in
            try FileOps.makeDirectory(layout.scratch)
            let binary = "\(layout.scratch)/init"
            log("compiling \((initSource as NSString).lastPathComponent) (static)")
            try runner.output(
                "cc",
                [
                    "-static", "-Os", "-s", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", binary, initSource,
                ])
            let release = try KernelStep.release(tree: layout.kernelTree)
            let root = KernelStep.modulesDirectory(tree: layout.kernelTree, release: release)
            let (order, files) = try resolveModules(wanted, root: root)
            log("modules: \(order.joined(separator: " "))")
            let archive = try archive(initBinary: FileOps.read(binary), modules: order.map { ($0, files[$0]!) })
            let bytes = archive.encoded()
            try FileOps.writeAtomically(bytes, to: layout.initramfs)
            log("\(bytes.count / 1024) KiB, \(order.count) modules")
        }
    }

    /// The modules to load, dependencies first, and their `.ko` paths.
    static func resolveModules(_ wanted: [String], root: String) throws(ImageError) -> ([String], [String: String]) {
        let index = try KernelModules.index(root: root)
        var info: [String: [String]] = [:]
        let order = try KernelModules.loadOrder(wanted) { (name: String) throws(ImageError) -> [String] in
            if let known = info[name] { return known }
            guard let path = index[name], path.hasSuffix(".ko") else { throw .moduleNotFound(name) }
            let deps = KernelModules.dependencies(try KernelModules.modinfo(FileOps.read(path)))
            info[name] = deps
            return deps
        }
        var files: [String: String] = [:]
        for name in order { files[name] = index[name] }
        return (order, files)
    }

    /// The archive: mount points, a console node (the kernel opens /dev/console for init's stdio
    /// before /init runs, and devtmpfs is not mounted yet), /init and the modules.
    static func archive(initBinary: [UInt8], modules: [(name: String, path: String)]) throws(ImageError) -> CpioArchive {
        var cpio = CpioArchive()
        for dir in ["dev", "proc", "sys", "newroot", "lib", modulesDirectory] { cpio.directory(dir) }
        cpio.characterDevice("dev/console", major: 5, minor: 1)
        cpio.file("init", initBinary, permissions: 0o755)
        for module in modules {
            cpio.file("\(modulesDirectory)/\(module.name).ko", try FileOps.read(module.path))
        }
        cpio.file(orderFile, Array(modules.map { $0.name + "\n" }.joined().utf8))
        return cpio
    }
}
