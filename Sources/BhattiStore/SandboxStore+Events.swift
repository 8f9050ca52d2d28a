public import BhattiCore
public import Foundation

/// How many events the log keeps. Pruning runs with every `pruneEvery`-th insert, so the table holds at
/// most `keep + keepAuthFailures + pruneEvery - 1` rows and most inserts pay nothing for it.
///
/// Failed authentications have their own budget: anyone who can reach the API causes them, without
/// a key, so they must not push the real events (creates, deletes, secrets, users) out of the log.
public struct EventRetention: Sendable {
    /// The kind with its own budget.
    public static let authFailed = "auth.failed"

    /// Events of every other kind.
    public let keep: Int
    /// `auth.failed` events.
    public let keepAuthFailures: Int
    public let pruneEvery: Int
    public init(keep: Int, keepAuthFailures: Int = 1_000, pruneEvery: Int) {
        self.keep = max(1, keep)
        self.keepAuthFailures = max(1, keepAuthFailures)
        self.pruneEvery = max(1, pruneEvery)
    }
    public static let standard = EventRetention(keep: 10_000, keepAuthFailures: 1_000, pruneEvery: 100)
}

/// One entry of the append-only lifecycle and audit log.
public struct EventRecord: Equatable, Sendable {
    /// Increases with every append and is never reused, so it orders events even within one millisecond.
    public var seq: Int64
    public var at: Date
    public var sandboxID: SandboxID?
    public var userID: String?
    /// What happened, e.g. `sandbox.created`.
    public var kind: String
    /// Details for people or tools: text or JSON.
    public var detail: String?

    public init(seq: Int64, at: Date, sandboxID: SandboxID? = nil, userID: String? = nil, kind: String, detail: String? = nil) {
        self.seq = seq
        self.at = at.atStorePrecision
        self.sandboxID = sandboxID
        self.userID = userID
        self.kind = kind
        self.detail = detail
    }

    init(_ row: Row) throws {
        self.init(
            seq: try row.int(0), at: try row.date(1), sandboxID: try row.optionalSandboxID(2), userID: try row.optionalText(3),
            kind: try row.text(4), detail: try row.optionalText(5))
    }
}

extension SandboxStore {
    private static let eventColumns = "seq, at, sandbox_id, user_id, kind, detail"

    /// Appends an event; every `pruneEvery`-th append also drops what falls out of the retention window,
    /// in the same transaction.
    @discardableResult
    public func appendEvent(
        _ kind: String, sandboxID: SandboxID? = nil, userID: String? = nil, detail: String? = nil, at: Date = Date()
    ) throws -> EventRecord {
        try db.transaction {
            let row = try db.query(
                "INSERT INTO events (at, sandbox_id, user_id, kind, detail) VALUES (?,?,?,?,?) RETURNING \(Self.eventColumns)",
                [.millis(at), .nullable(sandboxID?.rawValue), .nullable(userID), .text(kind), .nullable(detail)])
            let event = try EventRecord(Row(row[0]))
            if event.seq % Int64(eventRetention.pruneEvery) == 0 {
                // Each budget drops what is older than its `keep`-th newest event (none when it has fewer).
                let kind = Database.Value.text(EventRetention.authFailed)
                try db.query(
                    "DELETE FROM events WHERE kind = ? AND seq <= (SELECT seq FROM events WHERE kind = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    [kind, kind, .int(Int64(eventRetention.keepAuthFailures))])
                try db.query(
                    "DELETE FROM events WHERE kind <> ? AND seq <= (SELECT seq FROM events WHERE kind <> ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    [kind, kind, .int(Int64(eventRetention.keep))])
            }
            return event
        }
    }

    /// A sandbox's events, newest first.
    public func events(sandboxID: SandboxID, limit: Int = 100) throws -> [EventRecord] {
        try db.query(
            "SELECT \(Self.eventColumns) FROM events WHERE sandbox_id = ? ORDER BY seq DESC LIMIT ?",
            [.text(sandboxID.rawValue), .int(Int64(max(0, limit)))]
        ).map { try EventRecord(Row($0)) }
    }

    /// Everyone's events, newest first.
    public func recentEvents(limit: Int = 100) throws -> [EventRecord] {
        try db.query("SELECT \(Self.eventColumns) FROM events ORDER BY seq DESC LIMIT ?", [.int(Int64(max(0, limit)))])
            .map { try EventRecord(Row($0)) }
    }
}

/// What `GET /v1/events` asks for; every field narrows, none widens.
public struct EventFilter: Sendable, Equatable {
    /// `auth` matches `auth.failed`; `sandbox.created` matches itself.
    public var kindPrefix: String?
    public var userID: String?
    public var sandboxID: SandboxID?
    public var since: Date?
    public var limit: Int
    public init(kindPrefix: String? = nil, userID: String? = nil, sandboxID: SandboxID? = nil, since: Date? = nil, limit: Int = 100) {
        self.kindPrefix = kindPrefix
        self.userID = userID
        self.sandboxID = sandboxID
        self.since = since
        self.limit = limit
    }
}

extension SandboxStore {
    /// Events matching `filter`, newest first. The SQL is built from fixed fragments; values are bound.
    public func events(matching filter: EventFilter) throws -> [EventRecord] {
        var clauses: [String] = []
        var values: [Database.Value] = []
        if let prefix = filter.kindPrefix {
            clauses.append("(kind = ? OR substr(kind, 1, ?) = ?)")
            values += [.text(prefix), .int(Int64(prefix.utf8.count + 1)), .text(prefix + ".")]
        }
        if let user = filter.userID {
            clauses.append("user_id = ?")
            values.append(.text(user))
        }
        if let sandbox = filter.sandboxID {
            clauses.append("sandbox_id = ?")
            values.append(.text(sandbox.rawValue))
        }
        if let since = filter.since {
            clauses.append("at >= ?")
            values.append(.millis(since))
        }
        let whereSQL = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        values.append(.int(Int64(max(0, filter.limit))))
        return try db.query("SELECT seq, at, sandbox_id, user_id, kind, detail FROM events\(whereSQL) ORDER BY seq DESC LIMIT ?", values)
            .map { try EventRecord(Row($0)) }
    }
}
