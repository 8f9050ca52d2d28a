import BhattiAPI
import BhattiCore
import Foundation
import Glibc

/// `bhatti user …` (admin only) and `bhatti secret …`.
enum TenancyCommands {
    static let user = BhattiCommand.Command(
        names: ["user"],
        usage:
            "bhatti user create --name N [--max-sandboxes 5] [--max-cpus 4] [--max-memory 4096] [IO] | list | delete N [--force] | rotate-key N | limits N [IO | --default]   (IO: --disk-bytes-per-s B --disk-iops N --net-mbit-per-s M; 0 is unlimited)",
        summary: "Manage users and their API keys (admin only). A key is printed once, when it is made.",
        options: [
            OptionSpec("--name", kind: .value, help: "create: the user's name"),
            OptionSpec("--max-sandboxes", kind: .value, help: "create: how many sandboxes they may have (default 5)"),
            OptionSpec("--max-cpus", kind: .value, help: "create: vCPUs per sandbox (default 4)"),
            OptionSpec("--max-memory", kind: .value, help: "create: MiB per sandbox (default 4096)"),
            OptionSpec("--force", kind: .flag, help: "delete: destroy their sandboxes and snapshots too"),
            OptionSpec("--disk-bytes-per-s", kind: .value, help: "disk bandwidth per sandbox, bytes/s (0: unlimited)"),
            OptionSpec("--disk-iops", kind: .value, help: "disk operations per second per sandbox (0: unlimited)"),
            OptionSpec("--net-mbit-per-s", kind: .value, help: "network bandwidth per sandbox, Mbit/s (0: unlimited)"),
            OptionSpec("--default", kind: .flag, help: "limits: back to the daemon's default I/O limits"),
        ],
        verbs: ["create", "list", "delete", "rotate-key", "limits"]
    ) { args, ctx in
        guard let verb = args.positionals.first else { throw UsageError("user needs create, list, delete, rotate-key or limits") }
        /// The I/O flags given, or nil when none is.
        func ioLimits() throws(UsageError) -> IOLimits? {
            let values = (try args.int("--disk-bytes-per-s"), try args.int("--disk-iops"), try args.int("--net-mbit-per-s"))
            if values.0 == nil, values.1 == nil, values.2 == nil { return nil }
            return IOLimits(diskBytesPerSecond: values.0 ?? 0, diskIOPS: values.1 ?? 0, netMbitPerSecond: values.2 ?? 0)
        }
        let rest = Array(args.positionals.dropFirst())
        switch verb {
        case "create":
            guard rest.isEmpty, let name = args.value("--name") else { throw UsageError("user create --name NAME") }
            let body = CreateUserRequest(
                name: name, maxSandboxes: try args.int("--max-sandboxes"), maxCPUs: try args.int("--max-cpus"),
                maxMemoryMB: try args.int("--max-memory"), ioLimits: try ioLimits())
            let reply = try ctx.decode(UserKeyDTO.self, try ctx.request(.createUser, body: Array(try JSONEncoder().encode(body))))
            if ctx.json {
                ctx.printJSON(reply)
                return 0
            }
            print("user/\(reply.user.name) created (\(limits(reply.user)))")
            print("API key: \(reply.apiKey)")
            printError("This key is shown once; store it now.")
        case "list", "ls":
            guard rest.isEmpty else { throw UsageError("user list takes no arguments") }
            let users = try ctx.decode([UserDTO].self, try ctx.request(.users))
            if ctx.json {
                ctx.printJSON(users)
                return 0
            }
            let rows = users.map { u in
                [u.name, u.id, u.isAdmin ? "admin" : "user", String(u.sandboxes), limits(u), SandboxCommands.age(u.createdAt)]
            }
            print(SandboxCommands.table(header: ["NAME", "ID", "ROLE", "SANDBOXES", "LIMITS", "AGE"], rows: rows))
        case "delete", "rm":
            guard rest.count == 1 else { throw UsageError("user delete NAME [--force]") }
            let force = args.has("--force")
            if force { try ctx.confirm("delete user \(rest[0]) and destroy all their sandboxes and snapshots?") }
            _ = try ctx.request(.deleteUser(rest[0]), query: force ? [("force", "true")] : [])
            if ctx.json { ctx.printJSON(["status": "deleted"]) } else { print("user/\(rest[0]) deleted") }
        case "rotate-key":
            guard rest.count == 1 else { throw UsageError("user rotate-key NAME") }
            let reply = try ctx.decode(UserKeyDTO.self, try ctx.request(.rotateKey(rest[0])))
            if ctx.json {
                ctx.printJSON(reply)
                return 0
            }
            print("user/\(reply.user.name): the old key no longer works")
            print("API key: \(reply.apiKey)")
        case "limits":
            guard rest.count == 1 else {
                throw UsageError("user limits NAME [--disk-bytes-per-s B] [--disk-iops N] [--net-mbit-per-s M] | --default")
            }
            let limits = try ioLimits()
            if limits == nil, !args.has("--default") {
                // No change asked for: show the current ones.
                let users = try ctx.decode([UserDTO].self, try ctx.request(.users))
                guard let user = users.first(where: { $0.name == rest[0] }) else {
                    throw CLIError.server(status: 404, code: "not_found", message: "user \(rest[0]) not found")
                }
                if ctx.json {
                    ctx.printJSON(user)
                    return 0
                }
                print("user/\(user.name): \(io(user.ioLimits))")
                return 0
            }
            guard limits == nil || !args.has("--default") else {
                throw UsageError("user limits takes I/O flags or --default, one or the other")
            }
            let body = UpdateUserRequest(ioLimits: limits)
            let user = try ctx.decode(UserDTO.self, try ctx.request(.editUser(rest[0]), body: Array(try JSONEncoder().encode(body))))
            if ctx.json {
                ctx.printJSON(user)
                return 0
            }
            print("user/\(user.name): \(io(user.ioLimits))")
        default:
            throw UsageError("unknown user command \"\(verb)\": use create, list, delete, rotate-key or limits")
        }
        return 0
    }

