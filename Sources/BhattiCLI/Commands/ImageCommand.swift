import BhattiAPI
import BhattiHTTP
import Foundation
import Glibc
import Synchronization

/// `bhatti image list | inspect NAME | delete NAME` ask the daemon; `bhatti image build` runs the
/// builder on this host (`BhattiHost`'s, handed in as the local run of "image build").
enum ImageCommand {
    static let command = BhattiCommand.Command(
        names: ["image"],
        usage:
            "bhatti image list | inspect NAME | delete NAME | import NAME FILE | save SANDBOX --name NAME | build [NAME] [--recipe FILE | --packages a,b,c] [--size MB] [--data-dir DIR | --out DIR] [--lohar PATH] [--init-source FILE] [--verbose]",
        summary:
            "The images sandboxes boot from (`create --image NAME`): list, inspect or delete them; import makes one from an oci-archive or docker-archive tar (`skopeo copy … oci-archive:FILE`, `docker save`), private to you; save makes one from a sandbox's disk as it is now (the sandbox pauses briefly and keeps running), private to you. build makes a guest image on this host from a recipe (recipes/*.json; needs root, debootstrap, qemu-utils, e2fsprogs): build NAME puts it into <data-dir>/images/NAME when done, the image NAME; --out builds into a directory in place.",
        options: [
            OptionSpec("--name", kind: .value, help: "save: the new image's name"),
            OptionSpec("--recipe", kind: .value, help: "build: the recipe file (packages, size, env, setup; default: the minimal image)"),
            OptionSpec("--packages", kind: .value, help: "build: the Debian packages, comma-separated, instead of a recipe"),
            OptionSpec("--size", kind: .value, help: "build: the root file system in MiB (default: the recipe's, else fitted to it)"),
            OptionSpec(
                "--data-dir", kind: .value, help: "build NAME: the daemon's data directory (default: the config's, /var/lib/bhatti)"),
            OptionSpec("--config", kind: .value, help: "build NAME: the daemon's config file, for its data directory"),
            OptionSpec("--out", kind: .value, help: "build: the image directory, without NAME (default /var/lib/bhatti/images/default)"),
            OptionSpec("--lohar", kind: .value, help: "build: the static guest agent to put in it"),
            OptionSpec("--init-source", kind: .value, help: "build: guest/init.c, the guest's PID 1"),
            OptionSpec("--verbose", kind: .flag, help: "build: show each step"),
        ],
        verbs: ["list", "inspect", "delete", "import", "save", "build"]
    ) { args, ctx in
        guard let verb = args.positionals.first else { throw UsageError("image needs list, inspect, delete, import, save or build") }
        let rest = Array(args.positionals.dropFirst())
        if verb != "build", let only = ["--out", "--recipe", "--packages", "--size", "--data-dir"].first(where: { args.value($0) != nil }) {
            throw UsageError("\(only) is for image build")
        }
        if verb != "save", args.value("--name") != nil { throw UsageError("--name is for image save") }
        switch verb {
        case "list", "ls":
            guard rest.isEmpty else { throw UsageError("image list takes no arguments") }
            let images = try ctx.decode([ImageDTO].self, try ctx.request(.images))
            if ctx.json {
                ctx.printJSON(images)
                return 0
            }
            let rows = images.map { i in
                [i.name, i.visibility, i.source, SandboxCommands.mebibytes(i.diskMB), i.kernelVersion, i.createdAt ?? "-"]
            }
            print(SandboxCommands.table(header: ["NAME", "VISIBILITY", "SOURCE", "DISK", "KERNEL", "CREATED"], rows: rows))
        case "inspect", "info":
            guard rest.count == 1 else { throw UsageError("image inspect NAME") }
            let i = try ctx.decode(ImageDTO.self, try ctx.request(.image(rest[0])))
            if ctx.json {
                ctx.printJSON(i)
                return 0
            }
            var lines = [
                "Name:        \(i.name)", "Visibility:  \(i.visibility)", "Source:      \(i.source)",
                "Disk:        \(SandboxCommands.mebibytes(i.diskMB))", "Kernel:      \(i.kernelVersion)",
                "Created:     \(i.createdAt ?? "-")",
                "Packages:    \(i.packageCount)",
            ]
            if let dir = i.workingDir { lines.append("Working dir: \(dir)") }
            if !i.env.isEmpty {
                lines.append("Env:         " + i.env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            }
            print(lines.joined(separator: "\n"))
        case "delete", "rm":
            guard rest.count == 1 else { throw UsageError("image delete NAME") }
            try ctx.confirm("delete image \(rest[0]) and its files?")
            _ = try ctx.request(.deleteImage(rest[0]))
            if ctx.json { ctx.printJSON(["status": "deleted"]) } else { print("image/\(rest[0]) deleted") }
        case "import":
            guard rest.count == 2 else { throw UsageError("image import NAME FILE") }
            let (name, file) = (rest[0], rest[1])
            let i = try ctx.decode(ImageDTO.self, try upload(file, to: .importImage(name), ctx: ctx, label: "importing image \(name)"))
            if ctx.json {
                ctx.printJSON(i)
                return 0
            }
            print("image/\(i.name) imported (\(i.visibility), \(SandboxCommands.mebibytes(i.diskMB)))")
        case "save":
            guard rest.count == 1, let name = args.value("--name") else { throw UsageError("image save SANDBOX --name NAME") }
            let body = try JSONEncoder().encode(SaveImageRequest(name: name))
            let i = try Progress.run("saving \(rest[0]) as image \(name)", json: ctx.json) {
                try ctx.decode(ImageDTO.self, try ctx.request(.saveImage(rest[0]), body: Array(body)))
            }
            if ctx.json {
                ctx.printJSON(i)
                return 0
            }
            print("image/\(i.name) saved from \(rest[0]) (\(i.visibility), \(SandboxCommands.mebibytes(i.diskMB)))")
        case "build":
            throw CLIError.failure("`bhatti image build` runs only in the bhatti executable")
        default:
            throw UsageError("unknown image command \"\(verb)\": use list, inspect, delete, import, save or build")
        }
        return 0
    }

    /// Streams `file` as the body of `route`'s request (never whole in memory), showing bytes sent of
    /// the total on a terminal.
    static func upload(_ file: String, to route: APIRoute, ctx: CLIContext, label: String) throws -> HTTPClientResponse {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError.failure("cannot read \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw CLIError.failure("\(file) is not a regular file") }
        let total = Int(info.st_size)
        let sent = Counter()
        var failed: Int32 = 0
        let response: HTTPClientResponse
        do {
            response = try Progress.run(
                label, json: ctx.json, detail: { "\(sent.value.load(ordering: .relaxed) >> 20) of \(total >> 20) MiB" }
            ) {
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                return try ctx.client().send(method: route.method, path: route.path, headers: ctx.headers, length: total) {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    guard n > 0 else {
                        if n < 0 { failed = errno }
                        return nil
                    }
                    sent.value.add(n, ordering: .relaxed)
                    return Array(buffer[0..<n])
                }
            }
        } catch let error as HTTPClientError {
            if failed != 0 { throw CLIError.failure("reading \(file): \(String(cString: strerror(failed)))") }
            throw ctx.transportError(error)
        }
        if response.status >= 400 { throw ctx.serverError(status: response.status, body: response.body) }
        return response
    }
}

/// Bytes sent so far, read by the progress line's timer.
private final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
