import DarwinCore
import Foundation
import GRDB

/// A provenance database error, naming the file and the operation.
public struct ProvenanceError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "\(path): \(message)" }
}

/// The SQLite record of one rank of a job: the job, its runs, stages, tasks and per-step statistics.
///
/// WAL mode; every state change is one transaction, so the file is consistent whenever the process
/// dies. A task is marked done in the same transaction that stores its statistics.
public final class ProvenanceStore: Sendable {
    /// The database file.
    public let path: String
    private let pool: DatabasePool

    /// Opens (creating and migrating when `readOnly` is false) a provenance file.
    ///
    /// - Throws: ``ProvenanceError`` naming the file.
    public init(path: String, readOnly: Bool = false) throws(ProvenanceError) {
        self.path = path
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = .timeout(30)
        config.foreignKeysEnabled = true
        config.label = "provenance"
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if !readOnly { try ProvenanceSchema.migrator.migrate(pool) }
        } catch {
            throw ProvenanceError(path: path, message: Self.describe(error))
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let e = error as? DatabaseError {
            let message = (e.message ?? "\(e.resultCode)").lowercased()
            // SQLite says "database or disk is full" for a full file system too: say it as the system would.
            if e.resultCode == ResultCode.SQLITE_FULL || e.extendedResultCode == ResultCode.SQLITE_FULL {
                return "No space left on device (sqlite: \(message))"
            }
            return message
        }
        return "\(error)"
    }

    private func write<T>(_ what: String, _ body: (Database) throws -> T) throws(ProvenanceError) -> T {
        do {
            return try pool.write(body)
        } catch {
            throw ProvenanceError(path: path, message: "\(what): \(Self.describe(error))")
        }
    }

