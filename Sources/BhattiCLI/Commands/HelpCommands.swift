import BhattiAPI
import BhattiHTTP
import Foundation

/// `bhatti help [COMMAND|--markdown]`, `bhatti completion bash|zsh|fish`, `bhatti setup`.
enum HelpCommands {
    /// One command's help: usage, what it does, its options.
    static func help(for command: BhattiCommand.Command) -> String {
        var lines = ["usage: \(command.usage)", "", command.summary]
        let options = command.options.map { o in
            (
                o.names.joined(separator: ", ") + (o.kind == .flag ? "" : " " + placeholder(o, usage: command.usage)),
                o.help + (o.kind == .repeated ? " (repeatable)" : "")
            )
        }
        let width = options.map(\.0.count).max() ?? 0
        if !options.isEmpty {
            lines += ["", "options:"] + options.map { "  " + $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }
        }
        lines += ["", "global options: --url URL, --token TOKEN, --json, -y/--yes"]
        return lines.joined(separator: "\n")
    }

    /// An option's value as its usage line writes it (`--memory MB` → `MB`), or `VALUE`.
    static func placeholder(_ option: OptionSpec, usage: String) -> String {
        let words = usage.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]…")) }
        for (i, word) in words.enumerated().dropLast() where option.names.contains(word) {
            let next = words[i + 1]
            if !next.isEmpty, !next.hasPrefix("-") { return next }
        }
        return "VALUE"
    }

    /// The CLI reference table for docs/cli.md, from the parser's own command list (a test keeps the
    /// document equal to it, so the reference cannot drift).
    static func markdown() -> String {
        var lines = ["| command | what it does |", "|---|---|"]
        for c in BhattiCommand.commands {
            let usage = c.usage.replacingOccurrences(of: "|", with: "\\|")
            let names = c.names.count > 1 ? " (also `" + c.names.dropFirst().joined(separator: "`, `") + "`)" : ""
            lines.append("| `\(usage)`\(names) | \(c.summary.replacingOccurrences(of: "|", with: "\\|")) |")
        }
        return lines.joined(separator: "\n")
    }

    static let completion = BhattiCommand.Command(
        names: ["completion"], usage: "bhatti completion bash|zsh|fish",
        summary: "Print a shell completion script (e.g. `bhatti completion bash > /etc/bash_completion.d/bhatti`).", options: [],
        verbs: ["bash", "zsh", "fish"]
    ) { args, _ in
        guard args.positionals.count == 1, let shell = args.positionals.first else {
            throw UsageError("completion takes bash, zsh or fish")
        }
        let commands = BhattiCommand.commands.flatMap(\.names) + ["help"]
        switch shell {
        case "bash": print(bash(commands))
        case "zsh": print("autoload -U +X bashcompinit && bashcompinit\n" + bash(commands))
        case "fish": print(fish())
        default: throw UsageError("unknown shell \"\(shell)\": use bash, zsh or fish")
        }
        return 0
    }

    /// Commands, then each command's options; sandbox names come from `bhatti list --json` when the
    /// daemon answers.
    private static func bash(_ commands: [String]) -> String {
        var cases = ""
        for c in BhattiCommand.commands {
            let options = (c.options.flatMap(\.names) + ["--json", "--yes", "--url", "--token", "-h"]).joined(separator: " ")
            cases += "        \(c.names.joined(separator: "|"))) opts=\"\(options)\" verbs=\"\(c.verbs.joined(separator: " "))\" ;;\n"
        }
        return """
            _bhatti() {
                local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} opts verbs
                if [ "$COMP_CWORD" -eq 1 ]; then
                    COMPREPLY=($(compgen -W "\(commands.joined(separator: " "))" -- "$cur")); return
                fi
                case "$cmd" in
            \(cases)        *) opts="" verbs="" ;;
                esac
                if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); return; fi
                if [ "$COMP_CWORD" -eq 2 ] && [ -n "$verbs" ]; then COMPREPLY=($(compgen -W "$verbs" -- "$cur")); return; fi
                local names=$(bhatti list --json 2>/dev/null | sed -n 's/.*"name" : "\\([^"]*\\)".*/\\1/p')
                COMPREPLY=($(compgen -W "$names" -- "$cur"))
            }
            complete -F _bhatti bhatti
            """
    }

    private static func fish() -> String {
        var lines = ["complete -c bhatti -f"]
        for c in BhattiCommand.commands {
            lines.append(
                "complete -c bhatti -n '__fish_use_subcommand' -a '\(c.names[0])' -d '\(c.summary.prefix(60).replacingOccurrences(of: "'", with: ""))'"
            )
            if !c.verbs.isEmpty {
                let verbs = c.verbs.joined(separator: " ")
                lines.append(
                    "complete -c bhatti -n '__fish_seen_subcommand_from \(c.names[0]); and not __fish_seen_subcommand_from \(verbs)' -a '\(verbs)'"
                )
            }
            for option in c.options {
                for name in option.names where name.hasPrefix("--") {
                    lines.append(
                        "complete -c bhatti -n '__fish_seen_subcommand_from \(c.names.joined(separator: " "))' -l '\(name.dropFirst(2))'")
                }
            }
        }
        lines.append(
            "complete -c bhatti -n 'not __fish_use_subcommand' -a '(bhatti list --json 2>/dev/null | string match -r -g \"\\\"name\\\" : \\\"([^\\\"]+)\\\"\")'"
        )
        return lines.joined(separator: "\n")
    }

    static let setup = BhattiCommand.Command(
        names: ["setup"], usage: "bhatti setup --url URL --token TOKEN",
        summary: "Check a daemon's address and key, then write them to ~/.bhatti/config.json (0600) for later commands.",
        options: []
    ) { args, ctx in
        guard args.positionals.isEmpty else { throw UsageError("setup takes --url and --token") }
        guard args.value("--url") != nil, let token = args.value("--token") else {
            throw UsageError("setup needs --url and --token")
        }
        // Reachable, then the key works: nothing is written for an address or key that does not.
        _ = try ctx.request(.health)
        do { _ = try ctx.request(.listSandboxes) } catch CLIError.server(_, "unauthenticated", let message) {
            // Not the usual hint ("bhatti setup writes it"): this is setup, and the key given is the problem.
            throw CLIError.failure("\(message): \(ctx.url) does not accept this --token; nothing was written")
        }
        guard let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty else { throw CLIError.failure("HOME is not set") }
        let path: String
        do { path = try ClientConfig.write(url: ctx.url, key: token, home: home) } catch {
            throw CLIError.failure("cannot write \(home)/.bhatti/config.json: \(error)")
        }
        if ctx.json {
            ctx.printJSON(["config": path, "url": ctx.url])
        } else {
            print("wrote \(path): \(ctx.url) answers and the key works")
        }
        return 0
    }
}
