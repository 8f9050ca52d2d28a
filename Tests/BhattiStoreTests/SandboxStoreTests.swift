import BhattiCore
import BhattiStore
import Foundation
import Testing

@Suite("SQLite store")
struct SandboxStoreTests {
    func record(_ name: String) -> SandboxRecord {
        SandboxRecord(
            id: .random(), name: SandboxName(rawValue: name)!, state: .creating, cpus: 2, memoryMB: 512,
            image: "default", labels: ["team": "a"], createdAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    @Test("insert, find by id and by name, list, state, delete")
    func crud() async throws {
        let store = try SandboxStore(path: ":memory:")
        let r = record("dev")
        try await store.insert(r)
        #expect(try await store.find(r.id.rawValue, ownedBy: nil) == r)
        #expect(try await store.find("dev", ownedBy: nil) == r)
        #expect(try await store.find("nope", ownedBy: nil) == nil)
        try await store.setState(r.id, .error, reason: "qemu died")
        let updated = try #require(try await store.find("dev", ownedBy: nil))
        #expect(updated.state == .error)
        #expect(updated.stateReason == "qemu died")
        #expect(try await store.list().count == 1)
        try await store.delete(r.id)
        #expect(try await store.list().isEmpty)
    }

    @Test("sandboxHeat: every sandbox once, hot or not, made through E2B or not")
    func heat() async throws {
        let store = try SandboxStore(path: ":memory:")
        let (hotE2B, hotNative, coldE2B) = (record("a"), record("b"), record("c"))
        for r in [hotE2B, hotNative, coldE2B] { try await store.insert(r) }
        try await store.setState(hotE2B.id, .hot, reason: nil)
        try await store.setState(hotNative.id, .hot, reason: nil)
        try await store.setState(coldE2B.id, .cold, reason: nil)
        try await store.insertE2BSandbox(hotE2B.id, deadline: nil)
        try await store.insertE2BSandbox(coldE2B.id, deadline: nil)
        let heat = Dictionary(uniqueKeysWithValues: try await store.sandboxHeat().map { ($0.id, [$0.hot, $0.e2b]) })
        #expect(heat == [hotE2B.id: [true, true], hotNative.id: [true, false], coldE2B.id: [false, true]])
    }

    @Test("update renames, pins and relabels; a taken name is refused")
    func update() async throws {
        let store = try SandboxStore(path: ":memory:")
        let a = record("a")
        let b = record("b")
        try await store.insert(a)
        try await store.insert(b)
        try await store.update(a.id, name: SandboxName(rawValue: "c")!, keepHot: true, labels: ["x": "1"])
        let c = try #require(try await store.find("c", ownedBy: nil))
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
        #expect(try await reopened.find("keep", ownedBy: nil) == r)
        #expect(try await reopened.setting("k") == "v")
    }

    @Test("users, secrets, snapshots, publish rules and events survive reopening the file")
    func persistenceOfEverything() async throws {
        try await withDatabaseFile { path in
            let ann = user("ann")
            let dev = sandbox("dev", owner: "u-ann")
            let snap = SnapshotRecord(
                id: "s1", userID: "u-ann", name: "base", sourceSandboxID: dev.id, cpus: 2, memoryMB: 512,
                image: "default", directory: "/d/s1", sizeBytes: 42, createdAt: epoch)
            let rule = PublishRule(sandboxID: dev.id, port: 80, alias: "dev", createdAt: epoch)
            let event: EventRecord
            do {
                let store = try SandboxStore(path: path)
                try await store.insertUser(ann)
                try await store.insert(dev)
                try await store.setSecret(userID: ann.id, name: "TOKEN", ciphertext: [0, 1, 2], at: epoch)
                try await store.insertSnapshot(snap)
                try await store.insertPublishRule(rule)
                event = try await store.appendEvent("sandbox.created", sandboxID: dev.id, userID: ann.id, at: epoch)
            }
            let reopened = try SandboxStore(path: path)
            #expect(try await reopened.user(keySHA256: ann.keySHA256) == ann)
            #expect(try await reopened.find("dev", ownedBy: ann.id) == dev)
            #expect(try await reopened.secret(userID: ann.id, name: "TOKEN")?.ciphertext == [0, 1, 2])
            #expect(try await reopened.snapshot(ownedBy: ann.id, named: "base") == snap)
            #expect(try await reopened.publishRule(alias: "dev") == rule)
            #expect(try await reopened.events(sandboxID: dev.id) == [event])
        }
    }
}
