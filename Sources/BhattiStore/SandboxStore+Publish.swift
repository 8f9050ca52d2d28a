public import BhattiCore
public import Foundation

/// A sandbox port published on the public proxy under `alias` (SPEC §7).
public struct PublishRule: Equatable, Sendable {
    public var sandboxID: SandboxID
    public var port: Int
    /// The URL's path segment or host label; unique across all sandboxes.
    public var alias: String
    public var createdAt: Date

    public init(sandboxID: SandboxID, port: Int, alias: String, createdAt: Date) {
        self.sandboxID = sandboxID
        self.port = port
        self.alias = alias
        self.createdAt = createdAt.atStorePrecision
    }

    init(_ row: Row) throws {
        self.init(sandboxID: try row.sandboxID(0), port: Int(try row.int(1)), alias: try row.text(2), createdAt: try row.date(3))
    }
}

extension SandboxStore {
    private static let publishColumns = "sandbox_id, port, alias, created_at"

    /// Publishes a port. A taken alias or an already published port throws `alreadyExists`; an unknown
    /// sandbox `notFound`. Deleting the sandbox removes its rules.
    public func insertPublishRule(_ r: PublishRule) throws {
        do {
            try db.query(
                "INSERT INTO publish_rules (\(Self.publishColumns)) VALUES (?,?,?,?)",
                [.text(r.sandboxID.rawValue), .int(Int64(r.port)), .text(r.alias), .millis(r.createdAt)])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.notFound, "sandbox \(r.sandboxID) not found", cause: e)
        } catch let e as StoreError where e.isUniqueViolation(on: "publish_rules.alias") {
            throw BhattiError(.alreadyExists, "the alias \(r.alias) is taken", cause: e)
        } catch let e as StoreError where e.isConstraintViolation {
            throw BhattiError(.alreadyExists, "port \(r.port) of sandbox \(r.sandboxID) is already published", cause: e)
        }
    }

    /// A sandbox's published ports, by port.
    public func publishRules(sandboxID: SandboxID) throws -> [PublishRule] {
        try db.query("SELECT \(Self.publishColumns) FROM publish_rules WHERE sandbox_id = ? ORDER BY port", [.text(sandboxID.rawValue)])
            .map { try PublishRule(Row($0)) }
    }

    /// The rules of one owner's sandboxes, by sandbox and port: for the `urls` of a list, in one query.
    public func publishRules(ownedBy userID: String?) throws -> [PublishRule] {
        try db.query(
            """
            SELECT r.sandbox_id, r.port, r.alias, r.created_at FROM publish_rules r JOIN sandboxes s ON s.id = r.sandbox_id
            WHERE COALESCE(s.user_id, '') = ? ORDER BY r.sandbox_id, r.port
            """, [.text(userID ?? "")]
        ).map { try PublishRule(Row($0)) }
    }

    /// The rule behind a public URL: how the proxy routes a request.
    public func publishRule(alias: String) throws -> PublishRule? {
        try db.query("SELECT \(Self.publishColumns) FROM publish_rules WHERE alias = ?", [.text(alias)])
            .first.map { try PublishRule(Row($0)) }
    }

    /// Every rule, for the proxy's table at start.
    public func allPublishRules() throws -> [PublishRule] {
        try db.query("SELECT \(Self.publishColumns) FROM publish_rules ORDER BY alias").map { try PublishRule(Row($0)) }
    }

    public func deletePublishRule(sandboxID: SandboxID, port: Int) throws {
        let deleted = try db.query(
            "DELETE FROM publish_rules WHERE sandbox_id = ? AND port = ? RETURNING port",
            [.text(sandboxID.rawValue), .int(Int64(port))])
        guard !deleted.isEmpty else { throw BhattiError(.notFound, "port \(port) of sandbox \(sandboxID) is not published") }
    }
}
