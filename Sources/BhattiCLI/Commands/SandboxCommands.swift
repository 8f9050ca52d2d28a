import BhattiAPI
import BhattiHTTP
import Foundation
import Glibc

/// create, list, inspect, destroy.
enum SandboxCommands {
    static let create = BhattiCommand.Command(
        names: ["create"],
        usage:
            "bhatti create [--name NAME] [--image NAME] [--cpus N] [--memory MB] [--disk MB] [--env K=V]… [--secret NAME]… [--file LOCAL:GUEST]… [--init CMD] [--egress public|deny] [--allow-cidr CIDR]… [--keep-hot] [--label K=V]… [--from SANDBOX]",
        summary: "Create and boot a sandbox (named sandbox-XXXXXX without --name); an existing sandbox of that name is returned unchanged.",
        options: [
            OptionSpec("--name", kind: .value, help: "its name (default: sandbox- and 6 random hex digits)"),
            OptionSpec("--image", kind: .value, help: "the image it boots (default: the daemon's; see `bhatti image list`)"),
            OptionSpec("--cpus", kind: .value, help: "vCPUs (default 1)"),
            OptionSpec("--memory", kind: .value, help: "memory in MiB (default 1024)"),
            OptionSpec("--keep-hot", kind: .flag, help: "never pause or snapshot it when idle"),
            OptionSpec("--label", kind: .repeated, help: "a K=V label, for `list --label`"),
            OptionSpec("--disk", kind: .value, help: "root disk size in MiB (default: the image's)"),
            OptionSpec("--env", kind: .repeated, help: "an environment variable K=V for every command in it"),
            OptionSpec("--secret", kind: .repeated, help: "a stored secret, given as the environment variable NAME"),
            OptionSpec("--file", kind: .repeated, help: "copy the local file LOCAL to GUEST before it starts"),
            OptionSpec("--init", kind: .value, help: "a shell command (sh -c) run once after boot; a script must be a --file first"),
            OptionSpec("--from", kind: .value, help: "copy this sandbox's disk (it is snapshotted briefly)"),
            OptionSpec("--egress", kind: .value, help: "outbound traffic: public (default) or deny"),
            OptionSpec("--allow-cidr", kind: .repeated, help: "with --egress deny, a CIDR it may still reach"),
        ]
    ) { args, ctx in
        guard args.positionals.isEmpty else { throw UsageError("unexpected argument \"\(args.positionals[0])\"") }
        var files: [GuestFileDTO] = []
        for spec in args.all("--file") {
            guard let colon = spec.firstIndex(of: ":"), colon != spec.startIndex else {
                throw UsageError("--file must be LOCAL:GUEST, got \"\(spec)\"")
            }
            let local = String(spec[..<colon])
            let guest = String(spec[spec.index(after: colon)...])
            guard let data = FileManager.default.contents(atPath: local) else { throw CLIError.failure("cannot read \(local)") }
            let mode = (try? FileManager.default.attributesOfItem(atPath: local)[.posixPermissions] as? Int).map {
                String(format: "%04o", $0 & 0o777)
            }
            files.append(GuestFileDTO(path: guest, content: data.base64EncodedString(), mode: mode))
        }
        let env = try args.pairs("--env")
        let body = CreateSandboxRequest(
            name: args.value("--name"), cpus: try args.int("--cpus"), memoryMB: try args.int("--memory"), diskMB: try args.int("--disk"),
            labels: args.values["--label"] == nil ? nil : try args.pairs("--label"), keepHot: args.has("--keep-hot") ? true : nil,
            from: args.value("--from"), env: env.isEmpty ? nil : env, secrets: args.all("--secret").isEmpty ? nil : args.all("--secret"),
            files: files.isEmpty ? nil : files, initScript: args.value("--init"), egress: args.value("--egress"),
            allowCIDRs: args.all("--allow-cidr").isEmpty ? nil : args.all("--allow-cidr"), image: args.value("--image"))
        let started = Date()
        let encoded = Array(try JSONEncoder().encode(body))
        let response = try Progress.run("creating sandbox \(body.name ?? "")", json: ctx.json) {
            try ctx.request(.createSandbox, body: encoded)
        }
        let sandbox = try ctx.decode(SandboxDTO.self, response)
        if ctx.json {
            ctx.printJSON(sandbox)
            return 0
        }
        if response.headers[APIVersion.existingHeader] == "true" {
            print("sandbox/\(sandbox.name) unchanged (already exists, \(sandbox.state))")
        } else {
            print(
                String(
                    format: "sandbox/%@ created (id %@, %d cpu, %@) in %.1fs", sandbox.name, sandbox.id, sandbox.cpus,
                    mebibytes(sandbox.memoryMB), Date().timeIntervalSince(started)))
        }
        return 0
    }

    static let list = BhattiCommand.Command(
        names: ["list", "ls"], usage: "bhatti list [--label K=V]…", summary: "List sandboxes.",
        options: [OptionSpec("--label", kind: .repeated, help: "only sandboxes with this K=V label")]
    ) { args, ctx in
        let query = try args.pairs("--label").sorted { $0.key < $1.key }.map { ("label", "\($0.key)=\($0.value)") }
        let sandboxes = try ctx.decode([SandboxDTO].self, try ctx.request(.listSandboxes, query: query))
        if ctx.json {
            ctx.printJSON(sandboxes)
            return 0
        }
        let rows = sandboxes.map { s in
            [
                s.name, s.state, s.image, s.ip ?? "-", String(s.cpus), mebibytes(s.memoryMB), s.diskMB.map(mebibytes) ?? "-",
                age(s.createdAt),
            ]
        }
        print(table(header: ["NAME", "STATE", "IMAGE", "IP", "CPUS", "MEMORY", "DISK", "AGE"], rows: rows))
        return 0
    }