    static let secret = BhattiCommand.Command(
        names: ["secret"],
        usage: "bhatti secret set NAME VALUE | list | delete NAME",
        summary: "Secrets, encrypted at rest; `create --secret NAME` gives one to a sandbox as an environment variable.",
        options: [],
        verbs: ["set", "list", "delete"]
    ) { args, ctx in
        guard let verb = args.positionals.first else { throw UsageError("secret needs set, list or delete") }
        let rest = Array(args.positionals.dropFirst())
        switch verb {
        case "set":
            // VALUE "-" reads it from stdin, which keeps it out of shell history and `ps`.
            guard rest.count == 2 else { throw UsageError("secret set NAME VALUE (VALUE - reads stdin)") }
            var value = rest[1]
            if value == "-" {
                value = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                if value.hasSuffix("\n") { value.removeLast() }
            }
            let body = SetSecretRequest(name: rest[0], value: value)
            let secret = try ctx.decode(SecretDTO.self, try ctx.request(.setSecret, body: Array(try JSONEncoder().encode(body))))
            if ctx.json { ctx.printJSON(secret) } else { print("secret/\(secret.name) set") }
        case "list", "ls":
            guard rest.isEmpty else { throw UsageError("secret list takes no arguments") }
            let secrets = try ctx.decode([SecretDTO].self, try ctx.request(.secrets))
            if ctx.json {
                ctx.printJSON(secrets)
                return 0
            }
            print(SandboxCommands.table(header: ["NAME", "UPDATED"], rows: secrets.map { [$0.name, $0.updatedAt] }))
        case "delete", "rm":
            guard rest.count == 1 else { throw UsageError("secret delete NAME") }
            try ctx.confirm("delete secret \(rest[0])?")
            _ = try ctx.request(.deleteSecret(rest[0]))
            if ctx.json { ctx.printJSON(["status": "deleted"]) } else { print("secret/\(rest[0]) deleted") }
        default:
            throw UsageError("unknown secret command \"\(verb)\": use set, list or delete")
        }
        return 0
    }

    static func limits(_ u: UserDTO) -> String {
        if u.maxSandboxes == 0 { return "unlimited" }
        let size =
            "\(SandboxCommands.count(u.maxSandboxes, "sandbox", "sandboxes")), \(u.maxCPUs) cpu, \(SandboxCommands.mebibytes(u.maxMemoryMB)) each"
        return u.ioLimits == nil ? size : size + "; " + io(u.ioLimits)
    }

    /// A user's I/O limits in words.
    static func io(_ limits: IOLimits?) -> String {
        guard let limits else { return "the daemon's default I/O limits" }
        func rate(_ n: Int, _ unit: String) -> String { n > 0 ? "\(n) \(unit)" : "unlimited" }
        return
            "disk \(rate(limits.diskBytesPerSecond, "B/s")), \(rate(limits.diskIOPS, "IOPS")); network \(rate(limits.netMbitPerSecond, "Mbit/s"))"
    }

}
