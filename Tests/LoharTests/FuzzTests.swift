import BhattiSystem
import BhattiWire
import Foundation
import Lohar
import Testing

@testable import BhattiEngine

@Suite("Random input never breaks either side")
struct FuzzTests {
    /// Random frames of every type with random payloads and stream ids, after a valid hello.
    static func randomFrames(count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        var out: [UInt8] = []
        for _ in 0..<count {
            let type = FrameType.allCases.randomElement(using: &rng)!
            // Streams above 10_000 so they never collide with the ones the host client opens.
            let stream = UInt32.random(in: 10_000...10_050, using: &rng)
            var payload = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng), type == .exec {
                payload = WireJSON.encode(ExecRequest(argv: [["true"], ["sleep", "0.1"], ["nope-cmd"]].randomElement(using: &rng)!))
            }
            out += Frame(stream: type == .hello ? 0 : stream, type: type == .hello ? .ping : type, payload: payload).encoded()
        }
        return out
    }

    @Test("the agent survives random well-framed garbage and still serves", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func agentSurvivesGarbage(seed: UInt64) async throws {
        let h = try await AgentHarness.start()
        try h.hostEnd.writeAll(FuzzTests.randomFrames(count: 300, seed: seed))
        // Whatever the garbage did, a ping and an exec on fresh streams still complete.
        _ = try await h.connection.ping([1])
        let (status, out, _) = try await h.run(["echo", "alive"])
        #expect(status.code == 0)
        #expect(out == "alive\n")
    }

    @Test("a corrupt frame header ends the connection cleanly and the agent accepts the next one")
    func corruptHeader() async throws {
        let (host, guest) = try Pipe.socketPair()
        let agent = Agent(configuration: .hostTest(path: "/usr/bin:/bin"))
        startThread(name: "t") {
            agent.serve(connection: guest)
            guest.close()
        }
        let c = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        let pending = Task { try await c.exec(ExecRequest(argv: ["sleep", "3600"])) }
        #expect(try await ExecTimeoutTests.eventually(async: { try await c.activity().runningExecs == 1 }))
        try host.writeAll([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x10])  // a 4 GiB frame
        // The in-flight exec fails (the agent dropped the connection) instead of hanging.
        await #expect(throws: (any Error).self) { _ = try await pending.value }
        // A new connection to the same agent works.
        let (h2, g2) = try Pipe.socketPair()
        startThread(name: "t2") {
            agent.serve(connection: g2)
            g2.close()
        }
        let c2 = try await AgentConnection.handshake(fd: h2, timeout: .seconds(60))
        let status = try await c2.exec(ExecRequest(argv: ["true"]))
        #expect(status.code == 0)
    }

    @Test("the host side fails pending operations when the guest sends garbage")
    func hostSurvivesGarbage() async throws {
        let (host, guest) = try Pipe.socketPair()
        // A fake guest: answers hello, then sends random bytes.
        startThread(name: "fake-guest") {
            var decoder = FrameDecoder()
            while let bytes = try? guest.read(upTo: 4096), !bytes.isEmpty {
                decoder.append(bytes)
                guard let frame = try? decoder.next() else { continue }
                if frame.type == .hello {
                    let reply = HelloReply(version: wireProtocolVersion, agentVersion: "fake", bootID: "b", uptimeMilliseconds: 1)
                    try? guest.writeAll(Frame(stream: 0, type: .helloReply, payload: WireJSON.encode(reply)).encoded())
                } else {
                    var rng = SeededGenerator(seed: 9)
                    try? guest.writeAll((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) })
                    guest.close()
                    return
                }
            }
        }
        let c = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        await #expect(throws: AgentError.self) { _ = try await c.exec(ExecRequest(argv: ["true"])) }
        #expect(c.isClosed)
    }
}

/// Deterministic randomness, so a failing seed can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
