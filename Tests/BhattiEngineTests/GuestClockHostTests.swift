import BhattiSystem
import BhattiWire
import Testing

@testable import BhattiEngine

/// The host side of the guest clock, against a fake agent at the channel's seam: clock frames go only
/// to an agent whose hello reply lists the capability (an older agent would drop the connection on an
/// unknown frame type), after the hello and on each `sendClock`.
@Suite("Clock frames from the host", .timeLimit(.minutes(10)))
struct GuestClockHostTests {
    @Test(
        "an agent that lists `clock` gets one after its hello and one per sendClock; one that does not gets none",
        arguments: [nil, [GuestClock.capability]] as [[String]?])
    func onlyToAgentsThatListIt(_ capabilities: [String]?) async throws {
        let (host, guest) = try Pipe.socketPair()
        defer { guest.close() }
        // The reply waits in the socket; the handshake takes it after writing its hello.
        let reply = HelloReply(
            version: wireProtocolVersion, agentVersion: "fake", bootID: "b", uptimeMilliseconds: 1, capabilities: capabilities)
        try guest.writeAll(Frame(stream: 0, type: .helloReply, payload: reply.fastJSON).encoded())
        let connection = try await AgentConnection.handshake(fd: host, timeout: .seconds(300))
        connection.sendClock()
        connection.close()
        // Everything the host sent, up to its close.
        let sent = try await Blocking.run { () throws -> [Frame] in
            var decoder = FrameDecoder()
            var frames: [Frame] = []
            while true {
                let bytes = try guest.read(upTo: 64 * 1024)
                if bytes.isEmpty { return frames }
                decoder.append(bytes)
                while let frame = try decoder.next() { frames.append(frame) }
            }
        }
        #expect(sent.first?.type == .hello)
        let clocks = sent.filter { $0.type == .clock }
        #expect(clocks.count == (capabilities == nil ? 0 : 2), "\(sent.map(\.type))")
        for frame in clocks { #expect(frame.stream == 0 && (try? GuestClock(payload: frame.payload)) != nil) }
    }
}
