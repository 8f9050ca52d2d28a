import BhattiCore
import Foundation
import Testing

@testable import BhattiStore

@Suite("SQLite connection")
struct DatabaseTests {
    @Test("cached statements give the right rows when interleaved, and forget old bindings")
    func statementCache() async throws {
        try await withDatabaseFile { path in
            let db = try Database(path: path)
            try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
            let insert = "INSERT INTO t VALUES (?, ?)"
            let get = "SELECT v FROM t WHERE k = ?"
            let count = "SELECT count(*) FROM t"
            for i in 0..<50 {
                try db.query(insert, [.text("k\(i)"), .int(Int64(i))])
                #expect(try db.query(get, [.text("k\(i)")]) == [[.int(Int64(i))]])
                #expect(try db.query(count) == [[.int(Int64(i + 1))]])
                #expect(try db.query(get, [.text("k\(i / 2)")]) == [[.int(Int64(i / 2))]])
            }
            // A statement that failed is reset: the same statement runs again with new values.
            #expect(throws: StoreError.self) { try db.query(insert, [.text("k1"), .int(0)]) }
            try db.query(insert, [.text("new"), .int(7)])
            #expect(try db.query(get, [.text("new")]) == [[.int(7)]])
            // Parameters not bound this time are NULL, not the previous call's values.
            #expect(try db.query("SELECT ?, ?", [.int(1), .int(2)]) == [[.int(1), .int(2)]])
            #expect(try db.query("SELECT ?, ?", [.int(3)]) == [[.int(3), .null]])
        }
    }

    @Test("blobs round-trip, empty and with zero bytes")
    func blobs() async throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE b (v BLOB NOT NULL)")
        let bytes: [UInt8] = [0, 1, 0, 255, 0]
        for value in [[], bytes, Array(repeating: 7, count: 100_000)] as [[UInt8]] {
            try db.query("DELETE FROM b")
            try db.query("INSERT INTO b VALUES (?)", [.blob(value)])
            #expect(try db.query("SELECT v FROM b") == [[.blob(value)]])
        }
    }

    // Each scenario is its own test: with Swift 6.3.1, after `#expect(throws:) { try f { A } }`, a later
    // `try f { B }` in the same function ran A again instead of B.
    @Test("a failed transaction leaves nothing behind")
    func failedTransaction() async throws {
        try await withDatabaseFile { path in
            let db = try Database(path: path)
            try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
            #expect(throws: StoreError.self) {
                try db.transaction {
                    try db.query("INSERT INTO t VALUES ('a')")
                    try db.query("INSERT INTO t VALUES ('b')")
                    try db.query("INSERT INTO t VALUES ('a')")
                }
            }
            #expect(try db.query("SELECT k FROM t").isEmpty)
            #expect(try Database(path: path).query("SELECT k FROM t").isEmpty)
        }
    }

    @Test("a failed nested transaction undoes only its own part")
    func nestedTransaction() async throws {
        try await withDatabaseFile { path in
            let db = try Database(path: path)
            try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
            try db.transaction {
                try db.query("INSERT INTO t VALUES ('outer')")
                _ = try? db.transaction {
                    try db.query("INSERT INTO t VALUES ('inner')")
                    try db.query("INSERT INTO t VALUES ('outer')")
                }
            }
            #expect(try Database(path: path).query("SELECT k FROM t") == [[.text("outer")]])
        }
    }

    @Test("the store's transaction undoes every operation in it")
    func failedStoreTransaction() async throws {
        try await withDatabaseFile { path in
            let store = try SandboxStore(path: path)
            let a = sandbox("a")
            let b = sandbox("b")
            let error = await #expect(throws: BhattiError.self) {
                try await store.transaction { s in
                    try s.insertUser(user("ann"))
                    try s.insert(a)
                    try s.appendEvent("sandbox.created", sandboxID: a.id)
                    try s.insert(b)
                    try s.insert(sandbox("a"))
                }
            }
            #expect(error?.code == .alreadyExists)
            #expect(try await store.list().isEmpty)
            #expect(try await store.listUsers().isEmpty)
            #expect(try await store.recentEvents().isEmpty)
        }
    }

    @Test("the store's transaction commits every operation in it")
    func storeTransaction() async throws {
        try await withDatabaseFile { path in
            let store = try SandboxStore(path: path)
            let a = sandbox("a")
            try await store.transaction { s in
                try s.insert(a)
                try s.appendEvent("sandbox.created", sandboxID: a.id)
            }
            let reopened = try SandboxStore(path: path)
            #expect(try await reopened.list() == [a])
            #expect(try await reopened.events(sandboxID: a.id).map(\.kind) == ["sandbox.created"])
        }
    }
}
