import BhattiSystem
import Foundation
import Testing

/// The real `bhatti` executable against a real daemon: exit codes and output as a script sees them.
@Suite("CLI end to end", .serialized, .timeLimit(.minutes(5)))
struct CLITests {
    static var binary: String { FileManager.default.currentDirectoryPath + "/.build/debug/bhatti" }

    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the CLI on a dedicated thread (it blocks until the process exits).
    func bhatti(_ args: [String], daemon: TestDaemon, stdin: String? = nil) async throws -> Run {
        let socket = daemon.daemon.socketPath, key = daemon.daemon.adminKey
        return try await Blocking.run { try CLITests.run(args, socket: socket, key: key, stdin: stdin) }
    }

    static func run(_ args: [String], socket: String, key: String, stdin: String?) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["--url", "unix://" + socket, "--token", key] + args
        p.environment = ["HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    @Test("create, exec (exit code passes through), list, inspect, destroy")
    func script() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: CLITests.binary), "build the bhatti product first")
        try await withDaemon { d in
            let created = try await bhatti(["create", "--name", "cli", "--cpus", "1", "--memory", "512"], daemon: d)
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("sandbox/cli created"))
            let again = try await bhatti(["create", "--name", "cli"], daemon: d)
            #expect(again.status == 0)
            #expect(again.stdout.contains("unchanged"))

            let uname = try await bhatti(["exec", "cli", "--", "uname", "-a"], daemon: d)
            #expect(uname.status == 0)
            #expect(uname.stdout.hasPrefix("Linux cli "))
            let code = try await bhatti(["exec", "cli", "--", "sh", "-c", "echo to-err >&2; exit 42"], daemon: d)
            #expect(code.status == 42)
            #expect(code.stderr == "to-err\n")
            let piped = try await bhatti(["exec", "cli", "-i", "--", "wc", "-c"], daemon: d, stdin: "12345")
            #expect(piped.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "5")
            let notFound = try await bhatti(["exec", "cli", "--", "nope-not-here"], daemon: d)
            #expect(notFound.status == 127)
            #expect(notFound.stderr.contains("command not found"))

            let list = try await bhatti(["list"], daemon: d)
            #expect(list.stdout.contains("NAME"))
            #expect(list.stdout.contains("cli"))
            #expect(list.stdout.contains("hot"))
            let json = try await bhatti(["--json", "inspect", "cli"], daemon: d)
            #expect(json.stdout.contains("\"state\" : \"hot\""))

            // edit: rename, pin, label; the list filter sees the label; a bad label is refused.
            let edited = try await bhatti(["edit", "cli", "--name", "cli2", "--keep-hot", "--label", "team=a"], daemon: d)
            #expect(edited.status == 0, "\(edited.stderr)")
            #expect(try await bhatti(["list", "--label", "team=a"], daemon: d).stdout.contains("cli2"))
            #expect(try await bhatti(["list", "--label", "team=b"], daemon: d).stdout.contains("cli2") == false)
            #expect(try await bhatti(["edit", "cli2", "--label", "bad key=x"], daemon: d).status == 1)
            #expect(try await bhatti(["--json", "inspect", "cli2"], daemon: d).stdout.contains("\"keep_hot\" : true"))
            #expect(try await bhatti(["exec", "cli2", "--", "true"], daemon: d).status == 0)
            _ = try await bhatti(["edit", "cli2", "--name", "cli", "--allow-cold", "--label-delete", "team"], daemon: d)

            let noYes = try await bhatti(["destroy", "cli"], daemon: d)
            #expect(noYes.status == 2)
            let destroyed = try await bhatti(["destroy", "cli", "--yes"], daemon: d)
            #expect(destroyed.status == 0)
            let missing = try await bhatti(["exec", "cli", "--", "true"], daemon: d)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("not found"))
        }
    }

    @Test("pause, stop, start, fork and snapshots from the command line")
    func thermalAndSnapshots() async throws {
        try await withDaemon { d in
            #expect(try await bhatti(["create", "--name", "cli", "--memory", "512"], daemon: d).status == 0)
            #expect(try await bhatti(["pause", "cli"], daemon: d).stdout == "cli warm\n")
            #expect(try await bhatti(["stop", "cli"], daemon: d).stdout == "cli cold\n")
            #expect(try await bhatti(["start", "cli"], daemon: d).stdout == "cli hot\n")
            let stopped = try await bhatti(["--json", "stop", "cli"], daemon: d)
            #expect(stopped.stdout.contains("\"state\" : \"cold\""), "\(stopped.stdout)")
            // exec wakes it.
            #expect(try await bhatti(["exec", "cli", "--", "sh", "-c", "echo s > /workspace/s"], daemon: d).status == 0)
            let fork = try await bhatti(["create", "--name", "cli2", "--from", "cli"], daemon: d)
            #expect(fork.status == 0, "\(fork.stderr)")
            #expect(try await bhatti(["exec", "cli2", "--", "cat", "/workspace/s"], daemon: d).stdout == "s\n")
            let snap = try await bhatti(["snapshot", "create", "cli", "--name", "base"], daemon: d)
            #expect(snap.status == 0, "\(snap.stderr)")
            #expect(try await bhatti(["snapshot", "list"], daemon: d).stdout.contains("base"))
            let restored = try await bhatti(["snapshot", "restore", "base", "--name", "cli3"], daemon: d)
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(try await bhatti(["exec", "cli3", "--", "cat", "/workspace/s"], daemon: d).stdout == "s\n")
            #expect(try await bhatti(["snapshot", "delete", "base"], daemon: d).status == 0)
            let missing = try await bhatti(["snapshot", "restore", "base"], daemon: d)
            #expect(missing.status == 1)
            #expect(missing.stderr.hasPrefix("error: "))
            #expect(try await bhatti(["stop"], daemon: d).status == 2)
            #expect(try await bhatti(["snapshot", "frobnicate"], daemon: d).status == 2)
        }
    }

    @Test("usage errors exit 2; an unreachable daemon exits 3")
    func exitCodes() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["--url", "unix:///tmp/bhatti-nothing.sock", "list"]
        p.standardError = Pipe()
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        let q = Process()
        q.executableURL = URL(fileURLWithPath: CLITests.binary)
        q.arguments = ["create", "--cpus", "many"]
        q.standardError = Pipe()
        try q.run()
        q.waitUntilExit()
        #expect(q.terminationStatus == 2)
    }
}
