import DarwinCore
import DarwinProvenance
import Foundation

/// Everything recorded about a job, read from the provenance files of all its ranks.
public struct JobReport: Sendable {
    public let outputDirectory: String
    public let job: JobRecord
    public let stages: [StageRecord]
    public let tasks: [TaskRecord]
    public let runs: [RunRecord]
    public let stepTotals: [StepTotals]
    public let inputErrors: [String: [String: Int]]
    /// The first recorded input problems per stage (examples).
    public let inputErrorSamples: [String: [InputErrorSample]]
    /// Ranks whose provenance file exists.
    public let ranks: [Int]

    /// Reads every `provenance/rank-*.sqlite` under `out`.
    ///
    /// - Throws: ``RunError/output(_:)`` when `out` holds no darwin job.
    public init(outputDirectory out: String) throws(RunError) {
        let dir = out + "/provenance"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("rank-") && $0.hasSuffix(".sqlite") }.sorted()
        guard !files.isEmpty else {
            throw .output("\(out) holds no darwin job (no provenance/rank-*.sqlite); run `darwin run RECIPE` first")
        }
        var job: JobRecord?
        var stages: [StageRecord] = []
        var tasks: [TaskRecord] = []
        var runs: [RunRecord] = []
        var totals: [String: StepTotals] = [:]
        var errors: [String: [String: Int]] = [:]
        var samples: [String: [InputErrorSample]] = [:]
        var ranks: [Int] = []
        for f in files {
            let path = dir + "/" + f
            do {
                let store = try ProvenanceStore(path: path, readOnly: true)
                guard let j = try store.job() else { continue }
                if job == nil || j.rank == 0 { job = j }
                if stages.isEmpty || j.rank == 0 { stages = try store.stages() }
                tasks += try store.tasks()
                runs += try store.runs()
                for t in try store.stepTotals() {
                    let k = t.stage + "\u{0}" + t.step
                    if totals[k] == nil { totals[k] = t } else { totals[k]?.stats.merge(t.stats) }
                }
                for (stage, kinds) in try store.inputErrorTotals() {
                    errors[stage, default: [:]].merge(kinds, uniquingKeysWith: +)
                }
                for (stage, list) in try store.inputErrorSamples(limit: Self.errorExamples) {
                    samples[stage, default: []] += list
                }
                ranks.append(j.rank)
            } catch {
                throw .provenance("\(error)")
            }
        }
        guard let job else { throw .output("\(out): provenance files hold no job record") }
        self.outputDirectory = out
        self.job = job
        self.stages = stages
        self.tasks = tasks.sorted { $0.key < $1.key }
        self.runs = runs.sorted { $0.startedAt < $1.startedAt }
        let position = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.position) })
        self.stepTotals = totals.values.sorted {
            (position[$0.stage] ?? 0, $0.position) < (position[$1.stage] ?? 0, $1.position)
        }
        self.inputErrors = errors
        self.inputErrorSamples = samples.mapValues { Array($0.prefix(Self.errorExamples)) }
        self.ranks = ranks.sorted()
    }

    /// Whether some process is running the job now (any rank's lock is held).
    public var isRunning: Bool {
        let dir = outputDirectory + "/provenance"
        let locks = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".lock") }
        return locks.contains { JobLock.isHeld(dir + "/" + $0) }
    }

    /// Phase names and task counts of a stage, from its record.
    public func phases(of stage: StageRecord) -> [(name: String, tasks: Int)] {
        stage.phases.map { line in
            let parts = line.split(separator: ":")
            let count = parts.last.flatMap { Int($0) } ?? 0
            return (parts.dropLast().joined(separator: ":"), count)
        }
    }

    // MARK: - Stage statistics

    /// Counts of one stage, summed over its done tasks.
    public struct StageSummary: Sendable {
        public var name: String
        public var level: Int
        public var tasksDone = 0
        public var tasksTotal = 0
        public var counts = TaskCounts()
        /// Task seconds summed (work), and first start to last finish (wall).
        public var taskSeconds = 0.0
        public var wallSeconds = 0.0
        public var isComplete: Bool { tasksDone == tasksTotal && tasksTotal > 0 }
    }

    /// Per-stage counts: documents in from the first phase, out from the last, rejections and errors from all.
    public var stageSummaries: [StageSummary] {
        stages.map { stage in
            let phases = phases(of: stage)
            var s = StageSummary(name: stage.name, level: stage.level)
            s.tasksTotal = phases.reduce(0) { $0 + $1.tasks }
            let mine = tasks.filter { $0.key.stage == stage.name }
            let done = mine.filter { $0.status == .done }
            s.tasksDone = done.count
            let last = phases.count - 1
            var first = Double.infinity, end = 0.0
            for t in done {
                if t.key.phase == 0 {
                    s.counts.docsIn += t.counts.docsIn
                    s.counts.bytesIn += t.counts.bytesIn
                }
                if t.key.phase == last {
                    s.counts.docsOut += t.counts.docsOut
                    s.counts.bytesOut += t.counts.bytesOut
                }
                s.counts.docsRejected += t.counts.docsRejected
                s.counts.bytesRejected += t.counts.bytesRejected
                s.counts.docsErrored += t.counts.docsErrored
                s.counts.docsCreated += t.counts.docsCreated
                s.counts.docsConsumed += t.counts.docsConsumed
                s.taskSeconds += t.seconds ?? 0
                if let a = t.startedAt { first = min(first, a) }
                if let b = t.finishedAt { end = max(end, b) }
            }
            s.wallSeconds = first.isFinite ? max(0, end - first) : 0
            return s
        }
    }

    /// Step statistics of a stage, in stage order.
    public func steps(of stage: String) -> [StepTotals] { stepTotals.filter { $0.stage == stage } }

    // MARK: - Input errors

    /// Examples of input errors shown per stage.
    public static let errorExamples = 3

    /// Input errors of the job in a few lines, per stage: how many, in how many shards, by kind, the first
    /// few as `file:line: message`, and the command that lists them all; empty when there were none.
    public func inputErrorSummary(stage only: String? = nil) -> [String] {
        var lines: [String] = []
        for stage in stages where only == nil || stage.name == only {
            guard let kinds = inputErrors[stage.name], !kinds.isEmpty else { continue }
            let total = kinds.values.reduce(0, +)
            let done = tasks.filter { $0.key.stage == stage.name && $0.status == .done && $0.counts.docsErrored > 0 }
            let unwritten = done.reduce(0) { $0 + $1.errorsUnwritten }
            let byKind = kinds.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
                .map { "\($0.key) \(Format.count($0.value))" }.joined(separator: ", ")
            var line =
                "input errors in stage \(stage.name): \(Format.count(total)) in \(done.count) shard(s) (\(byKind))"
            if unwritten > 0 {
                line +=
                    "; \(Format.count(unwritten)) counted but not written (over \(Format.count(ErrorBudget.recordsWrittenPerShard)) per shard)"
            }
            lines.append(line)
            for e in inputErrorSamples[stage.name] ?? [] { lines.append("  \(e.location): \(e.message)") }
            lines.append("  `darwin inspect \(outputDirectory) --stage \(stage.name) --errors` lists them all")
        }
        return lines
    }
}
