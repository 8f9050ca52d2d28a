import BhattiWire
import Foundation
import Testing

@Suite("Guest clock frame and hello capabilities")
struct GuestClockWireTests {
    @Test(
        "the clock payload is the nanoseconds since the epoch, 8 bytes big-endian, and nothing else",
        arguments: [
            Int64(0), 1, 1_764_000_000_123_456_789, Int64.max,
        ])
    func payload(_ ns: Int64) throws {
        let clock = GuestClock(nanosecondsSinceEpoch: ns)
        #expect(clock.payload.count == 8)
        #expect(try GuestClock(payload: clock.payload) == clock)
    }

    @Test("a clock payload of another length is malformed", arguments: [0, 7, 9])
    func malformed(_ length: Int) {
        #expect(throws: WireError.self) { try GuestClock(payload: Array(repeating: 1, count: length)) }
    }

    @Test("hello reply capabilities: listed when present, absent (an older agent) reads as none; both coders agree")
    func capabilities() throws {
        let with = HelloReply(version: 1, agentVersion: "x", bootID: "b", uptimeMilliseconds: 5, capabilities: ["clock"])
        let without = HelloReply(version: 1, agentVersion: "x", bootID: "b", uptimeMilliseconds: 5)
        for reply in [with, without] {
            #expect(try HelloReply(fastJSON: reply.fastJSON) == reply)
            #expect(try JSONDecoder().decode(HelloReply.self, from: Data(reply.fastJSON)) == reply)
            #expect(try HelloReply(fastJSON: Array(try JSONEncoder().encode(reply))) == reply)
        }
        #expect(!String(decoding: without.fastJSON, as: UTF8.self).contains("capabilities"))
        #expect(with.can(GuestClock.capability) && !without.can(GuestClock.capability))
    }

    @Test("hello reply lapic_mult: carried when reported, absent (an older agent) reads as nil; both coders agree")
    func lapicMult() throws {
        for mult in [nil, 0, 268_435_456] as [Int?] {
            let reply = HelloReply(version: 1, agentVersion: "x", bootID: "b", uptimeMilliseconds: 5, lapicMult: mult)
            #expect(try HelloReply(fastJSON: reply.fastJSON) == reply)
            #expect(try JSONDecoder().decode(HelloReply.self, from: Data(reply.fastJSON)) == reply)
            #expect(String(decoding: reply.fastJSON, as: UTF8.self).contains("lapic_mult") == (mult != nil))
        }
    }
}
