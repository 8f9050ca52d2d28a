import BhattiAPI
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiSystem
import Foundation
import Testing

/// The real `bhatti` executable against a real daemon: exit codes and output as a script sees them.
@Suite("CLI end to end", .serialized, .timeLimit(.minutes(10)))
struct CLITests {
    static var binary: String { FileManager.default.currentDirectoryPath + "/.build/debug/bhatti" }

    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the CLI on a dedicated thread (it blocks until the process exits).
    func bhatti(_ args: [String], daemon: TestDaemon, stdin: String? = nil, key: String? = nil) async throws -> Run {
        let socket = daemon.daemon.socketPath
        let key = key ?? daemon.daemon.adminKey
        return try await Blocking.run { try CLITests.run(args, socket: socket, key: key, stdin: stdin) }
    }

    static func run(_ args: [String], socket: String, key: String, stdin: String?) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["--url", "unix://" + socket, "--token", key] + args
        p.environment = ["HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
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

    @Test(
        "user and secret commands: a key printed once works, rotation stops the old one; create gives env, secrets, files and init to the guest"
    )
    func tenancy() async throws {
        try await withDaemon { d in
            let made = try await bhatti(["user", "create", "--name", "carol", "--max-sandboxes", "2", "--disk-iops", "300"], daemon: d)
            #expect(made.status == 0, "\(made.stderr)")
            let key = try #require(made.stdout.split(separator: "\n").first { $0.hasPrefix("API key: ") }.map { String($0.dropFirst(9)) })
            #expect(key.hasPrefix("bht_") && key.count == 68)
            #expect(made.stderr.contains("shown once"))
            let users = try await bhatti(["--json", "user", "list"], daemon: d)
            #expect(users.stdout.contains("\"name\" : \"carol\"") && !users.stdout.contains(key))
            #expect(users.stdout.contains("\"disk_iops\" : 300"), "user create's I/O flags reach POST /v1/users: \(users.stdout)")
            #expect(try await bhatti(["user", "list"], daemon: d, key: key).status == 1, "users are the admin's business")
            let limited = try await bhatti(
                ["--json", "user", "limits", "carol", "--disk-bytes-per-s", "8388608", "--net-mbit-per-s", "50"], daemon: d)
            #expect(
                limited.status == 0 && limited.stdout.contains("\"disk_bytes_per_s\" : 8388608")
                    && limited.stdout.contains("\"net_mbit_per_s\" : 50"), "\(limited.stdout)\(limited.stderr)")
            #expect(try await bhatti(["user", "limits", "carol", "--default"], daemon: d).stdout.contains("default I/O limits"))
            let shown = try await bhatti(["user", "limits", "carol"], daemon: d)
            #expect(
                shown.status == 0 && shown.stdout == "user/carol: the daemon's default I/O limits\n",
                "without flags it shows them: \(shown)")
            #expect(
                try await bhatti(["user", "limits", "carol", "--default", "--disk-iops", "1"], daemon: d).status == 2, "flags or --default")

            #expect(try await bhatti(["secret", "set", "API_TOKEN", "-"], daemon: d, stdin: "tok-123\n", key: key).status == 0)
            let secrets = try await bhatti(["secret", "list"], daemon: d, key: key)
            #expect(secrets.stdout.contains("API_TOKEN") && !secrets.stdout.contains("tok-123"))
            #expect(try await bhatti(["secret", "list"], daemon: d).stdout.contains("API_TOKEN") == false, "secrets are per user")

