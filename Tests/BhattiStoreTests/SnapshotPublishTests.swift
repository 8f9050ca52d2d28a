import BhattiCore
import BhattiStore
import Foundation
import Testing

@Suite("Snapshots and publish rules")
struct SnapshotPublishTests {
    func snapshot(_ name: String, owner: String?, at offset: TimeInterval = 0) -> SnapshotRecord {
        SnapshotRecord(
            id: "s-\(owner ?? "admin")-\(name)", userID: owner, name: name, sourceSandboxID: SandboxID(rawValue: "0123456789abcdef"),
            cpus: 2, memoryMB: 1024, diskMB: 2048, image: "default", directory: "/data/snapshots/\(name)",
            sizeBytes: 0, createdAt: epoch + offset)
    }

    @Test("snapshots: insert, find by owner and name, list, size, delete")
    func snapshots() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insertUser(user("ann"))
        let mine = snapshot("base", owner: "u-ann")
        let later = snapshot("later", owner: "u-ann", at: 5)
        let admins = snapshot("base", owner: nil)
        for s in [later, mine, admins] { try await store.insertSnapshot(s) }
        #expect(try await store.snapshot(ownedBy: "u-ann", named: "base") == mine)
        #expect(try await store.snapshot(ownedBy: nil, named: "base") == admins)
        #expect(try await store.snapshot(ownedBy: nil, named: "later") == nil)
        #expect(try await store.snapshot(id: later.id) == later)
        #expect(try await store.snapshots(ownedBy: "u-ann") == [mine, later])
        #expect(try await store.snapshots(ownedBy: nil) == [admins])
        #expect(try await store.allSnapshots().count == 3)

        try await store.setSnapshotSize(id: mine.id, bytes: 123_456_789_012)
        #expect(try await store.snapshot(id: mine.id)?.sizeBytes == 123_456_789_012)

        let busy = await #expect(throws: BhattiError.self) { try await store.deleteUser(named: "ann") }
        #expect(busy?.code == .invalidState)
        try await store.deleteSnapshot(id: mine.id)
        #expect(try await store.snapshot(ownedBy: "u-ann", named: "base") == nil)
        let gone = await #expect(throws: BhattiError.self) { try await store.deleteSnapshot(id: mine.id) }
        #expect(gone?.code == .notFound)
    }

    @Test("snapshot names are unique per owner, the admin's too")
    func snapshotUniqueness() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insertUser(user("ann"))
        try await store.insertSnapshot(snapshot("base", owner: "u-ann"))
        try await store.insertSnapshot(snapshot("base", owner: nil))
        for owner in ["u-ann", nil] as [String?] {
            var again = snapshot("base", owner: owner)
            again.id = "other"
            let error = await #expect(throws: BhattiError.self) { try await store.insertSnapshot(again) }
            #expect(error?.code == .alreadyExists)
        }
        let noUser = await #expect(throws: BhattiError.self) { try await store.insertSnapshot(snapshot("x", owner: "u-nobody")) }
        #expect(noUser?.code == .notFound)
    }

    @Test("publish rules: insert, by sandbox, by alias, unique alias and port, delete")
    func publish() async throws {
        let store = try SandboxStore(path: ":memory:")
        let dev = sandbox("dev")
        let web = sandbox("web")
        try await store.insert(dev)
        try await store.insert(web)
        let api = PublishRule(sandboxID: dev.id, port: 8080, alias: "dev-api", createdAt: epoch)
        let site = PublishRule(sandboxID: dev.id, port: 3000, alias: "dev-site", createdAt: epoch)
        try await store.insertPublishRule(api)
        try await store.insertPublishRule(site)
        #expect(try await store.publishRules(sandboxID: dev.id) == [site, api])
        #expect(try await store.publishRule(alias: "dev-api") == api)
        #expect(try await store.publishRule(alias: "nope") == nil)
        // By owner, in one join: the admin's (no owner) here, another owner's none.
        #expect(try await store.publishRules(ownedBy: nil) == [site, api])
        #expect(try await store.publishRules(ownedBy: "u-someone").isEmpty)

        let aliasTaken = await #expect(throws: BhattiError.self) {
            try await store.insertPublishRule(PublishRule(sandboxID: web.id, port: 80, alias: "dev-api", createdAt: epoch))
        }
        #expect(aliasTaken?.code == .alreadyExists)
        #expect(aliasTaken?.message.contains("alias") == true)
        let portTaken = await #expect(throws: BhattiError.self) {
            try await store.insertPublishRule(PublishRule(sandboxID: dev.id, port: 8080, alias: "other", createdAt: epoch))
        }
        #expect(portTaken?.code == .alreadyExists)
        let noSandbox = await #expect(throws: BhattiError.self) {
            try await store.insertPublishRule(PublishRule(sandboxID: .random(), port: 80, alias: "x", createdAt: epoch))
        }
        #expect(noSandbox?.code == .notFound)

        try await store.deletePublishRule(sandboxID: dev.id, port: 8080)
        #expect(try await store.allPublishRules() == [site])
        let gone = await #expect(throws: BhattiError.self) { try await store.deletePublishRule(sandboxID: dev.id, port: 8080) }
        #expect(gone?.code == .notFound)
    }

    @Test("deleting a sandbox deletes its publish rules")
    func publishCascade() async throws {
        let store = try SandboxStore(path: ":memory:")
        let dev = sandbox("dev")
        let web = sandbox("web")
        try await store.insert(dev)
        try await store.insert(web)
        try await store.insertPublishRule(PublishRule(sandboxID: dev.id, port: 80, alias: "dev", createdAt: epoch))
        let kept = PublishRule(sandboxID: web.id, port: 80, alias: "web", createdAt: epoch)
        try await store.insertPublishRule(kept)
        try await store.delete(dev.id)
        #expect(try await store.allPublishRules() == [kept])
        // The alias is free again.
        try await store.insertPublishRule(PublishRule(sandboxID: web.id, port: 81, alias: "dev", createdAt: epoch))
    }
}