    private func read<T>(_ what: String, _ body: (Database) throws -> T) throws(ProvenanceError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw ProvenanceError(path: path, message: "\(what): \(Self.describe(error))")
        }
    }

    // MARK: - Job

    /// The job, if recorded.
    public func job() throws(ProvenanceError) -> JobRecord? {
        try read("reading the job") { db in
            guard try db.tableExists("job"), let r = try Row.fetchOne(db, sql: "SELECT * FROM job WHERE id = 1") else {
                return nil
            }
            return JobRecord(
                recipeText: r["recipe_text"], recipeHash: r["recipe_hash"], recipePath: r["recipe_path"],
                baseDirectory: r["base_directory"], darwinVersion: r["darwin_version"], host: r["host"],
                rank: r["rank"], worldSize: r["world_size"], seed: UInt64(bitPattern: r["seed"]),
                createdAt: r["created_at"], updatedAt: r["updated_at"], finishedAt: r["finished_at"])
        }
    }

    /// Records the job, or updates its recipe and time stamps.
    public func saveJob(_ job: JobRecord) throws(ProvenanceError) {
        try write("saving the job") { db in
            try db.execute(
                sql: """
                    INSERT INTO job (id, recipe_text, recipe_hash, recipe_path, base_directory, darwin_version, host,
                        rank, world_size, seed, created_at, updated_at, finished_at)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET recipe_text = excluded.recipe_text,
                        recipe_hash = excluded.recipe_hash, recipe_path = excluded.recipe_path,
                        darwin_version = excluded.darwin_version, host = excluded.host,
                        updated_at = excluded.updated_at, finished_at = excluded.finished_at
                    """,
                arguments: [
                    job.recipeText, job.recipeHash, job.recipePath, job.baseDirectory, job.darwinVersion, job.host,
                    job.rank, job.worldSize, Int64(bitPattern: job.seed), job.createdAt, job.updatedAt,
                    job.finishedAt,
                ])
        }
    }

    // MARK: - Runs

    /// Starts a run record; returns its id.
    public func beginRun(command: String, workers: Int, host: String, now: Double) throws(ProvenanceError) -> Int64 {
        try write("recording the run") { db in
            try db.execute(
                sql: """
                    INSERT INTO runs (command, pid, host, workers, darwin_version, started_at, heartbeat_at, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'running')
                    """,
                arguments: [command, Int(getpid()), host, workers, DarwinVersion.current, now, now])
            return db.lastInsertedRowID
        }
    }

    /// Updates a run's heartbeat (so `status` can tell a live run from a dead one).
    public func heartbeat(run: Int64, now: Double) throws(ProvenanceError) {
        try write("updating the heartbeat") { db in
            try db.execute(sql: "UPDATE runs SET heartbeat_at = ? WHERE id = ?", arguments: [now, run])
        }
    }

    /// Ends a run with a status (`completed`, `failed`, `interrupted`) and a message.
    public func finishRun(_ run: Int64, status: String, message: String?, now: Double) throws(ProvenanceError) {
        try write("finishing the run") { db in
            try db.execute(
                sql: "UPDATE runs SET finished_at = ?, heartbeat_at = ?, status = ?, message = ? WHERE id = ?",
                arguments: [now, now, status, message, run])
        }
    }

    /// All runs, oldest first.
    public func runs() throws(ProvenanceError) -> [RunRecord] {
        try read("reading runs") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY id").map { r in
                RunRecord(
                    id: r["id"], command: r["command"], pid: r["pid"], host: r["host"], workers: r["workers"],
                    darwinVersion: r["darwin_version"], startedAt: r["started_at"], heartbeatAt: r["heartbeat_at"],
                    finishedAt: r["finished_at"], status: r["status"], message: r["message"])
            }
        }
    }

    // MARK: - Stages

    /// The stages as recorded, in order.
    public func stages() throws(ProvenanceError) -> [StageRecord] {
        try read("reading stages") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM stages ORDER BY position").map { r in
                let phases: String = r["phases"]
                return StageRecord(
                    name: r["name"], position: r["position"], level: r["level"], fingerprint: r["fingerprint"],
                    definition: r["definition"], phases: phases.split(separator: "\n").map(String.init))
            }
        }
    }

    /// Replaces the stage list (after a first run or a forced change).
    public func saveStages(_ stages: [StageRecord]) throws(ProvenanceError) {
        try write("saving stages") { db in
            try db.execute(sql: "DELETE FROM stages")
            for s in stages {
                try db.execute(
                    sql:
                        "INSERT INTO stages (name, position, level, fingerprint, definition, phases) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        s.name, s.position, s.level, s.fingerprint, s.definition, s.phases.joined(separator: "\n"),
                    ])
            }
        }
    }

    /// Forgets every task of the named stages (their outputs are removed by the caller).
    public func resetStages(_ names: [String]) throws(ProvenanceError) {
        try write("resetting stages") { db in
            for n in names { try db.execute(sql: "DELETE FROM tasks WHERE stage = ?", arguments: [n]) }
        }
    }

    // MARK: - Tasks

    /// Marks tasks left `running` by a process that no longer runs as `interrupted`.
    @discardableResult
    public func markAbandonedTasksInterrupted(now: Double) throws(ProvenanceError) -> Int {
        try write("recovering interrupted tasks") { db in
            try db.execute(
                sql: "UPDATE tasks SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
                arguments: [now])
            let tasks = db.changesCount
            try db.execute(
                sql: "UPDATE runs SET status = 'interrupted', finished_at = heartbeat_at WHERE status = 'running'")
            return tasks
        }
    }

    /// Marks a task running (creating it if needed) and counts the attempt.
    public func startTask(
        _ key: TaskKey, phaseName: String, shard: String, rank: Int, run: Int64, now: Double
    ) throws(ProvenanceError) {
        try write("starting task \(key)") { db in
            try db.execute(
                sql: """
                    INSERT INTO tasks (stage, phase, phase_name, shard_index, shard, rank, status, attempts, run_id,
                        started_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'running', 1, ?, ?)
                    ON CONFLICT(stage, phase, shard_index) DO UPDATE SET status = 'running',
                        attempts = attempts + 1, run_id = excluded.run_id, started_at = excluded.started_at,
                        finished_at = NULL, error = NULL, rank = excluded.rank
                    """,
                arguments: [key.stage, key.phase, phaseName, key.shardIndex, shard, rank, run, now])
        }
    }

    /// Marks a task done and stores its counts, outputs and statistics, in one transaction.
    public func completeTask(_ key: TaskKey, result: TaskResult, now: Double) throws(ProvenanceError) {
        let outputsJSON: String
        do {
            outputsJSON = String(decoding: try JSONEncoder().encode(result.outputs), as: UTF8.self)
        } catch {
            throw ProvenanceError(path: path, message: "encoding outputs of \(key): \(error)")
        }
        let histogramJSON = Self.histogramEncoder
        try write("completing task \(key)") { db in
            guard
                let id = try Int64.fetchOne(
                    db, sql: "SELECT id FROM tasks WHERE stage = ? AND phase = ? AND shard_index = ?",
                    arguments: [key.stage, key.phase, key.shardIndex])
            else { throw ProvenanceError(path: path, message: "task \(key) was never started") }
            let c = result.counts
            try db.execute(
                sql: """
                    UPDATE tasks SET status = 'done', finished_at = ?, seconds = ?, docs_in = ?, bytes_in = ?,
                        docs_out = ?, bytes_out = ?, docs_rejected = ?, bytes_rejected = ?, docs_errored = ?,
                        output_path = ?, output_checksum = ?, outputs = ?, error = NULL
                    WHERE id = ?
                    """,
                arguments: [
                    now, result.seconds, c.docsIn, c.bytesIn, c.docsOut, c.bytesOut, c.docsRejected, c.bytesRejected,
                    c.docsErrored, result.outputs.first?.path, result.outputs.first?.checksum, outputsJSON, id,
                ])
            for table in ["step_stats", "step_rules", "step_counters", "step_histograms", "input_errors"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE task_id = ?", arguments: [id])
            }
            for s in result.steps {
                try db.execute(
                    sql:
                        """
                        INSERT INTO step_stats (task_id, step, position, docs_in, dropped, seconds, created, consumed)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id, s.step, s.position, s.stats.documentsIn, s.stats.dropped, s.stats.seconds, s.stats.created,
                        s.stats.consumed,
                    ])
                for (rule, n) in s.stats.drops.sorted(by: { $0.key < $1.key }) {
                    try db.execute(
                        sql: "INSERT INTO step_rules (task_id, step, rule, documents, bytes) VALUES (?, ?, ?, ?, ?)",
                        arguments: [id, s.step, rule, n, s.stats.dropBytes[rule] ?? 0])
                }
                for (counter, n) in s.stats.counters.sorted(by: { $0.key < $1.key }) {
                    try db.execute(
                        sql: "INSERT INTO step_counters (task_id, step, counter, value) VALUES (?, ?, ?, ?)",
                        arguments: [id, s.step, counter, n])
                }
                for (name, h) in s.stats.histograms.sorted(by: { $0.key < $1.key }) where h.total > 0 {
                    let json = String(decoding: try histogramJSON.encode(h), as: UTF8.self)
                    try db.execute(
                        sql: "INSERT INTO step_histograms (task_id, step, name, histogram) VALUES (?, ?, ?, ?)",
                        arguments: [id, s.step, name, json])
                }
            }
            for (kind, n) in result.inputErrors.sorted(by: { $0.key < $1.key }) {
                try db.execute(
                    sql: "INSERT INTO input_errors (task_id, kind, count) VALUES (?, ?, ?)", arguments: [id, kind, n])
            }
            try db.execute(sql: "DELETE FROM input_error_samples WHERE task_id = ?", arguments: [id])
            for (i, e) in result.errorSamples.enumerated() {
                try db.execute(
                    sql:
                        "INSERT INTO input_error_samples (task_id, position, kind, location, message) VALUES (?, ?, ?, ?, ?)",
                    arguments: [id, i, e.kind, e.location, e.message])
            }
            try db.execute(
                sql: "UPDATE tasks SET errors_unwritten = ?, docs_created = ?, docs_consumed = ? WHERE id = ?",
                arguments: [result.errorsUnwritten, c.docsCreated, c.docsConsumed, id])
            if let input = result.inputIdentity { try Self.saveInputShard(input, db) }
        }
    }

    // MARK: - Input shards

    /// What was recorded about each input shard, by name.
    public func inputShards() throws(ProvenanceError) -> [String: InputShardRecord] {
        try read("reading input shards") { db in
            var out: [String: InputShardRecord] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT * FROM input_shards") {
                let name: String = r["name"]
                out[name] = InputShardRecord(
                    name: name, path: r["path"], size: r["size"], modifiedNanoseconds: r["modified_ns"],
                    sampleHash: r["sample_hash"], contentHash: r["content_hash"], checkedAt: r["checked_at"])
            }
            return out
        }
    }

    /// Records (or replaces) what is known about input shards.
    public func saveInputShards(_ records: [InputShardRecord]) throws(ProvenanceError) {
        try write("saving input shards") { db in
            for r in records { try Self.saveInputShard(r, db) }
        }
    }

    private static func saveInputShard(_ r: InputShardRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO input_shards (name, path, size, modified_ns, sample_hash, content_hash, checked_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET path = excluded.path, size = excluded.size,
                    modified_ns = excluded.modified_ns, sample_hash = excluded.sample_hash,
                    content_hash = excluded.content_hash, checked_at = excluded.checked_at
                """,
            arguments: [r.name, r.path, r.size, r.modifiedNanoseconds, r.sampleHash, r.contentHash, r.checkedAt])
    }

    /// Forgets tasks (their outputs are removed by the caller), so that the next run redoes them.
    public func forgetTasks(_ keys: [TaskKey]) throws(ProvenanceError) {
        try write("forgetting tasks") { db in
            for k in keys {
                try db.execute(
                    sql: "DELETE FROM tasks WHERE stage = ? AND phase = ? AND shard_index = ?",
                    arguments: [k.stage, k.phase, k.shardIndex])
            }
        }
    }

    /// The first recorded input problems of done tasks, per stage, in task order (at most `limit` per stage).
    public func inputErrorSamples(limit: Int) throws(ProvenanceError) -> [String: [InputErrorSample]] {
        try read("reading input error samples") { db in
            var out: [String: [InputErrorSample]] = [:]
            for r in try Row.fetchAll(
                db,
                sql: """
                    SELECT t.stage, e.kind, e.location, e.message FROM input_error_samples e
                    JOIN tasks t ON t.id = e.task_id AND t.status = 'done'
                    ORDER BY t.stage, t.phase, t.shard_index, e.position
                    """)
            {
                let stage: String = r["stage"]
                if out[stage, default: []].count >= limit { continue }
                out[stage, default: []].append(
                    InputErrorSample(kind: r["kind"], location: r["location"], message: r["message"]))
            }
            return out
        }
    }

    /// Marks a task failed (or interrupted) with a one-line reason.
    public func endTask(_ key: TaskKey, status: TaskStatus, error: String?, now: Double) throws(ProvenanceError) {
        try write("recording the end of task \(key)") { db in
            try db.execute(
                sql: """
                    UPDATE tasks SET status = ?, finished_at = ?, error = ?
                    WHERE stage = ? AND phase = ? AND shard_index = ?
                    """,
                arguments: [status.rawValue, now, error, key.stage, key.phase, key.shardIndex])
        }
    }

    /// All tasks, ordered by stage position, phase and shard.
    public func tasks() throws(ProvenanceError) -> [TaskRecord] {
        try read("reading tasks") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tasks ORDER BY stage, phase, shard_index").map { r in
                var counts = TaskCounts()
                counts.docsIn = r["docs_in"]
                counts.bytesIn = r["bytes_in"]
                counts.docsOut = r["docs_out"]
                counts.bytesOut = r["bytes_out"]
                counts.docsRejected = r["docs_rejected"]
                counts.bytesRejected = r["bytes_rejected"]
                counts.docsErrored = r["docs_errored"]
                counts.docsCreated = r["docs_created"]
                counts.docsConsumed = r["docs_consumed"]
                let outputsText: String? = r["outputs"]
                let outputs =
                    outputsText.flatMap { try? JSONDecoder().decode([OutputFileRecord].self, from: Data($0.utf8)) }
                    ?? []
                let status: String = r["status"]
                return TaskRecord(
                    key: TaskKey(stage: r["stage"], phase: r["phase"], shardIndex: r["shard_index"]),
                    phaseName: r["phase_name"], shard: r["shard"], rank: r["rank"],
                    status: TaskStatus(rawValue: status) ?? .pending, attempts: r["attempts"],
                    startedAt: r["started_at"], finishedAt: r["finished_at"], seconds: r["seconds"], counts: counts,
                    outputPath: r["output_path"], outputChecksum: r["output_checksum"], outputs: outputs,
                    error: r["error"], errorsUnwritten: r["errors_unwritten"])
            }
        }
    }

    /// Keys of the tasks that are done.
    public func doneTasks() throws(ProvenanceError) -> Set<TaskKey> {
        try read("reading done tasks") { db in
            Set(
                try Row.fetchAll(db, sql: "SELECT stage, phase, shard_index FROM tasks WHERE status = 'done'").map {
                    TaskKey(stage: $0["stage"], phase: $0["phase"], shardIndex: $0["shard_index"])
                })
        }
    }

    // MARK: - Statistics

    /// Per-step statistics summed over the done tasks of each stage.
    public func stepTotals() throws(ProvenanceError) -> [StepTotals] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try read("reading step statistics") { db in
            var totals: [String: StepTotals] = [:]
            func key(_ stage: String, _ step: String) -> String { stage + "\u{0}" + step }
            let done = "JOIN tasks t ON t.id = s.task_id AND t.status = 'done'"
            for r in try Row.fetchAll(
                db,
                sql:
                    "SELECT t.stage, s.step, s.position, s.docs_in, s.seconds, s.created, s.consumed FROM step_stats s \(done)"
            ) {
                let stage: String = r["stage"], step: String = r["step"]
                var stats = StepStats()
                stats.documentsIn = r["docs_in"]
                stats.seconds = r["seconds"]
                stats.created = r["created"]
                stats.consumed = r["consumed"]
                if totals[key(stage, step)] == nil {
                    totals[key(stage, step)] = StepTotals(
                        stage: stage, step: step, position: r["position"], stats: stats)
                } else {
                    totals[key(stage, step)]?.stats.merge(stats)
                }
            }
            for r in try Row.fetchAll(
                db, sql: "SELECT t.stage, s.step, s.rule, s.documents, s.bytes FROM step_rules s \(done)")
            {
                let k = key(r["stage"], r["step"])
                let rule: String = r["rule"]
                totals[k]?.stats.drops[rule, default: 0] += r["documents"] as Int
                totals[k]?.stats.dropBytes[rule, default: 0] += r["bytes"] as Int
            }
            for r in try Row.fetchAll(
                db, sql: "SELECT t.stage, s.step, s.counter, s.value FROM step_counters s \(done)")
            {
                let counter: String = r["counter"]
                totals[key(r["stage"], r["step"])]?.stats.counters[counter, default: 0] += r["value"] as Int
            }
            for r in try Row.fetchAll(
                db, sql: "SELECT t.stage, s.step, s.name, s.histogram FROM step_histograms s \(done)")
            {
                let k = key(r["stage"], r["step"])
                let name: String = r["name"], json: String = r["histogram"]
                guard let h = try? decoder.decode(Histogram.self, from: Data(json.utf8)) else { continue }
                if let existing = totals[k]?.stats.histograms[name], existing.spec == h.spec {
                    totals[k]?.stats.histograms[name]?.merge(h)
                } else {
                    totals[k]?.stats.histograms[name] = h
                }
            }
            return totals.values.sorted { ($0.stage, $0.position) < ($1.stage, $1.position) }
        }
    }

    /// Input errors per stage and kind, over done tasks.
    public func inputErrorTotals() throws(ProvenanceError) -> [String: [String: Int]] {
        try read("reading input errors") { db in
            var out: [String: [String: Int]] = [:]
            for r in try Row.fetchAll(
                db,
                sql: """
                    SELECT t.stage, e.kind, SUM(e.count) AS n FROM input_errors e
                    JOIN tasks t ON t.id = e.task_id AND t.status = 'done' GROUP BY t.stage, e.kind
                    """)
            {
                let stage: String = r["stage"], kind: String = r["kind"]
                out[stage, default: [:]][kind] = r["n"]
            }
            return out
        }
    }

    private static var histogramEncoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}