            let local = NSTemporaryDirectory() + "bhatti-cli-file-\(UInt32.random(in: 0...UInt32.max))"
            try "hello from the host\n".write(toFile: local, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: local) }
            let created = try await bhatti(
                [
                    "create", "--name", "box", "--memory", "512", "--env", "GREETING=hi there", "--secret", "API_TOKEN",
                    "--file", "\(local):/workspace/note.txt", "--init", "echo init-ran > /tmp/init.out",
                ], daemon: d, key: key)
            #expect(created.status == 0, "\(created.stderr)")
            let env = try await bhatti(
                ["exec", "box", "--", "sh", "-c", "printf '%s/%s' \"$GREETING\" \"$API_TOKEN\""], daemon: d, key: key)
            #expect(env.stdout == "hi there/tok-123")
            #expect(
                try await bhatti(["exec", "box", "--", "cat", "/workspace/note.txt"], daemon: d, key: key).stdout == "hello from the host\n"
            )
            var initOut = ""
            _ = try await eventually {
                initOut = try await bhatti(["exec", "box", "--", "sh", "-c", "cat /tmp/init.out 2>/dev/null"], daemon: d, key: key).stdout
                return !initOut.isEmpty
            }
            #expect(initOut == "init-ran\n")
            #expect(try await bhatti(["list"], daemon: d).stdout.contains("box") == false, "the admin does not see carol's sandbox")
            let published = try await bhatti(["publish", "box", "-p", "8080"], daemon: d, key: key)
            #expect(
                published.status == 0 && published.stdout.contains("box-8080") && published.stdout.contains("--proxy-listen"),
                "\(published.stdout)")
            #expect(try await bhatti(["publish", "box"], daemon: d, key: key).stdout.contains("8080"))
            #expect(
                try await bhatti(["--json", "publish", "box", "-p", "8080"], daemon: d, key: key).stdout.contains(
                    "\"alias\" : \"box-8080\""))
            #expect(try await bhatti(["unpublish", "box", "-p", "8080"], daemon: d, key: key).status == 0)
            #expect(try await bhatti(["unpublish", "box", "-p", "8080"], daemon: d, key: key).status == 1)

            let rotated = try await bhatti(["user", "rotate-key", "carol"], daemon: d)
            #expect(rotated.stdout.contains("API key: bht_"))
            #expect(try await bhatti(["list"], daemon: d, key: key).status == 1)
            let refused = try await bhatti(["user", "delete", "carol"], daemon: d)
            #expect(refused.status == 1 && refused.stderr.contains("--force"), "\(refused.stderr)")
            let noYes = try await bhatti(["user", "delete", "carol", "--force"], daemon: d)
            #expect(noYes.status == 2, "a forced delete needs --yes without a terminal")
            #expect(try await bhatti(["user", "delete", "carol", "--force", "--yes"], daemon: d).status == 0)
            #expect(try await bhatti(["user", "list"], daemon: d).stdout.contains("carol") == false)
        }
    }

    @Test("setup checks the address and key, then writes ~/.bhatti/config.json (0600) that later commands use")
    func setup() async throws {
        try await withDaemon { d in
            let home = NSTemporaryDirectory() + "bhatti-home-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: home) }
            let url = "unix://" + d.daemon.socketPath
            func cli(_ args: [String]) async throws -> Run {
                try await Blocking.run {
                    let p = Process()
                    p.executableURL = URL(fileURLWithPath: CLITests.binary)
                    p.arguments = args
                    p.environment = ["HOME": home, "PATH": "/usr/bin:/bin"]
                    let out = Pipe()
                    let err = Pipe()
                    p.standardOutput = out
                    p.standardError = err
                    try p.run()
                    let o = out.fileHandleForReading.readDataToEndOfFile()
                    let e = err.fileHandleForReading.readDataToEndOfFile()
                    p.waitUntilExit()
                    return Run(
                        status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
                }
            }
            let badKey = try await cli(["setup", "--url", url, "--token", "bht_" + String(repeating: "0", count: 64)])
            // Not "bhatti setup writes it" while running setup: the key given is what is wrong.
            #expect(
                badKey.status == 1 && badKey.stderr.contains("does not accept this --token") && !badKey.stderr.contains("setup writes"),
                "\(badKey.stderr)")
            #expect(!FileManager.default.fileExists(atPath: home + "/.bhatti/config.json"), "nothing written for a key that does not work")
            #expect(try await cli(["setup", "--url", "unix:///tmp/bhatti-nothing.sock", "--token", "x"]).status == 3)
            #expect(try await cli(["setup", "--url", url]).status == 2)
            let ok = try await cli(["setup", "--url", url, "--token", d.daemon.adminKey])
            #expect(ok.status == 0, "\(ok.stderr)")
            let attributes = try FileManager.default.attributesOfItem(atPath: home + "/.bhatti/config.json")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let list = try await cli(["--json", "list"])
            #expect(list.status == 0 && list.stdout.hasPrefix("["), "\(list.stderr)")
            let missing = try await cli(["inspect", "ghost"])
            #expect(missing.status == 1 && missing.stderr == "error: sandbox ghost not found — see bhatti list\n", "\(missing.stderr)")
        }
    }

    @Test("create, exec (exit code passes through), list, inspect, destroy")
    func script() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: CLITests.binary), "build the bhatti product first")
        try await withDaemon { d in
            let created = try await bhatti(["create", "--name", "cli", "--cpus", "1", "--memory", "512"], daemon: d)
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("sandbox/cli created"))
            #expect(created.stderr.isEmpty, "no progress display when not on a terminal: \(created.stderr)")
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

    @Test("docs walkthrough: exec takes its command without --; sizes, disk, urls, snapshot sources and errors read as documented")
    func walkthrough() async throws {
        try await withDaemon(configure: { $0.proxyListen = "127.0.0.1:0" }) { d in
            #expect(try await bhatti(["create", "--name", "dev", "--memory", "512"], daemon: d).status == 0)
            // exec as docker exec: everything after the command word is the command's, flags included.
            let la = try await bhatti(["exec", "dev", "ls", "-la", "/"], daemon: d)
            #expect(la.status == 0 && la.stdout.contains("total") && la.stdout.contains(" etc"), "\(la)")
            // The same listing (not the same bytes: directory times move between two runs).
            let dashed = try await bhatti(["exec", "dev", "--", "ls", "-la", "/"], daemon: d)
            let names = { (text: String) in text.split(separator: "\n").dropFirst().map { $0.split(separator: " ").last ?? "" } }
            #expect(dashed.status == 0 && names(dashed.stdout) == names(la.stdout), "-- keeps working: \(dashed)")
            let env = try await bhatti(["exec", "-e", "A=1", "dev", "env"], daemon: d)
            #expect(env.status == 0 && env.stdout.split(separator: "\n").contains("A=1"), "\(env)")
            let between = try await bhatti(["exec", "dev", "-e", "B=2", "sh", "-c", "echo $B"], daemon: d)
            #expect(between.stdout == "2\n", "exec's flags between the sandbox and the command: \(between)")
            let through = try await bhatti(["exec", "dev", "printf", "%s|", "-e", "A=2", "--cwd", "/x", "--", "-h"], daemon: d)
            #expect(through.stdout == "-e|A=2|--cwd|/x|--|-h|", "flags after the command reach it: \(through)")

            #expect(
                try await bhatti(["exec", "dev", "sh", "-c", "echo hi > /workspace/f.txt; chmod 640 /workspace/f.txt"], daemon: d).status
                    == 0)
            let ls = try await bhatti(["file", "ls", "dev", "/workspace"], daemon: d)
            #expect(ls.stdout.split(separator: "\n").contains("-rw-r-----           3  f.txt"), "ls -l's modes: \(ls.stdout)")
            let list = try await bhatti(["list"], daemon: d)
            #expect(list.stdout.contains("512 MiB") && list.stdout.contains("DISK"), "\(list.stdout)")
            let inspect = try await bhatti(["inspect", "dev"], daemon: d)
            #expect(inspect.stdout.contains("Memory:    512 MiB") && inspect.stdout.contains("Disk:      "), "\(inspect.stdout)")

            // A published port's URL is in every reply that returns the sandbox, not only GET.
            #expect(try await bhatti(["publish", "dev", "-p", "8080", "-a", "devweb"], daemon: d).status == 0)
            for args in [["create", "--name", "dev"], ["edit", "dev", "--label", "a=b"], ["start", "dev"]] {
                let reply = try await bhatti(["--json"] + args, daemon: d)
                #expect(reply.stdout.contains("devweb"), "\(args): \(reply.stdout)")
            }
            let unpublish = try await bhatti(["unpublish", "dev", "-p", "9999"], daemon: d)
            #expect(unpublish.status == 1 && unpublish.stderr.contains("port 9999 of sandbox dev is not published"), "\(unpublish.stderr)")

            #expect(try await bhatti(["snapshot", "create", "dev", "--name", "base"], daemon: d).status == 0)
            let snapshots = try await bhatti(["snapshot", "list"], daemon: d)
            let row = try #require(snapshots.stdout.split(separator: "\n").first { $0.hasPrefix("base ") })
            #expect(row.split(separator: " ", omittingEmptySubsequences: true)[1] == "dev", "SOURCE is the name: \(row)")
            #expect(row.contains("512 MiB"))

            // The event log takes the sandbox's name, as every other route does.
            let events = try await d.call("GET", "/v1/events?sandbox=dev")
            #expect(events.status == 200 && events.text.contains("sandbox.published"), "\(events.text)")
            _ = try await bhatti(["snapshot", "delete", "base", "--yes"], daemon: d)
            // Another user's `dev` makes the name ambiguous for the admin's event log: refused, not guessed.
            let made = try await bhatti(["user", "create", "--name", "erin"], daemon: d)
            let key = try #require(made.stdout.split(separator: "\n").first { $0.hasPrefix("API key: ") }.map { String($0.dropFirst(9)) })
            #expect(try await bhatti(["create", "--name", "dev", "--memory", "256"], daemon: d, key: key).status == 0)
            let ambiguous = try await d.call("GET", "/v1/events?sandbox=dev")
            #expect(ambiguous.status == 400 && ambiguous.text.contains("2 users have a sandbox named dev"), "\(ambiguous.text)")
            #expect(try await d.call("GET", "/v1/events?sandbox=dev&user=erin").text.contains("sandbox.created"))
            #expect(try await bhatti(["destroy", "dev", "--yes"], daemon: d, key: key).status == 0)

            // A sandbox in error: exec says what can still be done, and start does it.
            let dev = try await d.get("dev")
            kill(try #require(await d.daemon.engine.pid(of: dev.id)), SIGKILL)
            _ = try await d.waitFor("dev") { $0.state == "error" }
            let refused = try await bhatti(["exec", "dev", "true"], daemon: d)
            #expect(refused.status == 1 && refused.stderr.contains("`bhatti start` boots it again from its disk"), "\(refused.stderr)")
            let started = try await bhatti(["start", "dev"], daemon: d)
            #expect(started.status == 0, "\(started.stderr)")
            #expect(try await bhatti(["exec", "dev", "true"], daemon: d).status == 0)
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
            #expect(try await bhatti(["snapshot", "delete", "base"], daemon: d).status == 2, "no terminal and no --yes: refused")
            #expect(try await bhatti(["snapshot", "delete", "base", "--yes"], daemon: d).status == 0)
            let missing = try await bhatti(["snapshot", "restore", "base"], daemon: d)
            #expect(missing.status == 1)
            #expect(missing.stderr.hasPrefix("error: "))
            #expect(try await bhatti(["stop"], daemon: d).status == 2)
            #expect(try await bhatti(["snapshot", "frobnicate"], daemon: d).status == 2)
        }
    }

    @Test("on a terminal, a create shows a progress line (spinner, elapsed seconds) and erases it; with --json it does not")
    func progress() async throws {
        try await withDaemon { d in
            let socket = d.daemon.socketPath
            let key = d.daemon.adminKey
            func underPTY(_ args: String) async throws -> String {
                // script(1) gives the CLI a pseudo-terminal for stdin, stdout and stderr.
                let command = "\(CLITests.binary) --url unix://\(socket) --token \(key) \(args)"
                return try await Blocking.run { try runTool("/usr/bin/script", ["-qfec", command, "/dev/null"]) }
            }
            let shown = try await underPTY("create --name tty --memory 256")
            #expect(shown.contains("creating sandbox tty") && shown.contains("s\r\u{1B}[2K"), "\(shown.debugDescription)")
            #expect(shown.contains("sandbox/tty created"))
            let json = try await underPTY("--json create --name tty2 --memory 256")
            #expect(!json.contains("creating sandbox") && json.contains("\"name\" : \"tty2\""), "\(json.debugDescription)")
        }
    }

    @Test("image build in a script prints one result line; its steps only with --verbose")
    func quietImageBuild() async throws {
        // The test image is built already (make test builds it first): the run only checks it is up to date.
        let root = FileManager.default.currentDirectoryPath
        let lohar = ProcessInfo.processInfo.environment["BHATTI_TEST_LOHAR"] ?? root + "/.build/static/release/lohar"
        let args = ["image", "build", "--out", TestDaemon.imageDirectory, "--lohar", lohar, "--init-source", root + "/guest/init.c"]
        let quiet = try await Blocking.run { try CLITests.run(args, socket: "/nonexistent", key: "", stdin: nil) }
        #expect(quiet.status == 0 && quiet.stderr.isEmpty && quiet.stdout == "image ready in \(TestDaemon.imageDirectory)\n", "\(quiet)")
        let verbose = try await Blocking.run { try CLITests.run(args + ["--verbose"], socket: "/nonexistent", key: "", stdin: nil) }
        #expect(verbose.status == 0 && verbose.stderr.contains("rootfs") && verbose.stdout.isEmpty, "\(verbose)")
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
