import BhattiCLI
import BhattiImage
import Foundation

/// `bhatti image build`: the guest kernel, initramfs and rootfs from Debian packages (its usage is
/// `BhattiCLI`'s `ImageCommand`; the other image commands ask the daemon).
enum ImageBuild {
    static let run: BhattiCommand.Run = { args, ctx in
        let out = args.value("--out").map(Serve.absolute) ?? GuestImage.defaultDirectory
        switch args.positionals.first {
        case "build":
            let lohar = try args.value("--lohar").map(Serve.absolute) ?? locate("lohar", candidates: loharCandidates())
            guard isStaticExecutable(lohar) else {
                throw CLIError.failure(
                    "\(lohar) is not a static executable; build it with `make lohar` (swift build -c release --product lohar -Xswiftc -static-executable)"
                )
            }
            let initSource = try args.value("--init-source").map(Serve.absolute) ?? locate("guest/init.c", candidates: sourceCandidates())
            let options = ImageBuildOptions(outputDirectory: out, loharPath: lohar, initSourcePath: initSource)
            let manifest: ImageManifest
            // Its steps as they happen, on a terminal (or with --verbose); a script sees only the result.
            let shown = args.has("--verbose") || Progress.shown(json: ctx.json)
            do {
                manifest = try ImageBuilder.build(options) { line in if shown { printError(line) } }
            } catch {
                throw CLIError.failure("image build failed: \(error)")
            }
            if ctx.json { ctx.printJSON(manifest, snakeCase: true) } else if !shown { print("image ready in \(out)") }
            return 0
        default:
            throw UsageError("image build is the only image command that runs on this host")
        }
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