    static let inspect = BhattiCommand.Command(
        names: ["inspect", "info"], usage: "bhatti inspect SANDBOX", summary: "Show everything known about a sandbox.", options: []
    ) { args, ctx in
        guard args.positionals.count == 1 else { throw UsageError("inspect takes one sandbox name or id") }
        let s = try ctx.decode(SandboxDTO.self, try ctx.request(.sandbox(args.positionals[0])))
        if ctx.json {
            ctx.printJSON(s)
            return 0
        }
        var lines = [
            "Name:      \(s.name)", "ID:        \(s.id)", "State:     \(s.state)", "CPUs:      \(s.cpus)",
            "Memory:    \(mebibytes(s.memoryMB))", "Disk:      \(s.diskMB.map(mebibytes) ?? "the image's size")",
            "IP:        \(s.ip ?? "-")", "Image:     \(s.image)",
            "Keep hot:  \(s.keepHot)", "Created:   \(s.createdAt) (\(age(s.createdAt)) ago)",
        ]
        if let reason = s.stateReason { lines.append("Reason:    \(reason)") }
        if !s.urls.isEmpty { lines.append("URLs:      " + s.urls.joined(separator: ", ")) }
        if let egress = s.egress {
            lines.append("Egress:    \(egress)" + (s.allowCIDRs.map { " (allowed: " + $0.joined(separator: ", ") + ")" } ?? ""))
        }
        if !s.labels.isEmpty {
            lines.append("Labels:    " + s.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        }
        print(lines.joined(separator: "\n"))
        return 0
    }

    static let destroy = BhattiCommand.Command(
        names: ["destroy", "rm"], usage: "bhatti destroy SANDBOX [--yes]", summary: "Stop a sandbox's VM and delete it with its files.",
        options: []
    ) { args, ctx in
        guard args.positionals.count == 1 else { throw UsageError("destroy takes one sandbox name or id") }
        let target = args.positionals[0]
        try ctx.confirm("destroy sandbox \(target) and all its files?")
        let response = try ctx.request(.destroySandbox(target))
        if ctx.json { ctx.printJSON(try ctx.decode(StatusDTO.self, response)) } else { print("sandbox/\(target) destroyed") }
        return 0
    }

    /// Sizes everywhere in the CLI: `512 MiB`.
    static func mebibytes(_ n: Int) -> String { "\(n) MiB" }

    /// `1 sandbox`, `2 sandboxes`.
    static func count(_ n: Int, _ singular: String, _ plural: String) -> String { "\(n) \(n == 1 ? singular : plural)" }

    static func age(_ iso: String) -> String {
        guard let date = ISO8601DateFormatter().date(from: iso) else { return "-" }
        let s = Int(max(0, Date().timeIntervalSince(date)))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    static func table(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return ([header] + rows).map { r in
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n")
    }
}

extension SandboxCommands {
    static let edit = BhattiCommand.Command(
        names: ["edit"],
        usage: "bhatti edit SB [--name NEW] [--keep-hot|--allow-cold] [--label K=V]… [--label-delete K]… [--disk MB]",
        summary: "Rename a sandbox, pin it hot or let it cool, add or remove labels, grow its disk (while it is hot).",
        options: [
            OptionSpec("--name", kind: .value, help: "rename it"), OptionSpec("--keep-hot", kind: .flag, help: "pin it hot"),
            OptionSpec("--allow-cold", kind: .flag, help: "let it pause and snapshot when idle again"),
            OptionSpec("--label", kind: .repeated, help: "add or change a K=V label"),
            OptionSpec("--label-delete", kind: .repeated, help: "remove the label K"),
            OptionSpec("--disk", kind: .value, help: "grow its disk to MB MiB (never shrinks)"),
        ]
    ) { args, ctx in
        guard args.positionals.count == 1 else { throw UsageError("edit takes one sandbox name or id") }
        if args.has("--keep-hot") && args.has("--allow-cold") { throw UsageError("--keep-hot and --allow-cold exclude each other") }
        let keepHot: Bool? = args.has("--keep-hot") ? true : (args.has("--allow-cold") ? false : nil)
        let add = try args.pairs("--label")
        let body = EditSandboxRequest(
            name: args.value("--name"), keepHot: keepHot, labelsAdd: add.isEmpty ? nil : add,
            labelsRemove: args.all("--label-delete").isEmpty ? nil : args.all("--label-delete"), diskMB: try args.int("--disk"))
        guard body != EditSandboxRequest() else { throw UsageError("edit needs at least one change") }
        let s = try ctx.decode(
            SandboxDTO.self,
            try ctx.request(
                .editSandbox(args.positionals[0]), body: Array(try JSONEncoder().encode(body))))
        if ctx.json { ctx.printJSON(s) } else { print("sandbox/\(s.name) edited") }
        return 0
    }
}
