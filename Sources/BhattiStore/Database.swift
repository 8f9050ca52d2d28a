import CSQLite
import Foundation

// Extended result codes: sqlite3.h defines them as expressions that Swift does not import.
private let SQLITE_CONSTRAINT_FOREIGNKEY = SQLITE_CONSTRAINT | (3 << 8)
private let SQLITE_CONSTRAINT_PRIMARYKEY = SQLITE_CONSTRAINT | (6 << 8)
private let SQLITE_CONSTRAINT_UNIQUE = SQLITE_CONSTRAINT | (8 << 8)

/// SQLite failures, with SQLite's own (extended) code and message.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "sqlite error \(code): \(message)" }
    /// Any constraint failed: UNIQUE, PRIMARY KEY, FOREIGN KEY, NOT NULL or CHECK.
    public var isConstraintViolation: Bool { code & 0xff == SQLITE_CONSTRAINT }
    /// A FOREIGN KEY constraint failed: the row refers to a missing parent, or is still referred to.
    public var isForeignKeyViolation: Bool { code == SQLITE_CONSTRAINT_FOREIGNKEY }
    /// A UNIQUE or PRIMARY KEY constraint failed on `table.column` (SQLite names the columns in the message).
    func isUniqueViolation(on column: String) -> Bool {
        (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) && message.contains(column)
    }
    /// A stored value that does not decode: the file was changed by hand or by a newer daemon.
    static func corrupt(_ what: String) -> StoreError { StoreError(code: SQLITE_MISMATCH, message: what) }
}

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe by itself: `SandboxStore` serialises access.
final class Database {
    private let handle: OpaquePointer
    /// Prepared statements by SQL text. The store runs a small fixed set of statements, so each is parsed once.
    private var statements: [String: OpaquePointer] = [:]
    /// Only SQL built at run time could grow the cache past this; it is then emptied rather than left to grow.
    private static let statementLimit = 128

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
        // Extended codes tell a UNIQUE failure from a FOREIGN KEY one.
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    private func error(_ rc: Int32) -> StoreError {
        StoreError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs statements without results or parameters (schema, pragmas, transaction control).
    func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// A value bound to a `?` parameter, or read from a column.
    enum Value: Equatable {
        case text(String)
        case int(Int64)
        case blob([UInt8])
        case null
    }

    /// Runs one statement with bound parameters; returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [Value] = []) throws -> [[Value]] {
        let statement = try prepared(sql)
        // A reset statement holds no read transaction open, whether it finished or threw.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var rc: Int32
        for (i, p) in parameters.enumerated() {
            let index = Int32(i + 1)
            switch p {
            case .text(let s): rc = sqlite3_bind_text(statement, index, s, -1, SQLITE_TRANSIENT)
            case .int(let n): rc = sqlite3_bind_int64(statement, index, n)
            case .blob(let bytes):
                // An empty array has no base address, and a nil pointer would bind NULL.
                rc = bytes.withUnsafeBytes { raw in
                    raw.baseAddress.map { sqlite3_bind_blob64(statement, index, $0, UInt64(raw.count), SQLITE_TRANSIENT) }
                        ?? sqlite3_bind_zeroblob(statement, index, 0)
                }
            case .null: rc = sqlite3_bind_null(statement, index)
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
        var rows: [[Value]] = []
        while true {
            rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc) }
            rows.append((0..<sqlite3_column_count(statement)).map { column(statement, $0) })
        }
        return rows
    }

    private func column(_ statement: OpaquePointer, _ c: Int32) -> Value {
        switch sqlite3_column_type(statement, c) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(statement, c))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, c))
            return .blob(sqlite3_column_blob(statement, c).map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? [])
        default: return .text(sqlite3_column_text(statement, c).map { String(cString: $0) } ?? "")
        }
    }

    /// The cached statement for `sql`, prepared on first use.
    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc) }
        if statements.count >= Database.statementLimit {
            for old in statements.values { sqlite3_finalize(old) }
            statements.removeAll()
        }
        statements[sql] = statement
        return statement
    }

    /// Runs `body` as one transaction: all of its writes or none. Inside another transaction it becomes a
    /// savepoint, so a caught failure undoes only its own part.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        let outermost = sqlite3_get_autocommit(handle) != 0
        // IMMEDIATE takes the write lock up front: a read-then-write cannot fail half way with SQLITE_BUSY.
        try execute(outermost ? "BEGIN IMMEDIATE" : "SAVEPOINT nested")
        do {
            let result = try body()
            try execute(outermost ? "COMMIT" : "RELEASE nested")
            return result
        } catch {
            if outermost {
                try? execute("ROLLBACK")
            } else {
                try? execute("ROLLBACK TO nested")
                try? execute("RELEASE nested")
            }
            throw error
        }
    }

    var userVersion: Int {
        get throws {
            guard case .int(let v)? = try query("PRAGMA user_version").first?.first else { return 0 }
            return Int(v)
        }
    }

    /// Applies the migrations past `user_version`, each in its own transaction.
    /// Foreign keys are off while they run, as SQLite's recipe for rebuilding a table asks (a DROP would
    /// otherwise cascade into the tables that refer to it); each migration must leave them consistent,
    /// which `foreign_key_check` verifies before its commit.
    func migrate(_ migrations: [String]) throws {
        let current = try userVersion
        guard current < migrations.count else { return }
        // A no-op inside a transaction, so set outside one.
        try execute("PRAGMA foreign_keys=OFF")
        defer { try? execute("PRAGMA foreign_keys=ON") }
        for (i, sql) in migrations.enumerated() where i >= current {
            try transaction {
                try execute(sql)
                if let broken = try query("PRAGMA foreign_key_check").first {
                    throw StoreError(code: SQLITE_CONSTRAINT, message: "migration \(i + 1) breaks a foreign key: \(broken)")
                }
                try execute("PRAGMA user_version = \(i + 1)")
            }
        }
    }
}
