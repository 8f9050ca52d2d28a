import BhattiEngine
import BhattiWire
import Foundation
import Glibc
import Testing

/// `user` on exec and session requests, resolved in the agent's /etc/passwd (the host's, in test mode).
@Suite("A command's own user through the real agent handlers")
struct CommandUserTests {
    static func refusal(_ error: any Error) -> WireErrorMessage? {
        guard case AgentError.remote(let m) = error else { return nil }
        return m
    }

    @Test("an unknown user is a bad request that names the user, for execs, detached execs and sessions")
    func unknownUser() async throws {
        let h = try await AgentHarness.start()
        let name = "no-such-user-\(UInt32.random(in: 0...UInt32.max))"
        let request = ExecRequest(argv: ["true"], user: name)
        await #expect {
            _ = try await h.connection.exec(request)
        } throws: { Self.refusal($0)?.code == .badRequest && Self.refusal($0)?.message.contains(name) == true }
        await #expect {
            _ = try await h.connection.execDetached(request)
        } throws: { Self.refusal($0)?.code == .badRequest && Self.refusal($0)?.message.contains(name) == true }
        await #expect {
            _ = try await h.connection.openSession(SessionRequest(argv: ["sh"], tty: false, user: name))
        } throws: { Self.refusal($0)?.code == .badRequest && Self.refusal($0)?.message.contains(name) == true }
        // The refusals left nothing behind: the next command runs.
        #expect(try await h.run(["true"]).0.code == 0)
    }

    @Test("as root: a named user's ids, HOME, USER and LOGNAME", .enabled(if: getuid() == 0))
    func namedUser() async throws {
        let h = try await AgentHarness.start()
        let script = "echo $(id -u) $(id -g) $HOME $USER $LOGNAME"
        let (_, out, _) = try await h.run(["getent", "passwd", "nobody"])
        let fields = out.split(separator: ":", omittingEmptySubsequences: false)
        try #require(fields.count >= 7)
        let collector = Collector()
        _ = try await h.connection.exec(ExecRequest(argv: ["sh", "-c", script], user: "nobody")) { collector.add($0) }
        #expect(collector.stdout == "\(fields[2]) \(fields[3]) \(fields[5]) nobody nobody\n")
        let root = Collector()
        _ = try await h.connection.exec(ExecRequest(argv: ["sh", "-c", "echo $(id -u) $HOME $USER"], user: "root")) { root.add($0) }
        #expect(root.stdout == "0 /root root\n")
    }

    @Test("as root: a session runs as its user, and a reuse finds only a session of the same user", .enabled(if: getuid() == 0))
    func sessionUser() async throws {
        let h = try await AgentHarness.start()
        let nobody = try await h.connection.openSession(SessionRequest(argv: ["sh"], tty: false, user: "nobody"))
        let transcript = Transcript(nobody)
        try await nobody.write(Array("id -un\n".utf8))
        #expect(await transcript.waitFor("nobody\n"))
        try nobody.detach()
        #expect(await transcript.waitForEnd() == .detached(reason: nil))
        // Asked for root, the detached session of nobody is not handed out: a new one starts.
        let root = try await h.connection.openSession(SessionRequest(argv: ["sh"], tty: false, reuseDetached: true, user: "root"))
        #expect(root.info.sessionID != nobody.info.sessionID)
        let again = try await h.connection.openSession(SessionRequest(argv: ["sh"], tty: false, reuseDetached: true, user: "nobody"))
        #expect(again.info.sessionID == nobody.info.sessionID)
        for attachment in [root, again] { try attachment.kill() }
    }
}
