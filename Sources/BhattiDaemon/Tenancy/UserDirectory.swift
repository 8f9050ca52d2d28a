public import BhattiCore
public import BhattiStore
import Foundation
import Synchronization

/// The authenticated caller of a request.
public struct Caller: Sendable {
    public let user: UserRecord
    /// The namespace the caller's sandboxes, snapshots and secrets live in.
    public var owner: String { user.id }
    public var isAdmin: Bool { user.isAdmin }
    /// 0 in a user's record means no limit (the admin's are all 0).
    public var limits: OwnerLimits {
        func limit(_ n: Int) -> Int? { n > 0 ? n : nil }
        return OwnerLimits(maxSandboxes: limit(user.maxSandboxes), maxCPUs: limit(user.maxCPUs), maxMemoryMB: limit(user.maxMemoryMB))
    }
}

/// Users and their keys. The store is the truth; this keeps every user in memory by key hash so a
/// request authenticates with one SHA-256 and one dictionary lookup, without touching SQLite. Every
/// change goes to the store first, then here.
public final class UserDirectory: Sendable {
    public static let adminName = "admin"
    public static let defaultLimits = (sandboxes: 5, cpus: 4, memoryMB: 4096)

    private let store: SandboxStore
    private let adminKeyPath: String
    private let byKeyHash: Mutex<[String: UserRecord]>
    /// The admin's user id: its sandboxes are the operator's, never rate limited.
    public let adminID: String

    private init(store: SandboxStore, adminKeyPath: String, users: [UserRecord], adminID: String) {
        self.store = store
        self.adminKeyPath = adminKeyPath
        self.adminID = adminID
        byKeyHash = Mutex(Dictionary(users.map { ($0.keySHA256, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Loads the users, making sure the admin exists with the key in `admin.key` (the file wins: it is
    /// what the operator holds, and a rotation writes it before the store). Rows from before users
    /// existed become the admin's.
    static func load(store: SandboxStore, adminKey: String, adminKeyPath: String) async throws -> UserDirectory {
        let hash = APIKey.hash(adminKey)
        let adminID: String
        if var admin = try await store.user(named: adminName) {
            adminID = admin.id
            if admin.keySHA256 != hash {
                try await store.rotateUserKey(named: adminName, keySHA256: hash)
                admin.keySHA256 = hash
            }
            _ = try await store.adoptUnowned(by: admin.id)
        } else {
            let admin = UserRecord(
                id: newUserID(), name: adminName, keySHA256: hash, isAdmin: true, maxSandboxes: 0, maxCPUs: 0, maxMemoryMB: 0,
                createdAt: Date())
            try await store.insertUser(admin)
            _ = try await store.adoptUnowned(by: admin.id)
            adminID = admin.id
        }
        return UserDirectory(store: store, adminKeyPath: adminKeyPath, users: try await store.listUsers(), adminID: adminID)
    }

    /// The user a key belongs to, or nil. The lookup is by the key's SHA-256; the digests are then
    /// compared in constant time, so nothing about a stored hash leaks through timing.
    public func authenticate(key: String) -> UserRecord? {
        let hash = APIKey.hash(key)
        guard let user = byKeyHash.withLock({ $0[hash] }), APIKey.constantTimeEqual(user.keySHA256, hash) else { return nil }
        return user
    }

    public func list() async throws -> [UserRecord] { try await store.listUsers() }

    public func user(named name: String) async throws -> UserRecord {
        guard let user = try await store.user(named: name) else {
            throw BhattiError(.notFound, "user \(BhattiError.shortened(name)) not found")
        }
        return user
    }

    /// Creates a user; returns it and its key, which is never shown again.
    public func create(name: String, maxSandboxes: Int?, maxCPUs: Int?, maxMemoryMB: Int?, ioLimits: IOLimits? = nil) async throws -> (
        UserRecord, key: String
    ) {
        try ioLimits?.validate()
        guard SandboxName(rawValue: name) != nil else {
            throw BhattiError(
                .invalidArgument,
                "invalid user name \(BhattiError.quoted(name)): use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        let limits = (
            maxSandboxes ?? Self.defaultLimits.sandboxes, maxCPUs ?? Self.defaultLimits.cpus, maxMemoryMB ?? Self.defaultLimits.memoryMB
        )
        guard limits.0 >= 1, (SandboxSpec.cpuRange).contains(limits.1), (SandboxSpec.memoryRange).contains(limits.2) else {
            throw BhattiError(
                .invalidArgument,
                "limits must be at least 1 sandbox, \(SandboxSpec.cpuRange) cpus and \(SandboxSpec.memoryRange) MB of memory")
        }
        let key = APIKey.generate()
        let user = UserRecord(
            id: Self.newUserID(), name: name, keySHA256: APIKey.hash(key), maxSandboxes: limits.0, maxCPUs: limits.1,
            maxMemoryMB: limits.2, ioLimits: ioLimits, createdAt: Date())
        try await store.insertUser(user)
        byKeyHash.withLock { $0[user.keySHA256] = user }
        return (user, key)
    }

    /// Sets a user's I/O limits (nil: the daemon's default), in the store first.
    public func setIOLimits(name: String, _ limits: IOLimits?) async throws -> UserRecord {
        try limits?.validate()
        var user = try await self.user(named: name)
        user.ioLimits = limits
        try await store.setUserIOLimits(named: name, limits)
        byKeyHash.withLock { $0[user.keySHA256] = user }
        return user
    }

    /// A new key for `name`; the old one stops working before this returns. The admin's new key is
    /// written to `admin.key` first, so a crash between the two leaves the file right (see `load`).
    public func rotateKey(name: String) async throws -> (UserRecord, key: String) {
        var user = try await self.user(named: name)
        let key = APIKey.generate()
        if user.isAdmin { try AdminKey.writePrivate(path: adminKeyPath, contents: key + "\n") }
        let old = user.keySHA256
        user.keySHA256 = APIKey.hash(key)
        try await store.rotateUserKey(named: name, keySHA256: user.keySHA256)
        byKeyHash.withLock {
            $0[old] = nil
            $0[user.keySHA256] = user
        }
        return (user, key)
    }

    /// Deletes a user who owns nothing any more (their sandboxes and snapshots are gone first).
    public func delete(name: String) async throws {
        let user = try await self.user(named: name)
        guard !user.isAdmin else { throw BhattiError(.invalidArgument, "the admin user cannot be deleted") }
        try await store.deleteUser(named: name)
        byKeyHash.withLock { $0[user.keySHA256] = nil }
    }

    /// `usr_` + 8 hex, as the seed's ids.
    static func newUserID() -> String {
        "usr_" + String(SandboxID.random().rawValue.prefix(8))
    }
}
