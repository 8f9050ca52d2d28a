import CSQLite
import Foundation

/// SQLite failures, with SQLite's own code and message.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "sqlite error \(code): \(message)" }
    /// A UNIQUE or PRIMARY KEY constraint failed.
    public var isConstraintViolation: Bool { code & 0xff == SQLITE_CONSTRAINT }
}

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe by itself: `SandboxStore` serialises access.
final class Database {
    private let handle: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw StoreError(code: rc, message: "\(path): \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { sqlite3_close(handle) }

    private func error(_ rc: Int32) -> StoreError {
        StoreError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs statements without results (schema, pragmas).
    func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// A value bound to a `?` parameter.
    enum Value {
        case text(String)
        case int(Int64)
        case null
    }

    /// Runs one statement with bound parameters; returns the rows as arrays of optional strings/ints.
    @discardableResult
    func query(_ sql: String, _ parameters: [Value] = []) throws -> [[Value]] {
        var statement: OpaquePointer?
        var rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc) }
        defer { sqlite3_finalize(statement) }
        for (i, p) in parameters.enumerated() {
            let index = Int32(i + 1)
            switch p {
            case .text(let s): rc = sqlite3_bind_text(statement, index, s, -1, SQLITE_TRANSIENT)
            case .int(let n): rc = sqlite3_bind_int64(statement, index, n)
            case .null: rc = sqlite3_bind_null(statement, index)
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
        var rows: [[Value]] = []
        while true {
            rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc) }
            var row: [Value] = []
            for c in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, c) {
                case SQLITE_NULL: row.append(.null)
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(statement, c)))
                default: row.append(.text(String(cString: sqlite3_column_text(statement, c))))
                }
            }
            rows.append(row)
        }
        return rows
    }

    var userVersion: Int {
        get throws {
            guard case .int(let v)? = try query("PRAGMA user_version").first?.first else { return 0 }
            return Int(v)
        }
    }

    /// Applies the migrations past `user_version`, each in its own transaction.
    func migrate(_ migrations: [String]) throws {
        let current = try userVersion
        for (i, sql) in migrations.enumerated() where i >= current {
            try execute("BEGIN IMMEDIATE")
            do {
                try execute(sql)
                try execute("PRAGMA user_version = \(i + 1)")
                try execute("COMMIT")
            } catch {
                try? execute("ROLLBACK")
                throw error
            }
        }
    }
}

extension Database.Value {
    var text: String? { if case .text(let s) = self { s } else { nil } }
    var int: Int64? { if case .int(let n) = self { n } else { nil } }
}
