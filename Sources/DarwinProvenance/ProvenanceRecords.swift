import DarwinCore

/// The job an output folder belongs to.
public struct JobRecord: Sendable, Equatable {
    public var recipeText: String
    public var recipeHash: String
    public var recipePath: String
    /// The directory relative recipe paths were resolved against.
    public var baseDirectory: String
    public var darwinVersion: String
    public var host: String
    public var rank: Int
    public var worldSize: Int
    public var seed: UInt64
    public var createdAt: Double
    public var updatedAt: Double
    public var finishedAt: Double?

    public init(
        recipeText: String, recipeHash: String, recipePath: String, baseDirectory: String, darwinVersion: String,
        host: String, rank: Int, worldSize: Int, seed: UInt64, createdAt: Double, updatedAt: Double,
        finishedAt: Double? = nil
    ) {
        self.recipeText = recipeText
        self.recipeHash = recipeHash
        self.recipePath = recipePath
        self.baseDirectory = baseDirectory
        self.darwinVersion = darwinVersion
        self.host = host
        self.rank = rank
        self.worldSize = worldSize
        self.seed = seed
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
    }
}

/// One invocation of `darwin run` or `darwin resume` on the job.
public struct RunRecord: Sendable, Equatable {
    public var id: Int64
    public var command: String
    public var pid: Int
    public var host: String
    public var workers: Int
    public var darwinVersion: String
    public var startedAt: Double
    public var heartbeatAt: Double
    public var finishedAt: Double?
    public var status: String
    public var message: String?
}

/// A stage as the job defined it.
public struct StageRecord: Sendable, Equatable {
    public var name: String
    public var position: Int
    public var level: Int
    /// Hash of the stage's definition and of everything before it.
    public var fingerprint: String
    /// Canonical JSON of the stage's definition (level, steps, versions, parameters).
    public var definition: String
    /// Names of the stage's phases in order.
    public var phases: [String]

    public init(name: String, position: Int, level: Int, fingerprint: String, definition: String, phases: [String]) {
        self.name = name
        self.position = position
        self.level = level
        self.fingerprint = fingerprint
        self.definition = definition
        self.phases = phases
    }
}

/// Where a task is in its life.
public enum TaskStatus: String, Sendable, CaseIterable {
    case pending
    case running
    case done
    case failed
    /// Was running when its process stopped (signal, crash, kill); redone on resume.
    case interrupted
}

/// Identifies a task: (stage, phase, shard or partition).
public struct TaskKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var stage: String
    public var phase: Int
    public var shardIndex: Int

    public init(stage: String, phase: Int, shardIndex: Int) {
        self.stage = stage
        self.phase = phase
        self.shardIndex = shardIndex
    }

    public static func < (a: TaskKey, b: TaskKey) -> Bool {
        (a.stage, a.phase, a.shardIndex) < (b.stage, b.phase, b.shardIndex)
    }

    public var description: String { "\(stage)/phase \(phase)/\(shardIndex)" }
}

/// Document and byte counts of a task.
public struct TaskCounts: Sendable, Equatable {
    public var docsIn = 0
    public var bytesIn = 0
    public var docsOut = 0
    public var bytesOut = 0
    public var docsRejected = 0
    public var bytesRejected = 0
    public var docsErrored = 0
    /// Documents steps made (chunks, additions, merges).
    public var docsCreated = 0
    /// Documents steps replaced by others or merged away (neither kept nor dropped).
    public var docsConsumed = 0

    public init() {}

    public mutating func add(_ o: TaskCounts) {
        docsCreated += o.docsCreated
        docsConsumed += o.docsConsumed
        docsIn += o.docsIn
        bytesIn += o.bytesIn
        docsOut += o.docsOut
        bytesOut += o.bytesOut
        docsRejected += o.docsRejected
        bytesRejected += o.bytesRejected
        docsErrored += o.docsErrored
    }
}

/// A file a task produced.
public struct OutputFileRecord: Sendable, Equatable, Codable {
    public var path: String
    public var checksum: String
    public var lines: Int
    public var fileBytes: Int

    public init(path: String, checksum: String, lines: Int, fileBytes: Int) {
        self.path = path
        self.checksum = checksum
        self.lines = lines
        self.fileBytes = fileBytes
    }
}

/// A task as recorded.
public struct TaskRecord: Sendable, Equatable {
    public var key: TaskKey
    public var phaseName: String
    public var shard: String
    public var rank: Int
    public var status: TaskStatus
    public var attempts: Int
    public var startedAt: Double?
    public var finishedAt: Double?
    public var seconds: Double?
    public var counts: TaskCounts
    public var outputPath: String?
    public var outputChecksum: String?
    public var outputs: [OutputFileRecord]
    public var error: String?
    /// Error records counted but not written (past the per-shard cap).
    public var errorsUnwritten = 0
}

/// What a completed task reports.
public struct TaskResult: Sendable {
    public var counts = TaskCounts()
    /// The main output (kept documents) first, then the others.
    public var outputs: [OutputFileRecord] = []
    /// Statistics per step, in stage order.
    public var steps: [(step: String, position: Int, stats: StepStats)] = []
    /// Input problems per kind.
    public var inputErrors: [String: Int] = [:]
    /// The first few input problems, as examples for `run`, `status` and `stats`.
    public var errorSamples: [InputErrorSample] = []
    /// Error records counted but not written (past the per-shard cap).
    public var errorsUnwritten = 0
    /// For a task that read a job input shard: what it read (with the hash of its whole content).
    public var inputIdentity: InputShardRecord?
    public var seconds = 0.0

    public init() {}
}

/// Statistics of one step summed over tasks.
public struct StepTotals: Sendable {
    public var stage: String
    public var step: String
    public var position: Int
    public var stats: StepStats
}

/// What darwin knew about an input shard when it last looked: size, modification time and content hashes.
///
/// A shard whose size and modification time are unchanged (and were not recorded within a second of the
/// last edit, when a later edit could keep the same time) is taken as unchanged without reading it;
/// otherwise its content is hashed again and compared with `contentHash` (the XXH3-128 of every byte,
/// recorded by the task that read the shard) or, before any task read it, `sampleHash`.
public struct InputShardRecord: Sendable, Equatable {
    /// The shard name (`part-00003`), the key the plan uses.
    public var name: String
    public var path: String
    /// Bytes (summed over the files of a `files` shard).
    public var size: Int
    /// Modification time in nanoseconds since 1970 (the latest of a `files` shard).
    public var modifiedNanoseconds: Int64
    /// XXH3-128 of the first and last 64 KiB and the size.
    public var sampleHash: String
    /// XXH3-128 of the whole content, once a task has read the shard.
    public var contentHash: String?
    /// When the record was made (seconds since 1970).
    public var checkedAt: Double

    public init(
        name: String, path: String, size: Int, modifiedNanoseconds: Int64, sampleHash: String, contentHash: String?,
        checkedAt: Double
    ) {
        self.name = name
        self.path = path
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.sampleHash = sampleHash
        self.contentHash = contentHash
        self.checkedAt = checkedAt
    }
}

/// One input problem kept in provenance as an example (the first few of each task).
public struct InputErrorSample: Sendable, Equatable {
    public var kind: String
    /// `file:line` (or `file@offset` for binary formats).
    public var location: String
    public var message: String

    public init(kind: String, location: String, message: String) {
        self.kind = kind
        self.location = location
        self.message = message
    }
}
