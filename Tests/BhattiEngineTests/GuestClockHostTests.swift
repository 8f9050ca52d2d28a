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
        let (connection, guest) = try await FakeAgentChannel.open(capabilities: capabilities)
        defer { guest.close() }
        connection.sendClock()
        connection.close()
        let sent = try await FakeAgentChannel.sent(to: guest)
        #expect(sent.first?.type == .hello)
        let clocks = sent.filter { $0.type == .clock }
        #expect(clocks.count == (capabilities == nil ? 0 : 2), "\(sent.map(\.type))")
        for frame in clocks { #expect(frame.stream == 0 && (try? GuestClock(payload: frame.payload)) != nil) }
    }
}
