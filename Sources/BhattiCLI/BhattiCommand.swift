import BhattiAPI
public import Foundation
import Glibc

/// The `bhatti` command line: finds the command, parses its options, runs it, maps errors to exit codes.
public enum BhattiCommand {
    /// What a command does with its parsed arguments; returns the exit code.
    public typealias Run = @Sendable (ParsedArguments, CLIContext) async throws -> Int32

    /// One command: its options, its usage line and what it does.
    struct Command: Sendable {
        var names: [String]
        var usage: String
        var summary: String
        var options: [OptionSpec]
        /// Positionals before the pass-through word (exec: 1, the sandbox): that word and all after it
        /// reach the command untouched, flags included.
        var restAfter: Int? = nil
        /// Its subcommands (`snapshot create|list|…`), which completion offers after the command word.
        var verbs: [String] = []
        var run: Run
    }

    static let commands: [Command] = [
        HostCommands.serve, SandboxCommands.create, SandboxCommands.list, SandboxCommands.inspect,
        ExecCommand.command, ShellCommand.command, FileCommand.command, FileCommand.ps, SandboxCommands.edit, SandboxCommands.destroy,
        ThermalCommands.pause, ThermalCommands.stop, ThermalCommands.start,
        SnapshotCommand.command, TenancyCommands.user, TenancyCommands.secret, PublishCommands.publish, PublishCommands.unpublish,
        HelpCommands.setup, HelpCommands.completion, ImageCommand.command, E2BCommand.command, versionCommand,
    ]

    /// Contract commands not built yet: refused with a clear message, never faked.
    static let notYetAvailable: Set<String> = []

    static let versionCommand = Command(
        names: ["version"], usage: "bhatti version", summary: "Print the version (also `bhatti --version` or `-v`).", options: []
    ) { _, ctx in
        if ctx.json { ctx.printJSON(["version": APIVersion.server]) } else { print("bhatti \(APIVersion.server)") }
        return 0
    }

    /// Runs the CLI; returns the process exit code. `local` runs the commands that work on this host
    /// by name, or by name and first word (`serve`, `image build`): the executable passes `BhattiHost`'s.
    public static func main(
        _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment, local: [String: Run] = [:]
    ) async -> Int32 {
        let (name, index) = commandWord(arguments)
        guard let name else {
            if arguments.contains(where: { $0 == "--version" || $0 == "-v" }) {
                print("bhatti \(APIVersion.server)")
                return 0
            }
            printUsage()
            return arguments.contains(where: { $0 == "--help" || $0 == "-h" }) ? 0 : 2
        }
        if name == "help" {
            let topic = arguments.dropFirst(index + 1).first
            if topic == "--markdown" {
                print(HelpCommands.markdown())
                return 0
            }
            guard let topic else {
                printUsage()
                return 0
            }
            guard let command = commands.first(where: { $0.names.contains(topic) }) else {
                return report(.usage("unknown command \"\(topic)\"", usage: "bhatti help"))
            }
            print(HelpCommands.help(for: command))
            return 0
        }
        var remaining = arguments
        remaining.remove(at: index)
        guard let command = commands.first(where: { $0.names.contains(name) }) else {
            if notYetAvailable.contains(name) {
                return report(.failure("`bhatti \(name)` is not available in this version yet"))
            }
            return report(.usage("unknown command \"\(name)\"", usage: "bhatti help"))
        }
        // -h before `--` (or before exec's command) asks for help, even beside a mistake in the rest.
        // Parsed once; when that fails, a -h counts only for commands without a trailing command of
        // their own, whose arguments (`bhatti exec --bogus dev ls -h`) are not bhatti's to read.
        let specs = [helpOption] + CLIContext.globalOptions + command.options
        let parsed: ParsedArguments
        do { parsed = try parseArguments(remaining, specs: specs, restAfter: command.restAfter) } catch {
            let beforeRest = remaining.prefix(while: { $0 != "--" })
            if command.restAfter == nil, beforeRest.contains(where: { $0 == "-h" || $0 == "--help" }) {
                print(HelpCommands.help(for: command))
                return 0
            }
            return report(.usage(error.message, usage: command.usage))
        }
        if parsed.has("--help") {
            print(HelpCommands.help(for: command))
            return 0
        }
        do {
            let context = CLIContext.resolve(parsed, environment: environment)
            let verb = parsed.positionals.first.map { command.names[0] + " " + $0 }
            return try await (verb.flatMap { local[$0] } ?? local[command.names[0]] ?? command.run)(parsed, context)
        } catch let error as UsageError {
            return report(.usage(error.message, usage: command.usage))
        } catch let error as CLIError {
            return report(error)
        } catch {
            return report(.failure(String(describing: error)))
        }
    }

