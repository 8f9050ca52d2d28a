public import BhattiCore
public import Foundation

/// What an E2B sandbox's timeout does to it.
public enum E2BTimeoutAction: String, Sendable {
    /// Destroyed: E2B's default.
    case kill
    /// Stopped to cold, to be resumed by `connect` or any call: E2B's `autoPause`.
    case pause
}

extension SandboxStore {
    /// Marks a sandbox as made through the E2B API, with its deadline (nil: none) and what that
    /// deadline does. An unknown sandbox is `notFound`.
    public func insertE2BSandbox(_ id: SandboxID, deadline: Date?, onTimeout: E2BTimeoutAction = .kill) throws {
        do {
            try db.query(
                "INSERT INTO e2b_sandboxes (sandbox_id, deadline, on_timeout) VALUES (?,?,?)",
                [.text(id.rawValue), deadline.map { .millis($0) } ?? .null, .text(onTimeout.rawValue)])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.notFound, "sandbox \(id) not found", cause: e)
        }
    }

    /// What the sandbox's E2B timeout does; nil for a sandbox not made through E2B.
    public func e2bTimeoutAction(_ id: SandboxID) throws -> E2BTimeoutAction? {
        guard let row = try db.query("SELECT on_timeout FROM e2b_sandboxes WHERE sandbox_id = ?", [.text(id.rawValue)]).first else {
            return nil
        }
        let raw = try Row(row).text(0)
        guard let action = E2BTimeoutAction(rawValue: raw) else {
            throw BhattiError(.internal, "sandbox \(id) has an unknown E2B timeout action \(raw)")
        }
        return action
    }

    /// Changes what the sandbox's E2B timeout does (a resume may ask for auto-pause).
    public func setE2BTimeoutAction(_ id: SandboxID, _ action: E2BTimeoutAction) throws {
        try db.query("UPDATE e2b_sandboxes SET on_timeout = ? WHERE sandbox_id = ?", [.text(action.rawValue), .text(id.rawValue)])
    }

    /// Moves (or, nil, clears) an E2B sandbox's deadline; a sandbox not made through E2B is left alone.
    public func setE2BDeadline(_ id: SandboxID, _ deadline: Date?) throws {
        try db.query(
            "UPDATE e2b_sandboxes SET deadline = ? WHERE sandbox_id = ?", [deadline.map { .millis($0) } ?? .null, .text(id.rawValue)])
    }

    /// Whether the sandbox was made through the E2B API.
    public func isE2BSandbox(_ id: SandboxID) throws -> Bool {
        try !db.query("SELECT 1 FROM e2b_sandboxes WHERE sandbox_id = ?", [.text(id.rawValue)]).isEmpty
    }

    /// Every sandbox's id, whether it is hot and whether it was made through the E2B API: what a
    /// metrics round needs, in one query (no record is decoded).
    public func sandboxHeat() throws -> [(id: SandboxID, hot: Bool, e2b: Bool)] {
        try db.query(
            """
            SELECT s.id, s.state = 'hot', e.sandbox_id IS NOT NULL FROM sandboxes s
            LEFT JOIN e2b_sandboxes e ON e.sandbox_id = s.id
            """
        ).map {
            let row = Row($0)
            return (try row.sandboxID(0), try row.bool(1), try row.bool(2))
        }
    }

    /// Every E2B sandbox that has a deadline, with its owner: what a starting daemon schedules again.
    public func e2bDeadlines() throws -> [(id: SandboxID, owner: String?, deadline: Date)] {
        try db.query(
            """
            SELECT e.sandbox_id, s.user_id, e.deadline FROM e2b_sandboxes e JOIN sandboxes s ON s.id = e.sandbox_id
            WHERE e.deadline IS NOT NULL ORDER BY e.deadline
            """
        ).map {
            let row = Row($0)
            return (try row.sandboxID(0), try row.optionalText(1), try row.date(2))
        }
    }
}
