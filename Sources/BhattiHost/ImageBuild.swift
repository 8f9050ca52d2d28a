import BhattiCLI
import BhattiCore
import BhattiDaemon
import BhattiImage
import Foundation

/// `bhatti image build`: the guest kernel, initramfs and rootfs from Debian packages (its usage is
/// `BhattiCLI`'s `ImageCommand`; the other image commands ask the daemon).
enum ImageBuild {
    static let run: BhattiCommand.Run = { args, ctx in
        guard args.positionals.first == "build" else {
            throw UsageError("image build is the only image command that runs on this host")
        }
        let rest = Array(args.positionals.dropFirst())
        guard rest.count <= 1 else { throw UsageError("image build [NAME] takes one name") }
        let name = rest.first
        let recipe = try recipe(args, name: name)
        // Into the registry (`NAME`): built in a staging directory, renamed into place when done.
        // Else into `--out` (or the default image directory) in place, as the builder always has.
        var target: (images: String, name: String, staging: String)?
        let out: String
        if let name {
            guard args.value("--out") == nil else { throw UsageError("image build takes NAME or --out DIR, not both") }
            guard SandboxName(rawValue: name) != nil else {
                throw UsageError(
                    "image name \"\(name)\": up to 63 letters, digits, dots, dashes and underscores, starting with a letter or digit")
            }
            var config = try args.value("--config").map { try DaemonConfiguration.load(file: $0) } ?? DaemonConfiguration()
            if let v = args.value("--data-dir") { config.dataDirectory = Serve.absolute(v) }
            let images = config.dataDirectory + "/images"
            try ImagePublish.checkReplaceable(images: images, name: name)
            let staging = ImagePublish.stagingDirectory(images: images, name: name)
            target = (images, name, staging)
            out = staging
        } else {
            out = args.value("--out").map(Serve.absolute) ?? GuestImage.defaultDirectory
        }
        let lohar = try args.value("--lohar").map(Serve.absolute) ?? locate("lohar", candidates: loharCandidates())
        guard isStaticExecutable(lohar) else {
            throw CLIError.failure(
                "\(lohar) is not a static executable; build it with `make lohar` (swift build -c release --product lohar -Xswiftc -static-executable)"
            )
        }
        let initSource = try args.value("--init-source").map(Serve.absolute) ?? locate("guest/init.c", candidates: sourceCandidates())
        var options = ImageBuildOptions(outputDirectory: out, loharPath: lohar, initSourcePath: initSource)
        recipe.recipe.apply(to: &options)
        let manifest: ImageManifest
        // Its steps as they happen, on a terminal (or with --verbose); a script sees only the result.
        let shown = args.has("--verbose") || Progress.shown(json: ctx.json)
        do {
            manifest = try ImageBuilder.build(options) { line in if shown { printError(line) } }
        } catch {
            throw CLIError.failure("image build failed: \(error)")
        }
        var ready = out
        if let target {
            let registry = RegistryManifest(
                source: "recipe \(recipe.source)", env: recipe.recipe.env.isEmpty ? nil : recipe.recipe.env,
                workingDir: recipe.recipe.workingDir, packages: recipe.recipe.packages)
            let changed = try ImagePublish.publish(staging: target.staging, images: target.images, name: target.name, registry: registry)
            ready = target.images + "/" + target.name
            if shown { printError(changed ? "image \(target.name) published in \(ready)" : "image \(target.name) unchanged in \(ready)") }
        }
        if ctx.json { ctx.printJSON(manifest, snakeCase: true) } else if !shown { print("image ready in \(ready)") }
        return 0
    }

    /// The recipe a build follows and what to call it in `registry.json`'s source: `--recipe FILE`
    /// (its base name), `--packages a,b,c` ("packages"), or neither: the minimal image's packages.
    static func recipe(_ args: ParsedArguments, name: String?) throws -> (recipe: ImageRecipe, source: String) {
        switch (args.value("--recipe"), args.value("--packages")) {
        case (.some, .some):
            throw UsageError("image build takes --recipe or --packages, not both")
        case (.some(let file), nil):
            guard let bytes = FileManager.default.contents(atPath: file) else { throw CLIError.failure("cannot read recipe \(file)") }
            var recipe: ImageRecipe
            do { recipe = try ImageRecipe.parse(Array(bytes), file: file) } catch { throw CLIError.failure("\(error)") }
            try size(args).map { recipe.sizeMB = $0 }
            return (recipe, ((file as NSString).lastPathComponent as NSString).deletingPathExtension)
        case (nil, .some(let list)):
            let packages: [String]
            do { packages = try ImageRecipe.packageList(list) } catch { throw UsageError("\(error)") }
            return (ImageRecipe(packages: packages, sizeMB: try size(args)), "packages")
        case (nil, nil):
            return (ImageRecipe(packages: ImageBuildOptions.defaultPackages, sizeMB: try size(args)), "minimal")
        }
    }

    static func size(_ args: ParsedArguments) throws -> Int? {
        guard let v = args.value("--size") else { return nil }
        guard let mb = Int(v), ImageRecipe.sizeRange.contains(mb) else {
            throw UsageError(
                "--size is the root file system in MiB, from \(ImageRecipe.sizeRange.lowerBound) to \(ImageRecipe.sizeRange.upperBound)")
        }
        return mb
    }

    /// Where a static lohar usually is: beside this executable's build tree, or the repo's static build.
    static func loharCandidates() -> [String] {
        var c: [String] = []
        if let env = ProcessInfo.processInfo.environment["BHATTI_LOHAR"] { c.append(env) }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        c.append(exe.appendingPathComponent("../static/release/lohar").standardized.path)
        c.append(exe.appendingPathComponent("../../static/release/lohar").standardized.path)
        c.append(FileManager.default.currentDirectoryPath + "/.build/static/release/lohar")
        c.append("/usr/local/lib/bhatti/lohar")
        return c
    }

    static func sourceCandidates() -> [String] {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        return [
            FileManager.default.currentDirectoryPath + "/guest/init.c",
            exe.appendingPathComponent("../../../guest/init.c").standardized.path,
            exe.appendingPathComponent("../../guest/init.c").standardized.path,
            "/usr/local/lib/bhatti/init.c",
        ]
    }

    static func locate(_ what: String, candidates: [String]) throws -> String {
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw CLIError.failure("cannot find \(what) (looked in \(candidates.joined(separator: ", "))); pass its path explicitly")
    }

    /// True for an ELF executable with no program interpreter (PT_INTERP): it runs in any rootfs.
    static func isStaticExecutable(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path), let header = try? handle.read(upToCount: 64), header.count == 64,
            header.starts(with: [0x7f, 0x45, 0x4c, 0x46]), header[4] == 2
        else { return false }
        defer { try? handle.close() }
        func u64(_ d: Data, _ o: Int) -> UInt64 { d[d.startIndex + o..<d.startIndex + o + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        func u16(_ d: Data, _ o: Int) -> Int { Int(d[d.startIndex + o]) | Int(d[d.startIndex + o + 1]) << 8 }
        let phoff = u64(header, 32)
        let phentsize = u16(header, 54)
        let phnum = u16(header, 56)
        try? handle.seek(toOffset: phoff)
        guard let table = try? handle.read(upToCount: phentsize * phnum), table.count == phentsize * phnum else { return false }
        for i in 0..<phnum where table[table.startIndex + i * phentsize] == 3 { return false }
        return true
    }
}
