extension SandboxStore {
    /// The schema, one entry per `user_version`. Append only: databases in the field are at every earlier
    /// version, and an edited entry would never run on them.
    static let migrations = [
        """
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
        """,
        // Users, ownership, secrets, snapshots, publish rules and the event log. Times are milliseconds.
        // Sandboxes and snapshots refer to their owner without a cascade: their files and VMs must go
        // first, so deleting a user who still has them fails instead of orphaning them.
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY CHECK (id <> ''),
            name TEXT NOT NULL UNIQUE,
            key_sha256 TEXT NOT NULL UNIQUE,
            is_admin INTEGER NOT NULL DEFAULT 0,
            max_sandboxes INTEGER NOT NULL,
            max_cpus INTEGER NOT NULL,
            max_memory_mb INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        );
        ALTER TABLE sandboxes ADD COLUMN user_id TEXT REFERENCES users(id);
        CREATE INDEX sandboxes_user ON sandboxes (user_id);
        CREATE TABLE secrets (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            ciphertext BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (user_id, name)
        );
        CREATE TABLE snapshots (
            id TEXT PRIMARY KEY,
            user_id TEXT REFERENCES users(id),
            name TEXT NOT NULL,
            source_sandbox_id TEXT,
            cpus INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            disk_mb INTEGER,
            image TEXT NOT NULL,
            directory TEXT NOT NULL,
            size_bytes INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        );
        -- NULLs are distinct in a UNIQUE constraint: without COALESCE the admin's (NULL-owned) names would not be unique.
        CREATE UNIQUE INDEX snapshots_owner_name ON snapshots (COALESCE(user_id, ''), name);
        CREATE TABLE publish_rules (
            sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
            port INTEGER NOT NULL,
            alias TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (sandbox_id, port)
        );
        -- An audit log: no foreign keys, so it outlives the sandboxes and users it mentions.
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            sandbox_id TEXT,
            user_id TEXT,
            kind TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX events_sandbox ON events (sandbox_id, seq);
        """,
        // Sandbox names become unique per owner, like snapshot names: two users may both have a "dev", and a
        // taken name must not tell one user that another's sandbox exists. SQLite cannot drop a column's
        // UNIQUE, so the table is rebuilt (foreign keys are off during migrations; see Database.migrate).
        """
        CREATE TABLE sandboxes_v3 (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            cpus INTEGER NOT NULL,
            memory_mb INTEGER NOT NULL,
            disk_mb INTEGER,
            image TEXT NOT NULL,
            labels TEXT NOT NULL DEFAULT '{}',
            keep_hot INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            state_reason TEXT,
            user_id TEXT REFERENCES users(id)
        );
        INSERT INTO sandboxes_v3 (id, name, state, cpus, memory_mb, disk_mb, image, labels, keep_hot, created_at, state_reason, user_id)
            SELECT id, name, state, cpus, memory_mb, disk_mb, image, labels, keep_hot, created_at, state_reason, user_id FROM sandboxes;
        DROP TABLE sandboxes;
        ALTER TABLE sandboxes_v3 RENAME TO sandboxes;
        CREATE INDEX sandboxes_user ON sandboxes (user_id);
        CREATE UNIQUE INDEX sandboxes_owner_name ON sandboxes (COALESCE(user_id, ''), name);
        CREATE INDEX events_user ON events (user_id, seq);
        CREATE INDEX events_kind ON events (kind, seq);
        """,
        // Networking: each user's /24 in the pool (by index), each sandbox's host number and address in it.
        """
        ALTER TABLE users ADD COLUMN net_index INTEGER;
        CREATE UNIQUE INDEX users_net_index ON users (net_index) WHERE net_index IS NOT NULL;
        ALTER TABLE sandboxes ADD COLUMN net_host INTEGER;
        ALTER TABLE sandboxes ADD COLUMN ip TEXT;
        """,
        // Egress policy per sandbox (JSON); NULL is public.
        """
        ALTER TABLE sandboxes ADD COLUMN egress TEXT;
        """,
        // Per-user I/O rate limits (JSON); NULL takes the daemon's default.
        """
        ALTER TABLE users ADD COLUMN io_limits TEXT;
        """,
        // Sandboxes made through the E2B API: their ports are public as E2B's are, and their deadline
        // (epoch ms; NULL while paused) outlives a restart.
        """
        CREATE TABLE e2b_sandboxes (
            sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,
            deadline INTEGER
        );
        """,
        // What an E2B sandbox's timeout does: 'kill' (E2B's default) or 'pause' (its `autoPause`).
        """
        ALTER TABLE e2b_sandboxes ADD COLUMN on_timeout TEXT NOT NULL DEFAULT 'kill';
        """,
    ]
}
