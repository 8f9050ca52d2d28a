public import BhattiCore
public import Foundation

/// A named memory+disk checkpoint. Names are unique per owner; the admin's snapshots (no owner) share one
/// namespace of their own.
public struct SnapshotRecord: Equatable, Sendable {
    public var id: String
    /// The owning user's id; nil for the admin's snapshots.
    public var userID: String?
    public var name: String
    /// The sandbox it was taken from; that sandbox may be gone since.
    public var sourceSandboxID: SandboxID?
    public var cpus: Int
    public var memoryMB: Int
    public var diskMB: Int?
    public var image: String
    /// Where the RAM file, disk overlay and device state live.
    public var directory: String
    public var sizeBytes: Int64
    public var createdAt: Date

    public init(
        id: String, userID: String? = nil, name: String, sourceSandboxID: SandboxID? = nil, cpus: Int, memoryMB: Int,
        diskMB: Int? = nil, image: String, directory: String, sizeBytes: Int64 = 0, createdAt: Date
    ) {
        self.id = id
        self.userID = userID
        self.name = name
        self.sourceSandboxID = sourceSandboxID
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.diskMB = diskMB
        self.image = image
        self.directory = directory
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt.atStorePrecision
    }

    init(_ row: Row) throws {
        self.init(
            id: try row.text(0), userID: try row.optionalText(1), name: try row.text(2), sourceSandboxID: try row.optionalSandboxID(3),
            cpus: Int(try row.int(4)), memoryMB: Int(try row.int(5)), diskMB: try row.optionalInt(6), image: try row.text(7),
            directory: try row.text(8), sizeBytes: try row.int(9), createdAt: try row.date(10))
    }
}

extension SandboxStore {
    private static let snapshotColumns =
        "id, user_id, name, source_sandbox_id, cpus, memory_mb, disk_mb, image, directory, size_bytes, created_at"

    /// Records a snapshot. A name the owner already uses throws `alreadyExists`; an unknown owner `notFound`.
    public func insertSnapshot(_ s: SnapshotRecord) throws {
        do {
            try db.query(
                "INSERT INTO snapshots (\(Self.snapshotColumns)) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    .text(s.id), .nullable(s.userID), .text(s.name), .nullable(s.sourceSandboxID?.rawValue), .int(Int64(s.cpus)),
                    .int(Int64(s.memoryMB)), .nullable(s.diskMB), .text(s.image), .text(s.directory), .int(s.sizeBytes),
                    .millis(s.createdAt),
                ])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.notFound, "user \(s.userID ?? "") not found", cause: e)
        } catch let e as StoreError where e.isUniqueViolation(on: "snapshots.id") {
            throw BhattiError(.alreadyExists, "a snapshot with id \(s.id) already exists", cause: e)
        } catch let e as StoreError where e.isConstraintViolation {
            throw BhattiError(.alreadyExists, "a snapshot named \(s.name) already exists", cause: e)
        }
    }

    /// The snapshot `name` of one owner (nil: the admin's). The COALESCE matches the unique index's expression.
    public func snapshot(ownedBy userID: String?, named name: String) throws -> SnapshotRecord? {
        try db.query(
            "SELECT \(Self.snapshotColumns) FROM snapshots WHERE COALESCE(user_id, '') = ? AND name = ?",
            [.text(userID ?? ""), .text(name)]
        ).first.map { try SnapshotRecord(Row($0)) }
    }

    public func snapshot(id: String) throws -> SnapshotRecord? {
        try db.query("SELECT \(Self.snapshotColumns) FROM snapshots WHERE id = ?", [.text(id)]).first.map { try SnapshotRecord(Row($0)) }
    }

    /// One owner's snapshots (nil: the admin's), oldest first.
    public func snapshots(ownedBy userID: String?) throws -> [SnapshotRecord] {
        try db.query(
            "SELECT \(Self.snapshotColumns) FROM snapshots WHERE COALESCE(user_id, '') = ? ORDER BY created_at, name",
            [.text(userID ?? "")]
        ).map { try SnapshotRecord(Row($0)) }
    }

    /// Every snapshot of every owner, oldest first.
    public func allSnapshots() throws -> [SnapshotRecord] {
        try db.query("SELECT \(Self.snapshotColumns) FROM snapshots ORDER BY created_at, name").map { try SnapshotRecord(Row($0)) }
    }

    /// Records the size on disk once the files are written.
    public func setSnapshotSize(id: String, bytes: Int64) throws {
        let updated = try db.query("UPDATE snapshots SET size_bytes = ? WHERE id = ? RETURNING id", [.int(bytes), .text(id)])
        guard !updated.isEmpty else { throw BhattiError(.notFound, "snapshot \(id) not found") }
    }

    /// Forgets a snapshot; its directory is the caller's to remove.
    public func deleteSnapshot(id: String) throws {
        let deleted = try db.query("DELETE FROM snapshots WHERE id = ? RETURNING id", [.text(id)])
        guard !deleted.isEmpty else { throw BhattiError(.notFound, "snapshot \(id) not found") }
    }
}
