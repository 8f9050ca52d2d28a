public import BhattiCore
public import Foundation

/// A sandbox as recorded: what survives a daemon restart.
public struct SandboxRecord: Equatable, Sendable {
    public var id: SandboxID
    public var name: SandboxName
    public var state: SandboxState
    public var cpus: Int
    public var memoryMB: Int
    public var diskMB: Int?
    public var image: String
    public var labels: [String: String]
    public var keepHot: Bool
    public var createdAt: Date
    /// Why the sandbox is in `error`, for people.
    public var stateReason: String?
    /// The owning user's id; nil for the admin's sandboxes.
    public var userID: String?
    /// Its address on the owner's network, once it has one.
    public var ip: String?
    public var egress: EgressPolicy = .publicAccess

    public init(
        id: SandboxID, name: SandboxName, state: SandboxState, cpus: Int, memoryMB: Int, diskMB: Int? = nil,
        image: String, labels: [String: String] = [:], keepHot: Bool = false, createdAt: Date, stateReason: String? = nil,
        userID: String? = nil
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.diskMB = diskMB
        self.image = image
        self.labels = labels
        self.keepHot = keepHot
        self.createdAt = createdAt
        self.stateReason = stateReason
        self.userID = userID
    }
}

/// The SQLite store: the truth across restarts. An actor: one connection, one caller at a time.
/// Each operation is one transaction; the repositories for users, secrets, snapshots, publish rules and
/// events are extensions in their own files.
public actor SandboxStore {
    let db: Database
    let eventRetention: EventRetention

    /// Opens (creating and migrating) the database at `path`; ":memory:" for tests.
    public init(path: String, eventRetention: EventRetention = .standard) throws {
        db = try Database(path: path)
        self.eventRetention = eventRetention
        try db.migrate(SandboxStore.migrations)
    }

    /// Runs several store operations as one transaction: if `body` throws, none of its writes remain.
    public func transaction<T: Sendable>(_ body: @Sendable (isolated SandboxStore) throws -> T) throws -> T {
        try db.transaction { try body(self) }
    }

    /// Columns in the order `decode` reads them; explicit, because `user_id` came later than `SELECT *` assumed.
    private static let sandboxColumns =
        "id, name, state, cpus, memory_mb, disk_mb, image, labels, keep_hot, created_at, state_reason, user_id, ip, egress"

    /// Inserts a new sandbox. A taken name throws `alreadyExists`. With `maxForOwner`, an owner who
    /// already has that many is refused with `resourceExhausted`, checked in the same transaction as the
    /// insert so concurrent creates cannot pass the limit together.
    public func insert(_ r: SandboxRecord, maxForOwner: Int? = nil) throws {
        try db.transaction {
            if let limit = maxForOwner {
                let have = try count(ownedBy: r.userID)
                guard have < limit else {
                    throw BhattiError(.resourceExhausted, "sandbox limit reached (\(have)/\(limit)); destroy one first")
                }
            }
            try insertRow(r)
        }
    }

    private func insertRow(_ r: SandboxRecord) throws {
        do {
            try db.query(
                "INSERT INTO sandboxes (\(Self.sandboxColumns)) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    .text(r.id.rawValue), .text(r.name.rawValue), .text(r.state.rawValue), .int(Int64(r.cpus)), .int(Int64(r.memoryMB)),
                    r.diskMB.map { .int(Int64($0)) } ?? .null, .text(r.image), .text(encodeLabels(r.labels)), .int(r.keepHot ? 1 : 0),
                    .int(Int64(r.createdAt.timeIntervalSince1970 * 1000)), .nullable(r.stateReason), .nullable(r.userID), .nullable(r.ip),
                    .nullable(
                        r.egress == .publicAccess ? nil : String(decoding: (try? JSONEncoder().encode(r.egress)) ?? Data(), as: UTF8.self)),
                ])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.notFound, "user \(r.userID ?? "") not found", cause: e)
        } catch let e as StoreError where e.isConstraintViolation {
            throw BhattiError(.alreadyExists, "a sandbox named \(r.name) already exists", cause: e)
        }
    }

    /// Records a new state (and why).
    public func setState(_ id: SandboxID, _ state: SandboxState, reason: String? = nil) throws {
        try db.query(
            "UPDATE sandboxes SET state = ?, state_reason = ? WHERE id = ?",
            [.text(state.rawValue), reason.map { .text($0) } ?? .null, .text(id.rawValue)])
    }

    /// Records a grown root disk.
    public func setDiskMB(_ id: SandboxID, _ megabytes: Int) throws {
        try db.query("UPDATE sandboxes SET disk_mb = ? WHERE id = ?", [.int(Int64(megabytes)), .text(id.rawValue)])
    }

    /// Renames, pins or unpins, and relabels in one statement. A taken name throws `alreadyExists`.
    public func update(_ id: SandboxID, name: SandboxName, keepHot: Bool, labels: [String: String]) throws {
        do {
            try db.query(
                "UPDATE sandboxes SET name = ?, keep_hot = ?, labels = ? WHERE id = ?",
                [.text(name.rawValue), .int(keepHot ? 1 : 0), .text(encodeLabels(labels)), .text(id.rawValue)])
        } catch let e as StoreError where e.isConstraintViolation {
            throw BhattiError(.alreadyExists, "a sandbox named \(name) already exists", cause: e)
        }
    }

    /// Removes the row; its publish rules go with it (foreign key cascade).
    public func delete(_ id: SandboxID) throws {
        try db.query("DELETE FROM sandboxes WHERE id = ?", [.text(id.rawValue)])
    }

    /// Looks a sandbox up by id, then by name, among one owner's (nil: the admin's). Another owner's
    /// sandbox is not found, whichever way it is named. The COALESCE matches the unique index's expression.
    public func find(_ idOrName: String, ownedBy userID: String?) throws -> SandboxRecord? {
        let owner = Database.Value.text(userID ?? "")
        return try db.query(
            """
            SELECT \(Self.sandboxColumns) FROM sandboxes WHERE id = ? AND COALESCE(user_id, '') = ?
            UNION ALL SELECT \(Self.sandboxColumns) FROM sandboxes WHERE COALESCE(user_id, '') = ? AND name = ? LIMIT 1
            """,
            [.text(idOrName), owner, owner, .text(idOrName)]
        ).first.map(decode)
    }

    /// A sandbox by id, whoever owns it: for the daemon's own bookkeeping, never for a request.
    public func sandbox(id: SandboxID) throws -> SandboxRecord? {
        try db.query("SELECT \(Self.sandboxColumns) FROM sandboxes WHERE id = ?", [.text(id.rawValue)]).first.map(decode)
    }

    /// Every sandbox, oldest first.
    public func list() throws -> [SandboxRecord] {
        let decoder = JSONDecoder()
        return try db.query("SELECT \(Self.sandboxColumns) FROM sandboxes ORDER BY created_at, name").map { decode($0, decoder: decoder) }
    }

    /// The sandboxes one owner has (nil: the admin's), oldest first.
    public func list(ownedBy userID: String?) throws -> [SandboxRecord] {
        let decoder = JSONDecoder()
        return try db.query(
            "SELECT \(Self.sandboxColumns) FROM sandboxes WHERE COALESCE(user_id, '') = ? ORDER BY created_at, name",
            [.text(userID ?? "")]
        )
        .map { decode($0, decoder: decoder) }
    }

    /// How many sandboxes one owner has: what the sandbox limit counts.
    public func count(ownedBy userID: String?) throws -> Int {
        Int(try db.query("SELECT COUNT(*) FROM sandboxes WHERE COALESCE(user_id, '') = ?", [.text(userID ?? "")]).first?.first?.int ?? 0)
    }

    public func setting(_ key: String) throws -> String? {
        try db.query("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?.first?.text
    }

    public func setSetting(_ key: String, _ value: String) throws {
        try db.query(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [.text(key), .text(value)])
    }

    private func decode(_ row: [Database.Value]) -> SandboxRecord { decode(row, decoder: JSONDecoder()) }

    private func decode(_ row: [Database.Value], decoder: JSONDecoder) -> SandboxRecord {
        let labels: [String: String] =
            row[7].text == "{}"
            ? [:]
            : (row[7].text?.data(using: .utf8)).flatMap { try? decoder.decode([String: String].self, from: $0) } ?? [:]
        var record = SandboxRecord(
            id: SandboxID(rawValue: row[0].text ?? "") ?? SandboxID.random(),
            name: SandboxName(rawValue: row[1].text ?? "") ?? SandboxName(rawValue: "invalid")!,
            state: SandboxState(rawValue: row[2].text ?? "") ?? .error,
            cpus: Int(row[3].int ?? 1), memoryMB: Int(row[4].int ?? 0), diskMB: row[5].int.map { Int($0) },
            image: row[6].text ?? "", labels: labels, keepHot: row[8].int == 1,
            createdAt: Date(timeIntervalSince1970: Double(row[9].int ?? 0) / 1000), stateReason: row[10].text, userID: row[11].text)
        record.ip = row[12].text
        if let text = row[13].text, let policy = try? decoder.decode(EgressPolicy.self, from: Data(text.utf8)) { record.egress = policy }
        return record
    }

    private func encodeLabels(_ labels: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? String(decoding: encoder.encode(labels), as: UTF8.self)) ?? "{}"
    }
}

