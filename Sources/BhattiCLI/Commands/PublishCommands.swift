import BhattiAPI
import Foundation

/// `bhatti publish SB -p PORT [-a ALIAS]` and `bhatti unpublish SB -p PORT`.
enum PublishCommands {
    static let publish = BhattiCommand.Command(
        names: ["publish"],
        usage: "bhatti publish SANDBOX -p PORT [-a ALIAS]",
        summary:
            "Give a port of a sandbox a preview URL on the public proxy (a request to it wakes the sandbox). Without -p, lists its published ports.",
        options: [
            OptionSpec("--port", "-p", kind: .value, help: "the guest port to publish"),
            OptionSpec("--alias", "-a", kind: .value, help: "the URL's first label (default: a random one)"),
        ]
    ) { args, ctx in
        guard args.positionals.count == 1 else { throw UsageError("publish takes one sandbox name or id") }
        let sandbox = args.positionals[0]
        guard let port = try args.int("--port") else {
            let rules = try ctx.decode([PublishDTO].self, try ctx.request(.publishRules(sandbox)))
            if ctx.json {
                ctx.printJSON(rules)
                return 0
            }
            print(SandboxCommands.table(header: ["PORT", "ALIAS", "URL"], rows: rules.map { [String($0.port), $0.alias, $0.url ?? "-"] }))
            return 0
        }
        let body = try JSONEncoder().encode(PublishRequest(port: port, alias: args.value("--alias")))
        let rule = try ctx.decode(PublishDTO.self, try ctx.request(.publish(sandbox), body: Array(body)))
        if ctx.json {
            ctx.printJSON(rule)
            return 0
        }
        print(rule.url ?? "published as \(rule.alias) (the daemon runs no public proxy: start it with --proxy-listen)")
        return 0
    }

    static let unpublish = BhattiCommand.Command(
        names: ["unpublish"],
        usage: "bhatti unpublish SANDBOX -p PORT",
        summary: "Remove a port's preview URL.",
        options: [OptionSpec("--port", "-p", kind: .value, help: "the published port to remove")]
    ) { args, ctx in
        guard args.positionals.count == 1, let port = try args.int("--port") else { throw UsageError("unpublish SANDBOX -p PORT") }
        _ = try ctx.request(.unpublish(args.positionals[0], port: String(port)))
        if ctx.json { ctx.printJSON(["status": "unpublished"]) } else { print("\(args.positionals[0]) port \(port) unpublished") }
        return 0
    }
}