    /// `-h`/`--help` after the command word: that command's help (not after `--` or exec's command).
    static let helpOption = OptionSpec("--help", "-h", kind: .flag)

    /// The first word that is not a global option or its value.
    static func commandWord(_ args: [String]) -> (String?, Int) {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--url" || a == "--token" {
                i += 2
                continue
            }
            if a.hasPrefix("-") {
                i += 1
                continue
            }
            return (a, i)
        }
        return (nil, 0)
    }

    static func report(_ error: CLIError) -> Int32 {
        switch error {
        case .usage(let message, let usage): printError("error: \(message)\nusage: \(usage)")
        case .server(_, let code, let message):
            if let hint = hint(code: code, message: message) {
                printError("error: \(message) — \(hint)")
            } else {
                printError("error: \(message) (\(code))")
            }
        case .unreachable(let message), .failure(let message): printError("error: \(message)")
        }
        return error.exitCode
    }

    /// What to do next, for the errors people meet most.
    static func hint(code: String, message: String) -> String? {
        switch code {
        case "not_found":
            for (noun, list) in [
                ("sandbox", "bhatti list"), ("snapshot", "bhatti snapshot list"), ("secret", "bhatti secret list"),
                ("user", "bhatti user list"),
            ]
            where message.hasPrefix(noun + " ") {
                return "see \(list)"
            }
            return nil
        case "unauthenticated": return "check --token, BHATTI_TOKEN or ~/.bhatti/config.json (bhatti setup writes it)"
        case "permission_denied": return "this needs the admin's key"
        case "invalid_state" where message.contains(" is error") || message.contains(" is in error"):
            return
                "`bhatti inspect` shows why it is in error; `bhatti start` boots it again from its disk (files kept, memory lost), or `bhatti destroy` it"
        case "rate_limited": return "too many requests for your key; wait and retry"
        default: return nil
        }
    }

    /// A summary's first sentence, for the command list.
    static func oneLine(_ summary: String) -> String {
        guard let end = summary.range(of: #"\. [A-Z]"#, options: .regularExpression) else { return summary }
        return String(summary[..<end.lowerBound]) + "."
    }

    static func printUsage() {
        var lines = ["usage: bhatti [--url URL] [--token TOKEN] [--json] [-y] COMMAND …", "", "commands:"]
        let width = commands.map { $0.names[0].count }.max() ?? 0
        for c in commands { lines.append("  " + c.names[0].padding(toLength: width + 2, withPad: " ", startingAt: 0) + oneLine(c.summary)) }
        lines += ["", "`bhatti help COMMAND` (or `bhatti COMMAND -h`) shows its usage and options; `bhatti --version` the version."]
        if !notYetAvailable.isEmpty {
            lines.append("")
            lines.append("not yet available: \(notYetAvailable.sorted().joined(separator: ", "))")
        }
        print(lines.joined(separator: "\n"))
    }
}

/// Writes a line to stderr.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes all of `bytes` to `fd` (stdout or stderr), unbuffered: command output must appear as it arrives.
func writeAll(to fd: Int32, _ bytes: [UInt8]) {
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        done += n
    }
}
