public import BhattiCore
public import Foundation

/// An API user. Only the SHA-256 of the key is kept (SPEC §8): the key itself is shown once.
public struct UserRecord: Equatable, Sendable {
    public var id: String
    public var name: String
    /// The API key's SHA-256, lowercase hex.
    public var keySHA256: String
    public var isAdmin: Bool
    public var maxSandboxes: Int
    public var maxCPUs: Int
    public var maxMemoryMB: Int
    /// nil: the daemon's default.
    public var ioLimits: IOLimits?
    public var createdAt: Date

    public init(
        id: String, name: String, keySHA256: String, isAdmin: Bool = false,
        maxSandboxes: Int, maxCPUs: Int, maxMemoryMB: Int, ioLimits: IOLimits? = nil, createdAt: Date
    ) {
        self.ioLimits = ioLimits
        self.id = id
        self.name = name
        self.keySHA256 = keySHA256
        self.isAdmin = isAdmin
        self.maxSandboxes = maxSandboxes
        self.maxCPUs = maxCPUs
        self.maxMemoryMB = maxMemoryMB
        self.createdAt = createdAt.atStorePrecision
    }

    init(_ row: Row) throws {
        self.init(
            id: try row.text(0), name: try row.text(1), keySHA256: try row.text(2), isAdmin: try row.bool(3),
            maxSandboxes: Int(try row.int(4)), maxCPUs: Int(try row.int(5)), maxMemoryMB: Int(try row.int(6)),
            ioLimits: try row.optionalText(8).flatMap { try? JSONDecoder().decode(IOLimits.self, from: Data($0.utf8)) },
            createdAt: try row.date(7))
    }
}

extension SandboxStore {
    private static let userColumns = "id, name, key_sha256, is_admin, max_sandboxes, max_cpus, max_memory_mb, created_at, io_limits"

    static func encode(_ limits: IOLimits?) -> String? {
        limits.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Sets (or with nil clears, back to the daemon's default) a user's I/O limits; false if no such user.
    @discardableResult
    public func setUserIOLimits(named name: String, _ limits: IOLimits?) throws -> Bool {
        !(try db.query("UPDATE users SET io_limits = ? WHERE name = ? RETURNING id", [.nullable(Self.encode(limits)), .text(name)])).isEmpty
    }

    /// Adds a user. A taken name, id or key throws `alreadyExists`.
    public func insertUser(_ u: UserRecord) throws {
        do {
            try db.query(
                "INSERT INTO users (\(Self.userColumns)) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    .text(u.id), .text(u.name), .text(u.keySHA256), .bool(u.isAdmin), .int(Int64(u.maxSandboxes)),
                    .int(Int64(u.maxCPUs)), .int(Int64(u.maxMemoryMB)), .millis(u.createdAt), .nullable(Self.encode(u.ioLimits)),
                ])
        } catch let e as StoreError where e.isUniqueViolation(on: "users.key_sha256") {
            throw BhattiError(.alreadyExists, "this key already belongs to a user", cause: e)
        } catch let e as StoreError where e.isUniqueViolation(on: "users.id") {
            throw BhattiError(.alreadyExists, "a user with id \(u.id) already exists", cause: e)
        } catch let e as StoreError where e.isConstraintViolation {
            throw BhattiError(.alreadyExists, "a user named \(u.name) already exists", cause: e)
        }
    }

    public func user(named name: String) throws -> UserRecord? {
        try db.query("SELECT \(Self.userColumns) FROM users WHERE name = ?", [.text(name)]).first.map { try UserRecord(Row($0)) }
    }

    public func user(id: String) throws -> UserRecord? {
        try db.query("SELECT \(Self.userColumns) FROM users WHERE id = ?", [.text(id)]).first.map { try UserRecord(Row($0)) }
    }

    /// The user whose key hashes to `keySHA256`: how a request authenticates.
    public func user(keySHA256: String) throws -> UserRecord? {
        try db.query("SELECT \(Self.userColumns) FROM users WHERE key_sha256 = ?", [.text(keySHA256)])
            .first.map { try UserRecord(Row($0)) }
    }

    /// Every user, oldest first.
    public func listUsers() throws -> [UserRecord] {
        try db.query("SELECT \(Self.userColumns) FROM users ORDER BY created_at, name").map { try UserRecord(Row($0)) }
    }

    /// Replaces a user's key hash; the old key stops working at once.
    public func rotateUserKey(named name: String, keySHA256: String) throws {
        let updated: [[Database.Value]]
        do {
            updated = try db.query("UPDATE users SET key_sha256 = ? WHERE name = ? RETURNING id", [.text(keySHA256), .text(name)])
        } catch let e as StoreError where e.isConstraintViolation {
            throw BhattiError(.alreadyExists, "this key already belongs to a user", cause: e)
        }
        guard !updated.isEmpty else { throw BhattiError(.notFound, "user \(name) not found") }
    }

    /// Deletes a user and their secrets. A user who still owns sandboxes or snapshots is refused: their VMs
    /// and files must be removed first.
    public func deleteUser(named name: String) throws {
        let deleted: [[Database.Value]]
        do {
            deleted = try db.query("DELETE FROM users WHERE name = ? RETURNING id", [.text(name)])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.invalidState, "user \(name) still owns sandboxes or snapshots", cause: e)
        }
        guard !deleted.isEmpty else { throw BhattiError(.notFound, "user \(name) not found") }
    }
}

extension SandboxStore {
    /// Gives rows from before users existed (no owner) to `userID`: the admin, on upgrade.
    public func adoptUnowned(by userID: String) throws -> Int {
        try db.transaction {
            let sandboxes = try db.query("UPDATE sandboxes SET user_id = ? WHERE user_id IS NULL RETURNING id", [.text(userID)])
            let snapshots = try db.query("UPDATE snapshots SET user_id = ? WHERE user_id IS NULL RETURNING id", [.text(userID)])
            return sandboxes.count + snapshots.count
        }
    }
}
