import Foundation

/// `bhatti e2b env`: the shell lines that point the e2b SDK at this daemon with the caller's key,
/// for `eval "$(bhatti e2b env)"`, as `docker-machine env` does.
enum E2BCommand {
    static let command = BhattiCommand.Command(
        names: ["e2b"],
        usage: "bhatti e2b env [--api-url URL]",
        summary:
            "Print the shell lines that point the e2b SDK at this daemon with your key: `eval \"$(bhatti e2b env)\"`, then any E2B program runs its sandboxes here (see docs/e2b.md).",
        options: [
            OptionSpec(
                "--api-url", kind: .value,
                help: "the daemon's HTTP address as the SDK reaches it (default: --url when it is http, else http://127.0.0.1:8080)")
        ],
        verbs: ["env"]
    ) { args, ctx in
        guard args.positionals == ["env"] else { throw UsageError("e2b env [--api-url URL]") }
        guard let key = ctx.token else { throw UsageError("e2b env needs your key: --token, BHATTI_TOKEN or `bhatti setup`") }
        let daemon = try base(explicit: args.value("--api-url"), cliURL: ctx.url)
        let lines = environment(daemon: daemon, key: key)
        if ctx.json {
            ctx.printJSON(Dictionary(uniqueKeysWithValues: lines.map { ($0.0, $0.1) }))
            return 0
        }
        for (name, value) in lines { print("export \(name)=\(shellQuoted(value))") }
        print("# eval \"$(bhatti e2b env)\" to use it; see docs/e2b.md")
        return 0
    }

    /// The daemon's HTTP address without a trailing slash: the SDK cannot use a unix socket.
    static func base(explicit: String?, cliURL: String) throws -> String {
        let chosen = explicit ?? (cliURL.hasPrefix("http://") || cliURL.hasPrefix("https://") ? cliURL : "http://127.0.0.1:8080")
        guard chosen.hasPrefix("http://") || chosen.hasPrefix("https://"), URL(string: chosen)?.host != nil else {
            throw UsageError("--api-url must be http:// or https:// with a host, got \(chosen)")
        }
        return chosen.hasSuffix("/") ? String(chosen.dropLast()) : chosen
    }

    /// The SDK's documented settings, in the order they are printed.
    static func environment(daemon: String, key: String) -> [(String, String)] {
        let host = URL(string: daemon)?.host ?? "127.0.0.1"
        return [
            ("E2B_API_URL", daemon + "/e2b"), ("E2B_SANDBOX_URL", daemon + "/e2b/envd"), ("E2B_API_KEY", key), ("E2B_DOMAIN", host),
        ]
    }

    static func shellQuoted(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
