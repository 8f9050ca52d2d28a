import BhattiSystem
import BhattiWire
import Testing

@testable import BhattiEngine

/// The host side of a watch against a fake agent at the channel's seam: batches come out one event at
/// a time and in order, `end` finishes the events, a batch it cannot read fails them (and stops the
/// guest's watch), and `close` tells the guest to let go.
@Suite("Watches from the host", .timeLimit(.minutes(10)))
struct AgentWatchHostTests {
    /// A fake agent: answers hello listing `watch`, then hands each frame the host sends to `reply`,
    /// which writes back what it likes. Returns once the host closed the channel.
    final class FakeAgent: Sendable {
        let guest: FileDescriptor
        let connection: AgentConnection

        init() async throws {
            (connection, guest) = try await FakeAgentChannel.open(capabilities: [AgentCapability.watch])
        }

        /// Reads the host's frames until `until` holds for one (or the channel closes); returns them.
        func read(until: @escaping @Sendable (Frame) -> Bool) async throws -> [Frame] {
            try await Blocking.run { [guest] () throws -> [Frame] in
                var decoder = FrameDecoder()
                var frames: [Frame] = []
                while true {
                    while let frame = try decoder.next() {
                        frames.append(frame)
                        if until(frame) { return frames }
                    }
                    let bytes = try guest.read(upTo: 64 * 1024)
                    if bytes.isEmpty { return frames }
                    decoder.append(bytes)
                }
            }
        }

        func send(_ frames: [Frame]) throws { for frame in frames { try guest.writeAll(frame.encoded()) } }
    }

    static func batch(_ stream: UInt32, _ events: [WatchEvent]) -> Frame {
        Frame(stream: stream, type: .data, payload: WatchEvent.payloads(events)[0])
    }

    @Test("batches come out one event at a time, in order; `end` finishes the events")
    func events() async throws {
        let fake = try await FakeAgent()
        defer { fake.guest.close() }
        async let opened = AgentGuest(fake.connection).watch(path: "/w", recursive: true)
        let request = try #require(try await fake.read { $0.type == .watch }.last)
        #expect(try WireJSON.decode(WatchRequest.self, from: request) == WatchRequest(path: "/w", recursive: true))
        let id = request.stream
        try fake.send([
            Frame(stream: id, type: .result, payload: WireJSON.encode(Empty())),
            Self.batch(id, [WatchEvent(kind: .create, name: "a"), WatchEvent(kind: .write, name: "a")]),
            Self.batch(id, [WatchEvent(kind: .remove, name: "sub/a")]), Frame(stream: id, type: .end),
        ])
        let watch = try await opened
        var seen: [GuestWatchEvent] = []
        for try await event in watch.events { seen.append(event) }
        #expect(
            seen == [
                GuestWatchEvent(kind: .create, name: "a"), GuestWatchEvent(kind: .write, name: "a"),
                GuestWatchEvent(kind: .remove, name: "sub/a"),
            ])
    }

    @Test("a batch the host cannot read fails the events as unavailable and stops the guest's watch")
    func malformed() async throws {
        let fake = try await FakeAgent()
        defer { fake.guest.close() }
        async let opened = AgentGuest(fake.connection).watch(path: "/w", recursive: false)
        let id = try #require(try await fake.read { $0.type == .watch }.last).stream
        try fake.send([
            Frame(stream: id, type: .result, payload: WireJSON.encode(Empty())), Frame(stream: id, type: .data, payload: Array("[{".utf8)),
        ])
        let watch = try await opened
        await #expect {
            for try await _ in watch.events {}
        } throws: { ($0 as? GuestError)?.kind == .unavailable }
        #expect(try await fake.read { $0.stream == id && $0.type == .kill }.last?.type == .kill)
    }

    @Test("close tells the guest to let go; a refusal comes back as the guest's kind")
    func closeAndRefusal() async throws {
        let fake = try await FakeAgent()
        defer { fake.guest.close() }
        let guest = AgentGuest(fake.connection)
        let refused = Task { try await guest.watch(path: "/none", recursive: false) }
        let first = try #require(try await fake.read { $0.type == .watch }.last).stream
        try fake.send([
            Frame(stream: first, type: .error, payload: WireJSON.encode(WireErrorMessage(code: .notFound, message: "/none: no such file")))
        ])
        await #expect { _ = try await refused.value } throws: { ($0 as? GuestError)?.kind == .notFound }
        async let opened = guest.watch(path: "/w", recursive: false)
        let id = try #require(try await fake.read { $0.type == .watch }.last).stream
        try fake.send([Frame(stream: id, type: .result, payload: WireJSON.encode(Empty()))])
        let watch = try await opened
        watch.close()
        #expect(try await fake.read { $0.stream == id && $0.type == .kill }.last?.type == .kill)
        var after: [GuestWatchEvent] = []
        for try await event in watch.events { after.append(event) }
        #expect(after.isEmpty)
    }
}
