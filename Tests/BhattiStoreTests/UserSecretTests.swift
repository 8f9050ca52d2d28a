import BhattiCore
import BhattiStore
import Foundation
import Testing

@Suite("Users and secrets")
struct UserSecretTests {
    @Test("users: insert, look up by name, id and key, list, rotate, delete")
    func users() async throws {
        try await withDatabaseFile { path in
            let store = try SandboxStore(path: path)
            let ann = user("ann")
            let bob = user("bob", at: 1)
            try await store.insertUser(ann)
            try await store.insertUser(bob)
            #expect(try await store.user(named: "ann") == ann)
            #expect(try await store.user(id: bob.id) == bob)
            #expect(try await store.user(keySHA256: ann.keySHA256) == ann)
            #expect(try await store.user(named: "nobody") == nil)
            #expect(try await store.listUsers() == [ann, bob])

            try await store.rotateUserKey(named: "ann", keySHA256: "new-hash")
            #expect(try await store.user(keySHA256: ann.keySHA256) == nil)
            #expect(try await store.user(keySHA256: "new-hash")?.name == "ann")

            try await store.deleteUser(named: "bob")
            #expect(try await store.listUsers().map(\.name) == ["ann"])
            let missing = await #expect(throws: BhattiError.self) { try await store.deleteUser(named: "bob") }
            #expect(missing?.code == .notFound)
            let rotateMissing = await #expect(throws: BhattiError.self) { try await store.rotateUserKey(named: "bob", keySHA256: "x") }
            #expect(rotateMissing?.code == .notFound)
        }
    }

    @Test("a user's I/O limits: none (the default) until set, kept exactly, cleared with nil, also after reopening")
    func ioLimits() async throws {
        try await withDatabaseFile { path in
            let limits = IOLimits(diskBytesPerSecond: 4 << 20, diskIOPS: 400, netMbitPerSecond: 8)
            do {
                let store = try SandboxStore(path: path)
                var ann = user("ann")
                ann.ioLimits = limits
                try await store.insertUser(ann)
                try await store.insertUser(user("bob", at: 1))
                #expect(try await store.user(named: "ann")?.ioLimits == limits)
                #expect(try await store.user(named: "bob")?.ioLimits == nil)
                #expect(try await store.setUserIOLimits(named: "bob", IOLimits(netMbitPerSecond: 100)))
                #expect(try await !store.setUserIOLimits(named: "nobody", nil))
            }
            let reopened = try SandboxStore(path: path)
            #expect(try await reopened.user(named: "ann")?.ioLimits == limits)
            #expect(try await reopened.user(named: "bob")?.ioLimits == IOLimits(netMbitPerSecond: 100))
            try await reopened.setUserIOLimits(named: "ann", nil)
            #expect(try await reopened.user(named: "ann")?.ioLimits == nil)
        }
    }

    @Test("a taken user name, id or key is already_exists")
    func userUniqueness() async throws {
        let store = try SandboxStore(path: ":memory:")
        let ann = user("ann")
        try await store.insertUser(ann)
        var sameName = user("bob")
        sameName.name = "ann"
        var sameKey = user("bob")
        sameKey.keySHA256 = ann.keySHA256
        var sameID = user("bob")
        sameID.id = ann.id
        for taken in [sameName, sameKey, sameID] {
            let error = await #expect(throws: BhattiError.self) { try await store.insertUser(taken) }
            #expect(error?.code == .alreadyExists)
        }
        try await store.insertUser(user("bob"))
        let rotated = await #expect(throws: BhattiError.self) { try await store.rotateUserKey(named: "bob", keySHA256: ann.keySHA256) }
        #expect(rotated?.code == .alreadyExists)
    }

    @Test("sandboxes record their owner; an owner with sandboxes cannot be deleted")
    func ownership() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insertUser(user("ann"))
        let owned = sandbox("dev", owner: "u-ann")
        let admins = sandbox("ops", at: 1)
        try await store.insert(owned)
        try await store.insert(admins)
        #expect(try await store.find("dev", ownedBy: "u-ann")?.userID == "u-ann")
        #expect(try await store.find(owned.id.rawValue, ownedBy: "u-ann") == owned)
        // Another owner finds nothing, by name or by id.
        #expect(try await store.find("dev", ownedBy: nil) == nil)
        #expect(try await store.find(owned.id.rawValue, ownedBy: nil) == nil)
        #expect(try await store.find("ops", ownedBy: "u-ann") == nil)
        #expect(try await store.sandbox(id: owned.id) == owned)
        #expect(try await store.list(ownedBy: "u-ann") == [owned])
        #expect(try await store.list(ownedBy: nil) == [admins])
        #expect(try await store.count(ownedBy: "u-ann") == 1)
        #expect(try await store.list() == [owned, admins])

