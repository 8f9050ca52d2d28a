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
                [
                    i.name + (i.isDefault ? " (default)" : ""), i.visibility, i.source, SandboxCommands.mebibytes(i.diskMB),
                    i.kernelVersion,
                    i.createdAt ?? "-",
                ]
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
            if let user = i.user { lines.append("User:        \(user)") }
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
            let i = try importArchive(file, as: name, ctx: ctx)
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

    /// Streams `file` as the body of an import (never whole in memory), showing on a terminal the
    /// bytes sent, then the server's progress through the layers and the steps after them (its NDJSON
    /// lines); returns the new image.
    static func importArchive(_ file: String, as name: String, ctx: CLIContext) throws -> ImageDTO {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError.failure("cannot read \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw CLIError.failure("\(file) is not a regular file") }
        let total = Int(info.st_size)
        let shown = ImportDisplay(total: total)
        let route = APIRoute.importImage(name)
        var headers = ctx.headers
        headers.set("Accept", APIVersion.ndjson)
        var failed: Int32 = 0
        var lines = NDJSONLines()
        var outcome: ImportStreamLine?
        let response: HTTPClientResponse
        do {
            response = try Progress.run("importing image \(name)", json: ctx.json, detail: { shown.text }) {
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                return try ctx.client().send(
                    method: route.method, path: route.path, headers: headers, length: total,
                    body: {
                        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                        guard n > 0 else {
                            if n < 0 { failed = errno }
                            return nil
                        }
                        shown.sent(n)
                        return Array(buffer[0..<n])
                    },
                    onChunk: { chunk in
                        for line in lines.append(chunk) {
                            guard let decoded = try? JSONDecoder().decode(ImportStreamLine.self, from: Data(line)) else { continue }
                            if decoded.type == "image" || decoded.type == "error" { outcome = decoded } else { shown.server(decoded) }
                        }
                    })
            }
        } catch let error as HTTPClientError {
            if failed != 0 { throw CLIError.failure("reading \(file): \(String(cString: strerror(failed)))") }
            throw ctx.transportError(error)
        }
        // Refused before the import began (409, 413, 401): a plain error reply.
        if response.status >= 400 { throw ctx.serverError(status: response.status, body: lines.head) }
        switch outcome {
        case let line? where line.type == "image":
            guard let image = line.image else {
                throw CLIError.failure("unexpected reply from the daemon: an image line without the image")
            }
            return image
        case let line?:
            let status = line.status ?? 500
            throw CLIError.server(status: status, code: line.code ?? "http_\(status)", message: line.message ?? "the import failed")
        case nil:
            throw CLIError.failure("the daemon ended the import's reply without its outcome")
        }
    }
}

/// What the import's progress line shows: bytes sent, then the server's own reports.
private final class ImportDisplay: Sendable {
    let total: Int
    private let state = Mutex((sent: 0, server: String?.none))
    init(total: Int) { self.total = total }

    func sent(_ n: Int) { state.withLock { $0.sent += n } }

    func server(_ line: ImportStreamLine) {
        let text: String
        if line.type == "progress", let done = line.layersDone, let layers = line.layers {
            let read = (line.bytesRead ?? 0) >> 20
            let of = (line.bytesTotal ?? 0) >> 20
            text = "unpacking layer \(min(done + 1, layers)) of \(layers) (\(read) of \(of) MiB)"
        } else {
            text = line.message ?? line.type
        }
        state.withLock { $0.server = text }
    }

    var text: String {
        state.withLock { s in s.server ?? "uploading \(s.sent >> 20) of \(total >> 20) MiB" }
    }
}
