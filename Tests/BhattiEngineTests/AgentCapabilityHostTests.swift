import BhattiSystem
import BhattiWire
import Testing

@testable import BhattiEngine

/// What the host asks of an older agent, against a fake one at the channel's seam: a request that needs
/// a capability the agent's hello did not list is refused on the host, and nothing of it is sent (an
/// unknown field would be ignored, an unknown frame type would end the channel).
@Suite("Requests an older agent cannot serve", .timeLimit(.minutes(10)))
struct AgentCapabilityHostTests {
    static func isUnsupported(_ error: any Error) -> Bool {
        guard let error = error as? GuestError else { return false }
        return error.kind == .badRequest && error.message.contains("lohar 0.2.0")
    }

    @Test("a command or session as another user: refused as a bad request naming the agent's version")
    func commandUser() async throws {
        let (connection, guest) = try await FakeAgentChannel.open(agentVersion: "0.2.0", capabilities: [GuestClock.capability])
        defer { guest.close() }
        let agent = AgentGuest(connection)
        let asRoot = GuestCommand(argv: ["id"], user: "root")
        await #expect { _ = try await agent.exec(asRoot, stdin: nil, timeout: nil) { _ in } } throws: { Self.isUnsupported($0) }
        await #expect { _ = try await agent.execDetached(asRoot) } throws: { Self.isUnsupported($0) }
        let session = GuestSessionRequest(
            argv: [], tty: true, rows: nil, cols: nil, env: [:], sessionID: nil, reuseDetached: false, user: "root")
        await #expect { _ = try await agent.openSession(session) } throws: { Self.isUnsupported($0) }
        connection.close()
        let frames = try await FakeAgentChannel.sent(to: guest)
        #expect(frames.allSatisfy { $0.type == .hello || $0.type == .clock }, "\(frames.map(\.type))")
    }

    @Test("make a directory, move, remove, watch: refused without `file_ops` and `watch`; no frame of a type it does not know goes out")
    func fileOperations() async throws {
        let (connection, guest) = try await FakeAgentChannel.open(
            agentVersion: "0.2.0", capabilities: [GuestClock.capability, AgentCapability.commandUser])
        defer { guest.close() }
        let agent = AgentGuest(connection)
        await #expect { _ = try await agent.makeDirectory("/workspace/d") } throws: { Self.isUnsupported($0) }
        await #expect { try await agent.move(from: "/workspace/a", to: "/workspace/b") } throws: { Self.isUnsupported($0) }
        await #expect { try await agent.remove("/workspace/a") } throws: { Self.isUnsupported($0) }
        await #expect { _ = try await agent.watch(path: "/workspace", recursive: true) } throws: { Self.isUnsupported($0) }
        connection.close()
        let frames = try await FakeAgentChannel.sent(to: guest)
        #expect(frames.allSatisfy { $0.type == .hello || $0.type == .clock }, "\(frames.map(\.type))")
    }
}