        let orphan = await #expect(throws: BhattiError.self) { try await store.insert(sandbox("x", owner: "u-nobody")) }
        #expect(orphan?.code == .notFound)
        let busy = await #expect(throws: BhattiError.self) { try await store.deleteUser(named: "ann") }
        #expect(busy?.code == .invalidState)
        try await store.delete(owned.id)
        try await store.deleteUser(named: "ann")
    }

    @Test("sandbox names are unique per owner: two owners may use one name, one owner may not")
    func namesPerOwner() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insertUser(user("ann"))
        try await store.insertUser(user("bob"))
        try await store.insert(sandbox("dev", owner: "u-ann"))
        try await store.insert(sandbox("dev", owner: "u-bob", at: 1))
        try await store.insert(sandbox("dev", at: 2))
        let taken = await #expect(throws: BhattiError.self) { try await store.insert(sandbox("dev", owner: "u-ann", at: 3)) }
        #expect(taken?.code == .alreadyExists)
        let adminTaken = await #expect(throws: BhattiError.self) { try await store.insert(sandbox("dev", at: 4)) }
        #expect(adminTaken?.code == .alreadyExists)
        #expect(try await store.find("dev", ownedBy: "u-bob")?.userID == "u-bob")
        #expect(try await store.find("dev", ownedBy: nil)?.userID == nil)
    }

    @Test("secrets: upsert keeps the creation time, names are per user and sorted, bytes are kept exactly")
    func secrets() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insertUser(user("ann"))
        try await store.insertUser(user("bob"))
        let age = Array("age-encryption.org/v1\n".utf8) + [0, 0xff, 0, 1]
        try await store.setSecret(userID: "u-ann", name: "TOKEN", ciphertext: age, at: epoch)
        try await store.setSecret(userID: "u-ann", name: "API_KEY", ciphertext: [], at: epoch)
        try await store.setSecret(userID: "u-bob", name: "TOKEN", ciphertext: [1], at: epoch)
        #expect(
            try await store.secret(userID: "u-ann", name: "TOKEN")
                == SecretRecord(userID: "u-ann", name: "TOKEN", ciphertext: age, createdAt: epoch, updatedAt: epoch))
        #expect(try await store.secret(userID: "u-ann", name: "API_KEY")?.ciphertext == [])
        #expect(try await store.secretNames(userID: "u-ann") == ["API_KEY", "TOKEN"])

        try await store.setSecret(userID: "u-ann", name: "TOKEN", ciphertext: [9, 9], at: epoch + 60)
        let replaced = try #require(try await store.secret(userID: "u-ann", name: "TOKEN"))
        #expect(replaced.ciphertext == [9, 9] && replaced.createdAt == epoch && replaced.updatedAt == epoch + 60)
        #expect(try await store.secret(userID: "u-bob", name: "TOKEN")?.ciphertext == [1])
        #expect(try await store.secrets(userID: "u-ann").map(\.name) == ["API_KEY", "TOKEN"])

        try await store.deleteSecret(userID: "u-ann", name: "API_KEY")
        let gone = await #expect(throws: BhattiError.self) { try await store.deleteSecret(userID: "u-ann", name: "API_KEY") }
        #expect(gone?.code == .notFound)
        let noUser = await #expect(throws: BhattiError.self) { try await store.setSecret(userID: "u-nobody", name: "X", ciphertext: [1]) }
        #expect(noUser?.code == .notFound)
    }

    @Test("deleting a user deletes their secrets")
    func secretCascade() async throws {
        let store = try SandboxStore(path: ":memory:")
        try await store.insertUser(user("ann"))
        try await store.setSecret(userID: "u-ann", name: "TOKEN", ciphertext: [1])
        try await store.deleteUser(named: "ann")
        try await store.insertUser(user("ann"))
        #expect(try await store.secretNames(userID: "u-ann").isEmpty)
    }
}
