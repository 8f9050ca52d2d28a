import BhattiCore
import BhattiStore
import Foundation
import Testing

@Suite("Event log")
struct EventTests {
    @Test("events of a sandbox come newest first, limited")
    func order() async throws {
        let store = try SandboxStore(path: ":memory:")
        let a = SandboxID.random(), b = SandboxID.random()
        var appended: [EventRecord] = []
        for i in 0..<10 {
            appended.append(try await store.appendEvent("step.\(i)", sandboxID: i % 2 == 0 ? a : b, userID: "u-ann", detail: "{\"i\":\(i)}", at: epoch))
        }
        #expect(appended.map(\.seq) == Array(1...10))
        #expect(try await store.events(sandboxID: a, limit: 3).map(\.kind) == ["step.8", "step.6", "step.4"])
        #expect(try await store.events(sandboxID: b).count == 5)
        #expect(try await store.events(sandboxID: a, limit: 1) == [appended[8]])
        #expect(appended[8] == EventRecord(seq: 9, at: epoch, sandboxID: a, userID: "u-ann", kind: "step.8", detail: "{\"i\":8}"))
        #expect(try await store.recentEvents(limit: 2).map(\.seq) == [10, 9])
        #expect(try await store.events(sandboxID: .random()).isEmpty)
    }

    @Test("retention keeps the newest events, and sequence numbers are never reused")
    func retention() async throws {
        let store = try SandboxStore(path: ":memory:", eventRetention: EventRetention(keep: 5, pruneEvery: 3))
        for i in 1...20 { try await store.appendEvent("e\(i)") }
        let kept = try await store.recentEvents(limit: 100).map(\.seq)
        // Pruned at 18 down to 14...18; 19 and 20 came after.
        #expect(kept == Array((14...20).reversed()))
        #expect(kept.count <= 5 + 3 - 1)
        #expect(try await store.appendEvent("e21").seq == 21)
        #expect(try await store.recentEvents(limit: 100).map(\.seq) == Array((17...21).reversed()))
    }
}
