public import BhattiCore
public import Foundation

extension SandboxStore {
    /// Marks a sandbox as made through the E2B API, with its deadline (nil: none). An unknown sandbox
    /// is `notFound`.
    public func insertE2BSandbox(_ id: SandboxID, deadline: Date?) throws {
        do {
            try db.query(
                "INSERT INTO e2b_sandboxes (sandbox_id, deadline) VALUES (?,?)",
                [.text(id.rawValue), deadline.map { .millis($0) } ?? .null])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.notFound, "sandbox \(id) not found", cause: e)
        }
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
