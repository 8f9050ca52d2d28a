import BhattiCore
import BhattiStore
import Foundation
import Testing

@Suite("Event log")
struct EventTests {
    @Test("events of a sandbox come newest first, limited")
    func order() async throws {
        let store = try SandboxStore(path: ":memory:")
        let a = SandboxID.random()
        let b = SandboxID.random()
        var appended: [EventRecord] = []
        for i in 0..<10 {
            appended.append(
                try await store.appendEvent("step.\(i)", sandboxID: i % 2 == 0 ? a : b, userID: "u-ann", detail: "{\"i\":\(i)}", at: epoch))
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

    @Test("failed authentications have their own budget: a flood of them never pushes other events out")
    func authFailuresHaveTheirOwnBudget() async throws {
        let store = try SandboxStore(path: ":memory:", eventRetention: EventRetention(keep: 5, keepAuthFailures: 4, pruneEvery: 3))
        let real = ["user.created", "secret.set", "sandbox.created"]
        for kind in real { try await store.appendEvent(kind) }
        for i in 1...200 { try await store.appendEvent(EventRetention.authFailed, detail: "invalid key #\(i)") }
        let kept = try await store.recentEvents(limit: 1000)
        #expect(kept.filter { $0.kind != EventRetention.authFailed }.map(\.kind) == real.reversed())
        let failures = kept.filter { $0.kind == EventRetention.authFailed }
        // The newest four, plus those since the last prune.
        #expect(failures.count >= 4 && failures.count <= 4 + 3 - 1, "\(failures.count)")
        #expect(failures.first?.detail == "invalid key #200")
        // And the other budget still prunes by itself.
        for i in 1...20 { try await store.appendEvent("sandbox.created", detail: "\(i)") }
        let after = try await store.recentEvents(limit: 1000)
        let others = after.filter { $0.kind != EventRetention.authFailed }
        #expect(others.count >= 5 && others.count <= 5 + 3 - 1, "\(others.count)")
        #expect(others.first?.detail == "20")
        #expect(after.filter { $0.kind == EventRetention.authFailed }.count >= 4)
    }
}