extension SandboxStore {
    /// The owner's network index (its /24 in the pool) and a host number for the sandbox, assigned on
    /// first use and kept: the lowest free of each. One transaction, so concurrent creates never share.
    public func assignNetwork(sandboxID: SandboxID, ownerID: String, capacity: Int) throws -> (index: Int, host: Int) {
        try db.transaction {
            var index = try db.query("SELECT net_index FROM users WHERE id = ?", [.text(ownerID)]).first?.first?.int.map { Int($0) }
            if index == nil {
                let taken = Set(
                    try db.query("SELECT net_index FROM users WHERE net_index IS NOT NULL").compactMap { $0.first?.int.map { Int($0) } })
                guard let free = (0..<capacity).first(where: { !taken.contains($0) }) else {
                    throw BhattiError(.resourceExhausted, "the network pool has no /24 left for another user")
                }
                try db.query("UPDATE users SET net_index = ? WHERE id = ?", [.int(Int64(free)), .text(ownerID)])
                index = free
            }
            if let host = try db.query("SELECT net_host FROM sandboxes WHERE id = ?", [.text(sandboxID.rawValue)]).first?.first?.int {
                return (index!, Int(host))
            }
            let used = Set(
                try db.query("SELECT net_host FROM sandboxes WHERE user_id = ? AND net_host IS NOT NULL", [.text(ownerID)])
                    .compactMap { $0.first?.int.map { Int($0) } })
            guard let host = (2...254).first(where: { !used.contains($0) }) else {
                throw BhattiError(.resourceExhausted, "the user's network has no address left (253 sandboxes)")
            }
            try db.query("UPDATE sandboxes SET net_host = ? WHERE id = ?", [.int(Int64(host)), .text(sandboxID.rawValue)])
            return (index!, host)
        }
    }

    /// Records the address shown for the sandbox.
    public func setIP(_ id: SandboxID, _ ip: String?) throws {
        try db.query("UPDATE sandboxes SET ip = ? WHERE id = ?", [.nullable(ip), .text(id.rawValue)])
    }

    /// A user's network index, if assigned.
    public func netIndex(ownerID: String) throws -> Int? {
        try db.query("SELECT net_index FROM users WHERE id = ?", [.text(ownerID)]).first?.first?.int.map { Int($0) }
    }

    /// Network indexes of users who still have sandboxes: the namespaces to keep.
    public func netIndexesInUse() throws -> Set<Int> {
        Set(
            try db.query(
                """
                SELECT DISTINCT u.net_index FROM users u JOIN sandboxes s ON s.user_id = u.id WHERE u.net_index IS NOT NULL
                """
            ).compactMap { $0.first?.int.map { Int($0) } })
    }
}
