import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Lohar
import Testing

@Suite("Hello gate", .timeLimit(.minutes(10)))
struct HandshakeTests {
    @Test("the agent refuses everything before hello")
    func refusesBeforeHello() async throws {
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: .hostTest(path: "/usr/bin:/bin"))
        startThread(name: "t") {
            agent.serve(connection: guest)
            guest.close()
        }
        try host.writeAll(Frame(stream: 1, type: .exec, payload: WireJSON.encode(ExecRequest(argv: ["true"]))).encoded())
        var decoder = FrameDecoder()
        var reply: Frame?
        while reply == nil {
            let bytes = try host.read(upTo: 4096)
            #expect(!bytes.isEmpty)
            if bytes.isEmpty { break }
            decoder.append(bytes)
            reply = try decoder.next()
        }
        #expect(reply?.type == .error)
        let message = try WireJSON.decode(WireErrorMessage.self, from: try #require(reply))
        #expect(message.code == .unauthenticated)
    }

    @Test("a wrong token is refused; the right one is accepted")
    func token() async throws {
        for (token, ok) in [("wrong", false), ("s3cret", true)] {
            let (host, guest) = try Pipe.socketPair()
            var config = AgentConfiguration.hostTest(path: "/usr/bin:/bin")
            config.token = "s3cret"
            let agent = Agent(configuration: config)
            startThread(name: "t") {
                agent.serve(connection: guest)
                guest.close()
            }
            do {
                let c = try await AgentConnection.handshake(fd: host, token: token, timeout: .seconds(60))
                #expect(ok)
                #expect(c.hello.version == wireProtocolVersion)
            } catch AgentError.remote(let m) {
                #expect(!ok)
                #expect(m.code == .unauthenticated)
            }
        }
    }

    @Test("hello reply carries the boot id and uptime")
    func helloContents() async throws {
        let h = try await AgentHarness.start()
        #expect(h.connection.hello.bootID.count == 36)
        #expect(h.connection.hello.uptimeMilliseconds > 0)
        #expect(h.connection.hello.agentVersion == loharVersion)
    }

    @Test("a dropped channel fails the exec in flight instead of hanging")
    func disconnectFailsInFlight() async throws {
        let h = try await AgentHarness.start()
        let task = Task { try await h.run(["sleep", "3600"]) }
        // In flight once the agent runs it; a dropped channel that did not fail it would hang (the time limit).
        #expect(try await ExecTimeoutTests.eventually(async: { try await h.connection.activity().runningExecs == 1 }))
        h.connection.close()
        await #expect(throws: AgentError.self) { _ = try await task.value }
    }
}

@Suite("Re-greeting", .timeLimit(.minutes(10)))
struct RegreetTests {
    @Test("a later hello with a wrong token leaves the channel closed to everything until a right one")
    func wrongRehello() async throws {
        let (host, guest) = try Pipe.socketPair()
        var config = AgentConfiguration.hostTest(path: "/usr/bin:/bin")
        config.token = "s3cret"
        let agent = Agent(configuration: config)
        startThread(name: "t") {
            agent.serve(connection: guest)
            guest.close()
        }
        var decoder = FrameDecoder()
        func next() throws -> Frame {
            while true {
                if let frame = try decoder.next() { return frame }
                let bytes = try host.read(upTo: 4096)
                guard !bytes.isEmpty else { throw AgentError.disconnected }
                decoder.append(bytes)
            }
        }
        func hello(_ token: String) throws {
            var h = Hello()
            h.token = token
            try host.writeAll(Frame(stream: 0, type: .hello, payload: WireJSON.encode(h)).encoded())
        }
        try hello("s3cret")
        #expect(try next().type == .helloReply)
        try hello("wrong")
        let refused = try next()
        let refusal = try WireJSON.decode(WireErrorMessage.self, from: refused)
        #expect(refused.type == .error && refusal.code == .unauthenticated)
        try host.writeAll(Frame(stream: 1, type: .exec, payload: WireJSON.encode(ExecRequest(argv: ["true"]))).encoded())
        let exec = try next()
        let execRefusal = try WireJSON.decode(WireErrorMessage.self, from: exec)
        #expect(exec.type == .error && execRefusal.code == .unauthenticated, "\(exec.type)")
        try hello("s3cret")
        #expect(try next().type == .helloReply)
        host.close()
    }

    @Test("a second hello on the same channel ends the previous host's streams")
    func helloResets() async throws {
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: .hostTest(path: "/usr/bin:/bin"))
        startThread(name: "t") {
            agent.serve(connection: guest)
            guest.close()
        }
        let first = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        let running = Task { try await first.exec(ExecRequest(argv: ["sleep", "3600"])) }
        #expect(try await ExecTimeoutTests.eventually(async: { try await first.activity().runningExecs == 1 }))
        // Same byte stream, new hello: what a host reconnecting through QEMU's chardev looks like.
        try host.writeAll(Frame(stream: 0, type: .hello, payload: WireJSON.encode(Hello())).encoded())
        let status = try await running.value
        #expect(status.code == 137)
        running.cancel()
    }
}
