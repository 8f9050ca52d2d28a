import BhattiCore
import BhattiStore
import Foundation
import Testing

@Suite("SQLite store")
struct SandboxStoreTests {
    func record(_ name: String) -> SandboxRecord {
        SandboxRecord(id: .random(), name: SandboxName(rawValue: name)!, state: .creating, cpus: 2, memoryMB: 512,
                      image: "default", labels: ["team": "a"], createdAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("insert, find by id and by name, list, state, delete")
    func crud() async throws {
        let store = try SandboxStore(path: ":memory:")
        let r = record("dev")
        try await store.insert(r)
        #expect(try await store.find(r.id.rawValue) == r)
        #expect(try await store.find("dev") == r)
        #expect(try await store.find("nope") == nil)
        try await store.setState(r.id, .error, reason: "qemu died")
        let updated = try #require(try await store.find("dev"))
        #expect(updated.state == .error)
        #expect(updated.stateReason == "qemu died")
        #expect(try await store.list().count == 1)
        try await store.delete(r.id)
        #expect(try await store.list().isEmpty)
    }

    @Test("update renames, pins and relabels; a taken name is refused")
    func update() async throws {
        let store = try SandboxStore(path: ":memory:")
        let a = record("a"), b = record("b")
        try await store.insert(a)
        try await store.insert(b)
        try await store.update(a.id, name: SandboxName(rawValue: "c")!, keepHot: true, labels: ["x": "1"])
        let c = try #require(try await store.find("c"))
        #expect(c.keepHot && c.labels == ["x": "1"] && c.id == a.id)
        await #expect {
            try await store.update(a.id, name: SandboxName(rawValue: "b")!, keepHot: false, labels: [:])
        } throws: { ($0 as? BhattiError)?.code == .alreadyExists }
    }

    @Test("a taken name is already_exists")
    func uniqueName() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insert(record("dev"))
        await #expect {
            try await store.insert(record("dev"))
        } throws: { ($0 as? BhattiError)?.code == .alreadyExists }
    }

    @Test("data survives reopening the file")
    func persistence() async throws {
        let path = NSTemporaryDirectory() + "bhatti-store-\(UUID().uuidString).db"
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let r = record("keep")
        do {
            let store = try SandboxStore(path: path)
            try await store.insert(r)
            try await store.setSetting("k", "v")
        }
        let reopened = try SandboxStore(path: path)
        #expect(try await reopened.find("keep") == r)
        #expect(try await reopened.setting("k") == "v")
    }
}
