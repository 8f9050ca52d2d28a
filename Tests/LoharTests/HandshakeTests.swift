import BhattiEngine
import BhattiSystem
import BhattiWire
import Foundation
import Lohar
import Testing

@Suite("Hello gate")
struct HandshakeTests {
    @Test("the agent refuses everything before hello")
    func refusesBeforeHello() async throws {
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: .hostTest(path: "/usr/bin:/bin"))
        startThread(name: "t") { agent.serve(connection: guest); guest.close() }
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
            startThread(name: "t") { agent.serve(connection: guest); guest.close() }
            do {
                let c = try await AgentConnection.handshake(fd: host, token: token, timeout: .seconds(5))
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
        let task = Task { try await h.run(["sleep", "30"]) }
        try await Task.sleep(for: .milliseconds(200))
        h.connection.close()
        await #expect(throws: AgentError.self) { _ = try await task.value }
    }
}
