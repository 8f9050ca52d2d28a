import BhattiWire
import Foundation
import Testing

@Suite("Watch messages")
struct WatchMessagesTests {
    @Test("a watch request and an event round trip with E2B's key for the kind")
    func roundTrip() throws {
        let request = WatchRequest(path: "/workspace", recursive: true)
        #expect(try WireJSON.decode(WatchRequest.self, from: Frame(stream: 1, type: .watch, payload: WireJSON.encode(request))) == request)
        for kind in WatchEvent.Kind.allCases {
            let event = WatchEvent(kind: kind, name: "sub/ä \"q\".txt")
            #expect(String(decoding: event.fastJSON, as: UTF8.self).hasPrefix("{\"type\":\"\(kind.rawValue)\",\"name\":"))
            #expect(try JSONDecoder().decode(WatchEvent.self, from: Data(event.fastJSON)) == event)
            #expect(try JSONDecoder().decode(WatchEvent.self, from: JSONEncoder().encode(event)) == event)
        }
    }

    @Test("events split into payloads under the limit, in order, each a JSON array", arguments: [0, 1, 7, 500])
    func payloads(count: Int) throws {
        let events = (0..<count).map { WatchEvent(kind: WatchEvent.Kind.allCases[$0 % 5], name: "dir/file-\($0)") }
        let payloads = WatchEvent.payloads(events, maxBytes: 256)
        #expect(payloads.allSatisfy { $0.count <= 256 })
        let decoded = try payloads.flatMap { try JSONDecoder().decode([WatchEvent].self, from: Data($0)) }
        #expect(decoded == events)
        #expect(payloads.isEmpty == events.isEmpty)
    }

    @Test("an event longer than the limit goes alone, whole")
    func oversized() throws {
        let long = WatchEvent(kind: .create, name: String(repeating: "n", count: 300))
        let payloads = WatchEvent.payloads([WatchEvent(kind: .write, name: "a"), long, WatchEvent(kind: .remove, name: "b")], maxBytes: 64)
        #expect(payloads.count == 3)
        #expect(try JSONDecoder().decode([WatchEvent].self, from: Data(payloads[1])) == [long])
    }
}
