import Foundation
import Testing

@testable import BhattiCLI

@Suite("Argument parsing")
struct ArgumentsTests {
    let specs =
        CLIContext.globalOptions + [
            OptionSpec("--name", kind: .value), OptionSpec("--label", kind: .repeated), OptionSpec("--keep-hot", kind: .flag),
        ]

    @Test("values, repeated values, flags, positionals and everything after --")
    func mixed() throws {
        let p = try parseArguments(
            ["dev", "--name=x", "--label", "a=1", "--label", "b=2", "--keep-hot", "-y", "--", "ls", "-la"], specs: specs)
        #expect(p.positionals == ["dev"])
        #expect(p.value("--name") == "x")
        #expect(try p.pairs("--label") == ["a": "1", "b": "2"])
        #expect(p.has("--keep-hot"))
        #expect(p.has("--yes"))
        #expect(p.rest == ["ls", "-la"])
    }

    @Test("usage errors name the problem", arguments: [["--bogus"], ["--name"], ["--keep-hot=1"]])
    func errors(args: [String]) {
        #expect(throws: UsageError.self) { try parseArguments(args, specs: specs) }
    }

    @Test("numbers and pairs are checked")
    func typed() throws {
        let p = try parseArguments(["--name", "abc", "--label", "novalue"], specs: specs)
        #expect(throws: UsageError.self) { try p.int("--name") }
        #expect(throws: UsageError.self) { try p.pairs("--label") }
    }

    @Test("flag beats environment beats config file beats the default socket")
    func precedence() throws {
        let none = try parseArguments([], specs: specs)
        let home = "/tmp/bhatti-home-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(CLIContext.resolve(none, environment: ["HOME": home]).url == CLIContext.defaultURL)
        try FileManager.default.createDirectory(atPath: home + "/.bhatti", withIntermediateDirectories: true)
        try Data("{\"url\":\"http://127.0.0.1:7\",\"token\":\"from-file\"}".utf8).write(
            to: URL(fileURLWithPath: home + "/.bhatti/config.json"))
        let file = CLIContext.resolve(none, environment: ["HOME": home])
        #expect(file.url == "http://127.0.0.1:7")
        #expect(file.token == "from-file")
        #expect(CLIContext.resolve(none, environment: ["HOME": home, "BHATTI_URL": "http://127.0.0.1:9"]).url == "http://127.0.0.1:9")
        let env = CLIContext.resolve(none, environment: ["HOME": "/nonexistent", "BHATTI_URL": "http://127.0.0.1:9", "BHATTI_TOKEN": "t"])
        #expect(env.url == "http://127.0.0.1:9")
        #expect(env.token == "t")
        let flag = try parseArguments(["--url", "unix:///x.sock", "--token", "f"], specs: specs)
        let both = CLIContext.resolve(flag, environment: ["BHATTI_URL": "http://127.0.0.1:9", "BHATTI_TOKEN": "t"])
        #expect(both.url == "unix:///x.sock")
        #expect(both.token == "f")
    }

    @Test("the command word skips global options and their values")
    func commandWord() {
        #expect(BhattiCommand.commandWord(["--url", "u", "--json", "list"]).0 == "list")
        #expect(BhattiCommand.commandWord(["--json"]).0 == nil)
    }

    @Test("exit codes: usage 2, unreachable 3, server 1; unknown command is a usage error")
    func exitCodes() async {
        #expect(CLIError.usage("x", usage: "y").exitCode == 2)
        #expect(CLIError.unreachable("x").exitCode == 3)
        #expect(CLIError.server(status: 404, code: "not_found", message: "x").exitCode == 1)
        #expect(await BhattiCommand.main(["frobnicate"], environment: [:]) == 2)
        #expect(await BhattiCommand.main(["list", "--url", "unix:///tmp/bh-nothing-here.sock"], environment: [:]) == 3)
        #expect(
            await BhattiCommand.main(["create", "--name", "x", "--disk", "lots"], environment: [:]) == 2, "a non-number is a usage error")
        #expect(await BhattiCommand.main(["unpublish", "x"], environment: [:]) == 2, "a missing -p is a usage error")
    }
}

@Suite("exec passes its command through, as docker exec does")
struct ExecArgumentsTests {
    func parse(_ args: [String]) throws -> ParsedArguments {
        try parseArguments(args, specs: CLIContext.globalOptions + ExecCommand.command.options, restAfter: ExecCommand.command.restAfter)
    }

    @Test(
        "the command and its flags need no --",
        arguments: [
            (["dev", "ls", "-la"], ["ls", "-la"]),
            (["dev", "--", "ls", "-la"], ["ls", "-la"]),
            (["dev", "sh", "-c", "echo $0", "--", "x"], ["sh", "-c", "echo $0", "--", "x"]),
            (["dev", "printf", "%s|", "-e", "A=2", "--cwd", "/x", "--help"], ["printf", "%s|", "-e", "A=2", "--cwd", "/x", "--help"]),
        ])
    func passThrough(args: [String], command: [String]) throws {
        let p = try parse(args)
        #expect(p.positionals == ["dev"])
        #expect(p.rest == command)
        #expect(p.all("--env").isEmpty, "a flag after the command is the command's")
    }

    @Test("exec's own flags go before the sandbox or before the command")
    func ownFlags() throws {
        let before = try parse(["-e", "A=1", "--cwd", "/tmp", "dev", "env"])
        #expect(try before.pairs("--env") == ["A": "1"])
        #expect(before.value("--cwd") == "/tmp" && before.rest == ["env"])
        let between = try parse(["dev", "-i", "--env", "B=2", "--", "cat", "-n"])
        #expect(try between.pairs("--env") == ["B": "2"])
        #expect(between.has("--stdin") && between.rest == ["cat", "-n"])
        let global = try parse(["--json", "dev", "true"])
        #expect(global.has("--json") && global.rest == ["true"])
        #expect(throws: UsageError.self) { try parse(["dev", "--bogus", "ls"]) }
    }

    @Test("-h after the command is the command's, not a request for exec's help")
    func helpAfterCommand() async {
        let nowhere = "unix:///tmp/bh-nothing-here-\(UInt32.random(in: 0...UInt32.max)).sock"
        // Help would exit 0 without a daemon; passing it through tries the daemon, which is not there (3).
        #expect(await BhattiCommand.main(["exec", "--url", nowhere, "dev", "ls", "--help"], environment: [:]) == 3)
        #expect(await BhattiCommand.main(["exec", "--url", nowhere, "dev", "-h"], environment: [:]) == 0)
        #expect(await BhattiCommand.main(["exec", "dev"], environment: [:]) == 2, "no command is a usage error")
        // A mistake in exec's own options is reported, not hidden behind help for the command's -h.
        #expect(await BhattiCommand.main(["exec", "--bogus", "dev", "ls", "-h"], environment: [:]) == 2)
        // Other commands still show their help beside a mistake.
        #expect(await BhattiCommand.main(["create", "--bogus", "-h"], environment: [:]) == 0)
    }
}
