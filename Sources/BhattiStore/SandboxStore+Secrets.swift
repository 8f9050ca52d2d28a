import BhattiCore
public import Foundation

/// A user's secret as stored: an age-format file. Encryption happens above the store, which never sees
/// the plaintext.
public struct SecretRecord: Equatable, Sendable {
    public var userID: String
    public var name: String
    public var ciphertext: [UInt8]
    public var createdAt: Date
    public var updatedAt: Date

    public init(userID: String, name: String, ciphertext: [UInt8], createdAt: Date, updatedAt: Date) {
        self.userID = userID
        self.name = name
        self.ciphertext = ciphertext
        self.createdAt = createdAt.atStorePrecision
        self.updatedAt = updatedAt.atStorePrecision
    }

    init(_ row: Row) throws {
        self.init(
            userID: try row.text(0), name: try row.text(1), ciphertext: try row.blob(2),
            createdAt: try row.date(3), updatedAt: try row.date(4))
    }
}

extension SandboxStore {
    private static let secretColumns = "user_id, name, ciphertext, created_at, updated_at"

    /// Creates or replaces a secret; a replacement keeps its creation time. An unknown user is `notFound`.
    public func setSecret(userID: String, name: String, ciphertext: [UInt8], at now: Date = Date()) throws {
        do {
            try db.query(
                """
                INSERT INTO secrets (\(Self.secretColumns)) VALUES (?,?,?,?,?)
                ON CONFLICT (user_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
                """,
                [.text(userID), .text(name), .blob(ciphertext), .millis(now), .millis(now)])
        } catch let e as StoreError where e.isForeignKeyViolation {
            throw BhattiError(.notFound, "user \(userID) not found", cause: e)
        }
    }

    public func secret(userID: String, name: String) throws -> SecretRecord? {
        try db.query("SELECT \(Self.secretColumns) FROM secrets WHERE user_id = ? AND name = ?", [.text(userID), .text(name)])
            .first.map { try SecretRecord(Row($0)) }
    }

    /// A user's secrets, by name.
    public func secrets(userID: String) throws -> [SecretRecord] {
        try db.query("SELECT \(Self.secretColumns) FROM secrets WHERE user_id = ? ORDER BY name", [.text(userID)])
            .map { try SecretRecord(Row($0)) }
    }

    /// A user's secret names, sorted: all the API ever shows of them.
    public func secretNames(userID: String) throws -> [String] {
        try db.query("SELECT name FROM secrets WHERE user_id = ? ORDER BY name", [.text(userID)]).map { try Row($0).text(0) }
    }

    public func deleteSecret(userID: String, name: String) throws {
        let deleted = try db.query("DELETE FROM secrets WHERE user_id = ? AND name = ? RETURNING name", [.text(userID), .text(name)])
        guard !deleted.isEmpty else { throw BhattiError(.notFound, "secret \(name) not found") }
    }
}
