import BhattiCore
import Foundation
import Testing

@testable import BhattiStore

@Suite("Migrations")
struct MigrationTests {
    /// The schema as shipped at user_version 1, written out literally so later edits to the code cannot hide a break.
    static let versionOne = """
        CREATE TABLE sandboxes (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL,
            cpus INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            disk_mb INTEGER,
            image TEXT NOT NULL,
            labels TEXT NOT NULL DEFAULT '{}',
            keep_hot INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            state_reason TEXT
        );
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        PRAGMA user_version = 1;
        INSERT INTO sandboxes VALUES ('0123456789abcdef', 'old', 'cold', 2, 1024, 4096, 'default', '{"team":"a"}', 1, 1700000000000, NULL);
        INSERT INTO settings VALUES ('k', 'v');
        """

    @Test("a version 1 database gains the new tables and keeps its rows")
    func fromVersionOne() async throws {
        try await withDatabaseFile { path in
            try Database(path: path).execute(Self.versionOne)
            let store = try SandboxStore(path: path)
            let old = try #require(try await store.find("old", ownedBy: nil))
            #expect(
                old
                    == SandboxRecord(
                        id: SandboxID(rawValue: "0123456789abcdef")!, name: SandboxName(rawValue: "old")!, state: .cold, cpus: 2,
                        memoryMB: 1024, diskMB: 4096, image: "default", labels: ["team": "a"], keepHot: true, createdAt: epoch))
            #expect(try await store.setting("k") == "v")
            #expect(try Database(path: path).userVersion == SandboxStore.migrations.count)

            // The new tables work, and an old sandbox can gain rules that cascade with it.
            try await store.insertUser(user("ann"))
            try await store.insertPublishRule(PublishRule(sandboxID: old.id, port: 80, alias: "old-web", createdAt: epoch))
            try await store.delete(old.id)
            #expect(try await store.publishRule(alias: "old-web") == nil)
        }
    }

    @Test("opening twice runs nothing again")
    func idempotent() async throws {
        try await withDatabaseFile { path in
            _ = try SandboxStore(path: path)
            _ = try SandboxStore(path: path)
            #expect(try Database(path: path).userVersion == SandboxStore.migrations.count)
        }
    }

    @Test("a failing migration leaves the database at the version before it")
    func failedMigration() async throws {
        try await withDatabaseFile { path in
            let db = try Database(path: path)
            #expect(throws: StoreError.self) {
                try db.migrate([SandboxStore.migrations[0], "CREATE TABLE half (x); CREATE TABLE broken ("])
            }
            #expect(try db.userVersion == 1)
            #expect(try db.query("SELECT name FROM sqlite_master WHERE name = 'half'").isEmpty)
        }
    }

    @Test("version 3 rebuilds sandboxes without cascading into publish rules, and foreign keys stay enforced")
    func fromVersionTwo() async throws {
        try await withDatabaseFile { path in
            let db = try Database(path: path)
            try db.migrate(Array(SandboxStore.migrations.prefix(2)))
            try db.execute(
                """
                INSERT INTO users VALUES ('u-ann', 'ann', 'h', 0, 5, 4, 4096, 1700000000000);
                INSERT INTO sandboxes (id, name, state, cpus, memory_mb, image, created_at, user_id)
                    VALUES ('0123456789abcdef', 'dev', 'hot', 1, 512, 'default', 1700000000000, 'u-ann');
                INSERT INTO publish_rules VALUES ('0123456789abcdef', 3000, 'ann-dev', 1700000000000);
                """)
            let store = try SandboxStore(path: path)
            #expect(try Database(path: path).userVersion == SandboxStore.migrations.count)
            let dev = try #require(try await store.find("dev", ownedBy: "u-ann"))
            #expect(try await store.publishRule(alias: "ann-dev")?.sandboxID == dev.id)
            // Foreign keys are back on: an unknown owner is refused, and a delete still cascades.
            let orphan = await #expect(throws: BhattiError.self) { try await store.insert(sandbox("x", owner: "u-nobody")) }
            #expect(orphan?.code == .notFound)
            try await store.delete(dev.id)
            #expect(try await store.publishRule(alias: "ann-dev") == nil)
        }
    }
}
