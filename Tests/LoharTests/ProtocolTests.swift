import BhattiSystem
import BhattiWire
import Foundation
import Testing

@testable import BhattiEngine
@testable import Lohar

/// The time limit turns a stream that holds back another (a hang) into a failure.
@Suite("Credit, limits, detached exec, activity, configuration", .timeLimit(.minutes(10)))
struct ProtocolTests {
    @Test("an unread stream stops at its window and does not hold back another stream")
    func creditIsolatesStreams() async throws {
        let h = try await AgentHarness.start()
        let c = h.connection
        // A stream whose output nobody reads: the guest may send at most the initial window.
        let (id, frames) = try c.openStream()
        try c.send(Frame(stream: id, type: .exec, payload: WireJSON.encode(ExecRequest(argv: ["head", "-c", "10485760", "/dev/zero"]))))
        // A chance for the guest to fill the window first (the case under test); if it has not yet,
        // the test still holds, it just shows less.
        try await Task.sleep(for: .milliseconds(300))
        // Meanwhile another exec on the same connection completes. Without per-stream credit it would
        // wait forever behind the unread stream: the suite's time limit makes that a failure.
        let (status, out, _) = try await h.run(["echo", "still-flowing"])
        #expect(status.code == 0)
        #expect(out == "still-flowing\n")
        // Now read the first stream, granting credit as we go: all 10 MiB arrive, then the exit.
        var total = 0
        var exit: BhattiWire.ExitStatus?
        var buffered = 0
        for try await frame in frames {
            if frame.type == .stdout {
                if total == 0 { buffered = frame.payload.count }
                total += frame.payload.count
                c.consumed(id, frame.payload.count)
            } else if frame.type == .exit {
                exit = try WireJSON.decode(BhattiWire.ExitStatus.self, from: frame)
                break
            }
        }
        c.closeStream(id)
        #expect(buffered <= Credit.initialWindow)
        #expect(total == 10 << 20)
        #expect(exit?.code == 0)
    }

