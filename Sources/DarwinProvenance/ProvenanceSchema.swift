import GRDB

/// The provenance database schema: named, append-only migrations.
///
/// Never edit a migration that has shipped; add a new one.
enum ProvenanceSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-job-runs-stages-tasks") { db in
            try db.execute(
                sql: """
                    CREATE TABLE job (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        recipe_text TEXT NOT NULL,
                        recipe_hash TEXT NOT NULL,
                        recipe_path TEXT NOT NULL,
                        base_directory TEXT NOT NULL,
                        darwin_version TEXT NOT NULL,
                        host TEXT NOT NULL,
                        rank INTEGER NOT NULL,
                        world_size INTEGER NOT NULL,
                        seed INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        finished_at REAL
                    );
                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        command TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        host TEXT NOT NULL,
                        workers INTEGER NOT NULL,
                        darwin_version TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        heartbeat_at REAL NOT NULL,
                        finished_at REAL,
                        status TEXT NOT NULL,
                        message TEXT
                    );
                    CREATE TABLE stages (
                        name TEXT PRIMARY KEY,
                        position INTEGER NOT NULL,
                        level INTEGER NOT NULL,
                        fingerprint TEXT NOT NULL,
                        definition TEXT NOT NULL,
                        phases TEXT NOT NULL
                    );
                    CREATE TABLE tasks (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        stage TEXT NOT NULL,
                        phase INTEGER NOT NULL,
                        phase_name TEXT NOT NULL,
                        shard_index INTEGER NOT NULL,
                        shard TEXT NOT NULL,
                        rank INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        run_id INTEGER,
                        started_at REAL,
                        finished_at REAL,
                        seconds REAL,
                        docs_in INTEGER NOT NULL DEFAULT 0,
                        bytes_in INTEGER NOT NULL DEFAULT 0,
                        docs_out INTEGER NOT NULL DEFAULT 0,
                        bytes_out INTEGER NOT NULL DEFAULT 0,
                        docs_rejected INTEGER NOT NULL DEFAULT 0,
                        bytes_rejected INTEGER NOT NULL DEFAULT 0,
                        docs_errored INTEGER NOT NULL DEFAULT 0,
                        output_path TEXT,
                        output_checksum TEXT,
                        outputs TEXT,
                        error TEXT,
                        UNIQUE (stage, phase, shard_index)
                    );
                    CREATE INDEX tasks_by_status ON tasks (stage, status);
                    CREATE TABLE step_stats (
                        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                        step TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        docs_in INTEGER NOT NULL,
                        dropped INTEGER NOT NULL,
                        seconds REAL NOT NULL,
                        PRIMARY KEY (task_id, step)
                    );
                    CREATE TABLE step_rules (
                        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                        step TEXT NOT NULL,
                        rule TEXT NOT NULL,
                        documents INTEGER NOT NULL,
                        bytes INTEGER NOT NULL,
                        PRIMARY KEY (task_id, step, rule)
                    );
                    CREATE TABLE step_counters (
                        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                        step TEXT NOT NULL,
                        counter TEXT NOT NULL,
                        value INTEGER NOT NULL,
                        PRIMARY KEY (task_id, step, counter)
                    );
                    CREATE TABLE step_histograms (
                        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                        step TEXT NOT NULL,
                        name TEXT NOT NULL,
                        histogram TEXT NOT NULL,
                        PRIMARY KEY (task_id, step, name)
                    );
                    CREATE TABLE input_errors (
                        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                        kind TEXT NOT NULL,
                        count INTEGER NOT NULL,
                        PRIMARY KEY (task_id, kind)
                    );
                    """)
        }
        migrator.registerMigration("v2-input-identity-error-samples-lineage-counts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE input_shards (
                        name TEXT PRIMARY KEY,
                        path TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        modified_ns INTEGER NOT NULL,
                        sample_hash TEXT NOT NULL,
                        content_hash TEXT,
                        checked_at REAL NOT NULL
                    );
                    CREATE TABLE input_error_samples (
                        task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        location TEXT NOT NULL,
                        message TEXT NOT NULL,
                        PRIMARY KEY (task_id, position)
                    );
                    ALTER TABLE tasks ADD COLUMN errors_unwritten INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE tasks ADD COLUMN docs_created INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE tasks ADD COLUMN docs_consumed INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE step_stats ADD COLUMN created INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE step_stats ADD COLUMN consumed INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        return migrator
    }
}
