import BhattiAPI
import BhattiCore
import BhattiDaemon
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation
import Synchronization
import Testing

/// What E2B's envd needs of a guest, through the daemon's own way to it (`SandboxService.withGuest`)
/// on a booted VM: commands as another user, directories made, files moved and removed, and
/// directory watches.
@Suite("Guest users, file operations and watches in a real VM", .serialized, .timeLimit(.minutes(10)))
struct GuestOperationsInVMTests {
    /// A command's stdout and stderr, collected as they come.
    final class Output: Sendable {
        private let text = Mutex("")
        func add(_ event: ExecEvent) {
            switch event {
            case .stdout(let b), .stderr(let b): text.withLock { $0 += String(decoding: b, as: UTF8.self) }
            case .exit: break
            }
        }
        var value: String { text.withLock { $0 } }
    }

    /// The events of a watch, collected on a task of its own (cancelled when dropped).
    final class Events: Sendable {
        /// Apart from `self`, so the collecting task does not keep it alive.
        private final class Seen: Sendable { let events = Mutex<[GuestWatchEvent]>([]) }
        private let seen = Seen()
        private let task: Task<Void, Never>

        init(_ watch: any GuestWatch) {
            let seen = self.seen
            task = Task {
                do { for try await event in watch.events { seen.events.withLock { $0.append(event) } } } catch {}
            }
        }

        deinit { task.cancel() }

        var all: [GuestWatchEvent] { seen.events.withLock { $0 } }

        /// Waits until `expected` has been seen in this order (others may come between); the deadline
        /// only turns a hang into a failure.
        func waitFor(_ expected: [(GuestWatchEvent.Kind, String)]) async throws -> Bool {
            try await eventually(deadline: .seconds(120)) {
                var rest = expected[...]
                for event in self.all where rest.first.map({ $0.0 == event.kind && $0.1 == event.name }) == true {
                    rest = rest.dropFirst()
                }
                return rest.isEmpty
            }
        }
    }

    /// Runs `script` under `sh -c` in the guest (as `user`, or the sandbox's); its exit code and output.
    static func run(_ guest: any SandboxGuest, _ script: String, user: String? = nil) async throws -> (Int32, String) {
        let output = Output()
        let code = try await guest.exec(GuestCommand(argv: ["sh", "-c", script], user: user), stdin: nil, timeout: nil) { output.add($0) }
        return (code, output.value)
    }

    static func ref(_ d: TestDaemon, _ id: String) throws -> SandboxRef {
        SandboxRef(id, owner: try #require(d.daemon.users.authenticate(key: d.daemon.adminKey)).id)
    }

    @Test("a command as root or as the sandbox's user; an unknown user is refused; make a directory, move, remove")
    func usersAndFiles() async throws {
        try await withDaemon { d in
            let sb = try await d.create("gops")
            let ref = try Self.ref(d, sb.id)
            try await d.daemon.service.withGuest(ref) { guest in
                #expect(try await Self.run(guest, "id -u; echo $HOME $USER $LOGNAME", user: "root") == (0, "0\n/root root root\n"))
                #expect(try await Self.run(guest, "id -u; echo $HOME $USER") == (0, "1000\n/home/lohar lohar\n"))
                let detached = try await guest.execDetached(GuestCommand(argv: ["sh", "-c", "id -u > /tmp/detached-uid"], user: "root"))
                #expect(detached.pid > 0)
                #expect(try await eventually { try await Self.run(guest, "cat /tmp/detached-uid").1 == "0\n" })

                #expect(try await guest.makeDirectory("/workspace/made/a/b"))
                #expect(try await !guest.makeDirectory("/workspace/made/a/b"))
                #expect(try await Self.run(guest, "stat -c %U /workspace/made /workspace/made/a/b") == (0, "lohar\nlohar\n"))
                _ = try await guest.writeFile(path: "/workspace/made/a/b/f.txt", mode: "0644", bytes: Array("moved\n".utf8))
                try await guest.move(from: "/workspace/made/a/b/f.txt", to: "/workspace/elsewhere/g.txt")
                #expect(try await Self.run(guest, "cat /workspace/elsewhere/g.txt; ls /workspace/made/a/b") == (0, "moved\n"))
                try await guest.remove("/workspace/made")
                #expect(try await Self.run(guest, "test -e /workspace/made").0 == 1)
            }
            // Refusals come out of the daemon's mapping as the API's codes.
            for (what, expected) in [("unknown user", BhattiError.Code.invalidArgument), ("move", .notFound), ("remove", .notFound)] {
                await #expect {
                    try await d.daemon.service.withGuest(ref) { guest in
                        switch what {
                        case "unknown user": _ = try await Self.run(guest, "true", user: "nobody-here")
                        case "move": try await guest.move(from: "/workspace/none", to: "/workspace/x")
                        default: try await guest.remove("/workspace/made")
                        }
                    }
                } throws: { error in
                    guard let error = error as? BhattiError else { return false }
                    return error.code == expected && (what != "unknown user" || error.message.contains("nobody-here"))
                }
            }
            #expect(try await d.call("DELETE", "/v1/sandboxes/gops").status == 200)
        }
    }

    @Test("a recursive watch: create, write, rename and remove in the directory and in a subdirectory made later; closing it frees inotify")
    func watch() async throws {
        try await withDaemon { d in
            let sb = try await d.create("gwatch")
            let ref = try Self.ref(d, sb.id)
            try await d.daemon.service.withGuest(ref) { guest in
                await #expect {
                    _ = try await guest.watch(path: "/workspace/absent", recursive: true)
                } throws: { ($0 as? GuestError)?.kind == .notFound }
                #expect(try await guest.makeDirectory("/workspace/w"))
                let watch = try await guest.watch(path: "/workspace/w", recursive: true)
                let events = Events(watch)
                #expect(try await Self.run(guest, "cd /workspace/w && echo hi > f && mv f g && rm g && mkdir sub").0 == 0)
                #expect(
                    try await events.waitFor([
                        (.create, "f"), (.write, "f"), (.rename, "f"), (.create, "g"), (.remove, "g"), (.create, "sub"),
                    ]), "\(events.all)")
                // Watched from its create on: changes inside the new subdirectory are named below it.
                #expect(try await Self.run(guest, "cd /workspace/w/sub && echo x > h && chmod 600 h && mv h i && rm i").0 == 0)
                #expect(
                    try await events.waitFor([
                        (.create, "sub/h"), (.write, "sub/h"), (.chmod, "sub/h"), (.rename, "sub/h"), (.create, "sub/i"),
                        (.remove, "sub/i"),
                    ]), "\(events.all)")
                let inotify = "ls -l /proc/1/fd | grep -c anon_inode:inotify"
                #expect(try await Self.run(guest, inotify, user: "root").1 == "1\n")
                watch.close()
                // The guest let go of it: lohar (pid 1) holds no inotify descriptor any more.
                #expect(try await eventually { try await Self.run(guest, inotify, user: "root").1 == "0\n" })
            }
            #expect(try await d.call("DELETE", "/v1/sandboxes/gwatch").status == 200)
        }
    }
}