    @Test("stdin larger than the window is delivered whole")
    func largeStdin() async throws {
        let h = try await AgentHarness.start()
        let input = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let out = Collector()
        let status = try await h.connection.exec(ExecRequest(argv: ["sha256sum"]), stdin: input) { out.add($0) }
        #expect(status.code == 0)
        let local = Process()
        local.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let pipeIn = Foundation.Pipe()
        let pipeOut = Foundation.Pipe()
        local.standardInput = pipeIn
        local.standardOutput = pipeOut
        try local.run()
        pipeIn.fileHandleForWriting.write(Data(input))
        try pipeIn.fileHandleForWriting.close()
        let digest = String(decoding: pipeOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        local.waitUntilExit()
        #expect(out.stdout == digest)
    }

    @Test("the 51st concurrent operation is refused, and the agent keeps serving")
    func operationLimit() async throws {
        let h = try await AgentHarness.start()
        let c = h.connection
        var streams: [UInt32] = []
        let sleep = ExecTimeoutTests.uniqueSleep()
        for _ in 0..<AgentState.maxOperations {
            let (id, _) = try c.openStream()
            try c.send(Frame(stream: id, type: .exec, payload: WireJSON.encode(ExecRequest(argv: sleep))))
            streams.append(id)
        }
        // Every slot is taken once every command runs.
        #expect(try await ExecTimeoutTests.eventually { ExecTimeoutTests.processes(running: sleep) == AgentState.maxOperations })
        await #expect {
            _ = try await h.run(["true"])
        } throws: { error in
            guard case AgentError.remote(let m) = error else { return false }
            return m.code == .resourceExhausted
        }
        for id in streams { try c.send(Frame(stream: id, type: .kill)) }
        // Slots come back as the killed commands end (waited for; the deadline only turns a hang into a failure).
        var ok = false
        let giveUp = ContinuousClock.now + .seconds(60)
        while !ok, ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(100))
            ok = (try? await h.run(["true"]))?.0.code == 0
        }
        #expect(ok)
        #expect(try await ExecTimeoutTests.allGone([sleep]))
    }

    @Test("detached exec returns the pid at once and writes output to a file")
    func detached() async throws {
        let h = try await AgentHarness.start()
        let file = "/tmp/bhatti-detached-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let reply = try await h.connection.execDetached(
            ExecRequest(argv: ["sh", "-c", "echo started; sleep 0.3; echo finished"], outputFile: file))
        #expect(reply.pid > 0)
        #expect(reply.outputFile == file)
        var text = ""
        let giveUp = ContinuousClock.now + .seconds(60)
        while !text.contains("finished"), ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(50))
            text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        }
        #expect(text == "started\nfinished\n")
    }

    @Test("activity counts running execs and moves with requests")
    func activity() async throws {
        let h = try await AgentHarness.start()
        let before = try await h.connection.activity()
        // Runs until the test has seen it running.
        let release = "/tmp/bhatti-activity-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: release) }
        let task = Task { try await h.run(["sh", "-c", "while [ ! -e \(release) ]; do sleep 0.05; done"]) }
        var during = try await h.connection.activity()
        let giveUp = ContinuousClock.now + .seconds(60)
        while during.runningExecs == 0, ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(10))
            during = try await h.connection.activity()
        }
        #expect(during.runningExecs == 1)
        #expect(FileManager.default.createFile(atPath: release, contents: nil))
        #expect(during.lastActivityMs >= before.lastActivityMs)
        _ = try await task.value
        #expect(try await h.connection.activity().runningExecs == 0)
    }

    @Test("configuration: env ← secrets ← request precedence, files, and the token for later hellos")
    func configure() async throws {
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: .hostTest(path: "/usr/bin:/bin"))
        startThread(name: "t") {
            agent.serve(connection: guest)
            guest.close()
        }
        let c = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        let dir = "/tmp/bhatti-cfg-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await c.configure(
            GuestConfig(
                env: ["FOO": "env", "ONLY_ENV": "e"], secrets: ["FOO": "secret"],
                files: [.init(path: dir + "/a/b.txt", content: Data("hello".utf8).base64EncodedString(), mode: "0600")],
                token: "tok"))
        let out = Collector()
        _ = try await c.exec(ExecRequest(argv: ["sh", "-c", "echo $FOO $ONLY_ENV"])) { out.add($0) }
        #expect(out.stdout == "secret e\n")
        let out2 = Collector()
        _ = try await c.exec(ExecRequest(argv: ["sh", "-c", "echo $FOO"], env: ["FOO": "request"])) { out2.add($0) }
        #expect(out2.stdout == "request\n")
        #expect(try String(contentsOfFile: dir + "/a/b.txt", encoding: .utf8) == "hello")
        let perms = try FileManager.default.attributesOfItem(atPath: dir + "/a/b.txt")[.posixPermissions] as? Int
        #expect(perms == 0o600)
        // A new connection now needs the token.
        for (token, ok) in [("", false), ("tok", true)] {
            let (h2, g2) = try Pipe.socketPair()
            startThread(name: "t2") {
                agent.serve(connection: g2)
                g2.close()
            }
            do {
                _ = try await AgentConnection.handshake(fd: h2, token: token, timeout: .seconds(60))
                #expect(ok)
            } catch AgentError.remote(let m) {
                #expect(!ok)
                #expect(m.code == .unauthenticated)
            }
        }
    }

    @Test("a clone's configure with replace_env false keeps env and secrets and takes the new token; true replaces them")
    func configureKeepsOrReplacesEnvironment() async throws {
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: .hostTest(path: "/usr/bin:/bin"))
        startThread(name: "t") {
            agent.serve(connection: guest)
            guest.close()
        }
        let c = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        func echo() async throws -> String {
            let out = Collector()
            _ = try await c.exec(ExecRequest(argv: ["sh", "-c", "echo $A $S"])) { out.add($0) }
            return out.stdout
        }
        try await c.configure(GuestConfig(env: ["A": "parent"], secrets: ["S": "hush"], token: "old"))
        #expect(try await echo() == "parent hush\n")
        // A fork: new token (and entropy, written only as PID 1), environment kept.
        try await c.configure(GuestConfig(token: "new", entropy: Data([1, 2, 3]).base64EncodedString(), replaceEnvironment: false))
        #expect(try await echo() == "parent hush\n")
        let (h2, g2) = try Pipe.socketPair()
        startThread(name: "t2") {
            agent.serve(connection: g2)
            g2.close()
        }
        _ = try await AgentConnection.handshake(fd: h2, token: "new", timeout: .seconds(60))
        // A template create: the environment is the new sandbox's, replacing the template's.
        try await c.configure(GuestConfig(env: ["A": "child"], token: "newer"))
        #expect(try await echo() == "child\n")
    }

    @Test("malformed requests get errors and the connection keeps working")
    func malformed() async throws {
        let h = try await AgentHarness.start()
        let c = h.connection
        for type in [FrameType.exec, .configure, .fileStat, .sessionKill] {
            let (id, frames) = try c.openStream()
            try c.send(Frame(stream: id, type: type, payload: Array("{not json".utf8)))
            var sawError = false
            for try await f in frames where f.type == .error {
                sawError = true
                break
            }
            c.closeStream(id)
            #expect(sawError, "\(type)")
        }
        #expect(try await h.run(["true"]).0.code == 0)
    }
}
