import DarwinCore
import DarwinIO
import DarwinProvenance
import Foundation

/// Options of one `darwin run` / `darwin resume`.
public struct RunOptions: Sendable {
    public var workers: Int
    public var until: String?
    public var rank: Int
    public var worldSize: Int
    /// Redo the first changed stage and everything after it.
    public var force: Bool
    /// Any bad input line is fatal.
    public var strict: Bool
    /// Keep global steps' intermediate files after their stage completes.
    public var keepIntermediate: Bool
    /// How to show progress.
    public var progress: ProgressStyle
    /// Seconds between plain progress lines.
    public var progressInterval: Double
    /// The command line, recorded in provenance.
    public var command: String
    /// Rehash every input shard in full before resuming, whatever its size and time say.
    public var verifyInputs = false
    /// Bad input each shard, and the job, may hold.
    public var errorBudget = ErrorBudget()

    public init(
        workers: Int, until: String? = nil, rank: Int = 0, worldSize: Int = 1, force: Bool = false,
        strict: Bool = false, keepIntermediate: Bool = false, progress: ProgressStyle = .auto,
        progressInterval: Double = 10, command: String = "darwin run", verifyInputs: Bool = false,
        errorBudget: ErrorBudget = ErrorBudget()
    ) {
        self.verifyInputs = verifyInputs
        self.errorBudget = errorBudget
        self.workers = workers
        self.until = until
        self.rank = rank
        self.worldSize = worldSize
        self.force = force
        self.strict = strict
        self.keepIntermediate = keepIntermediate
        self.progress = progress
        self.progressInterval = progressInterval
        self.command = command
    }
}

/// How progress is shown on stderr.
public enum ProgressStyle: String, Sendable, CaseIterable {
    /// A live line on a terminal, plain periodic lines otherwise.
    case auto
    case live
    case plain
    case none
}

/// What a run did.
public struct RunSummary: Sendable {
    public var tasksRun = 0
    public var tasksSkipped = 0
    public var failures: [(task: TaskKey, shard: String, message: String)] = []
    public var blocked = 0
    public var interrupted: RunControl.StopReason = .none
    public var fatal: String?
    public var seconds = 0.0
    public var docsIn = 0
    public var bytesIn = 0
    public var stages: [String] = []

    /// Whether every planned task of this rank is done.
    public var succeeded: Bool { failures.isEmpty && blocked == 0 && interrupted == .none && fatal == nil }
}

/// Runs (or resumes) a job: prepares the folder, reconciles the recipe with provenance, schedules tasks
/// on worker threads and records everything.
public final class JobRunner: Sendable {
    public let recipe: Recipe
    public let options: RunOptions
    public let control: RunControl
    private let baseDirectory: String
    /// Batched steps and their in-flight limits, shared by every task of the process.
    private let sharedSteps = SharedSteps()
    let outputDirectory: String
    let console: Console

    /// - Parameters:
    ///   - baseDirectory: where relative input paths start.
    ///   - outputDirectory: the job folder (absolute), usually the recipe's output path.
    public init(
        recipe: Recipe, baseDirectory: String, outputDirectory: String, options: RunOptions, control: RunControl,
        console: Console
    ) {
        self.recipe = recipe
        self.baseDirectory = baseDirectory
        self.outputDirectory = outputDirectory
        self.options = options
        self.control = control
        self.console = console
    }

    /// The provenance file of a rank.
    public static func provenancePath(_ out: String, rank: Int) -> String {
        out + "/provenance/" + String(format: "rank-%05d.sqlite", rank)
    }

    /// Runs the job.
    ///
    /// - Throws: ``RunError`` for anything that stops the job before tasks run (bad recipe or input,
    ///   lock held, recipe changed, provenance unusable). Task failures are reported in the summary.
    public func run() throws(RunError) -> RunSummary {
        let started = monotonicSeconds()
        let inputs = try resolveInputs()
        let planned = try plan(inputs)
        _ = try until(planned)  // a wrong --until stops the run before the job folder is touched
        let (store, lock) = try openJobFolder()
        defer { withExtendedLifetime(lock) {} }
        // Models and lists opened by the run's steps are released with it.
        defer { ResourceRegistry.shared.close() }
        try reconcileRecipe(planned, store: store)
        try reconcileInputs(plan: try plan(inputs), store: store)
        let runID = try beginRun(store: store)
        let results = ResultCollector()
        try results.countEarlierInput(store)

        // Rounds: a stage that cuts its output by size lays out its cut once its last pass is done
        // everywhere; the stages after it are planned then, and the next round runs them.
        var summary = RunSummary()
        var round = 0
        while true {
            let full = try plan(inputs)
            try saveStageRecords(full, store: store)
            let plan = try until(full)
            let outcome = runRound(plan, store: store, runID: runID, results: results, first: round == 0)
            if round == 0 {
                summary.tasksSkipped = outcome.skipped
                summary.stages = plan.stages.map(\.spec.name)
            }
            summary.blocked = outcome.blocked
            summary.docsIn += outcome.docs
            summary.bytesIn += outcome.bytes
            round += 1
            guard outcome.blocked == 0, results.snapshot.failures.isEmpty, results.snapshot.fatal == nil,
                !control.isStopping, let pending = plan.pendingCut, try layOutCut(pending, store: store)
            else { break }
        }
        return try finishRun(summary, started: started, results: results, store: store, runID: runID)
    }

    // MARK: - Steps of a run

    private func resolveInputs() throws(RunError) -> [InputShard] {
        do {
            let inputs = try InputResolver.resolve(recipe.input, base: baseDirectory, recipePath: recipe.sourcePath)
            try InputResolver.checkFolders(
                recipe.input, base: baseDirectory, output: outputDirectory, outputLine: recipe.output.line,
                recipePath: recipe.sourcePath)
            return inputs
        } catch {
            throw .recipe(error)
        }
    }

    /// The plan cut after `--until`'s stage, if given.
    private func until(_ plan: JobPlan) throws(RunError) -> JobPlan {
        guard let name = options.until else { return plan }
        do {
            return try plan.until(name)
        } catch {
            throw .recipe(error)
        }
    }

    /// The plan of every stage, with the cuts laid out so far.
    private func plan(_ inputs: [InputShard]) throws(RunError) -> JobPlan {
        let cuts: [String: CutLayout]
        do {
            cuts = try JobPlan.recordedCuts(recipe: recipe, outputDirectory: outputDirectory)
        } catch {
            throw .output("\(error)")
        }
        do {
            let plan = try JobPlan(recipe: recipe, inputs: inputs, outputDirectory: outputDirectory, cuts: cuts)
            _ = try plan.checkTokenizers()
            return plan
        } catch {
            throw .recipe(error)
        }
    }

    /// The folder, the lock and the provenance file of this rank.
    private func openJobFolder() throws(RunError) -> (ProvenanceStore, JobLock) {
        let provenanceDir = outputDirectory + "/provenance"
        try checkOutputFolder()
        do {
            try AtomicFiles.makeDirectory(provenanceDir)
        } catch {
            throw .output("cannot create the job folder: \(error)")
        }
        let lock = try JobLock(path: provenanceDir + String(format: "/rank-%05d.lock", options.rank))
        do {
            return (try ProvenanceStore(path: Self.provenancePath(outputDirectory, rank: options.rank)), lock)
        } catch {
            throw .provenance("\(error)")
        }
    }

    /// Compares the recipe with the one the job ran with: refuses a change (or, with `--force`, resets the
    /// changed stages and those after them); records the job and the recipe snapshot.
    private func reconcileRecipe(_ plan: JobPlan, store: ProvenanceStore) throws(RunError) {
        let existing: JobRecord?
        let recorded: [StageRecord]
        do {
            existing = try store.job()
            recorded = try store.stages()
        } catch {
            throw .provenance("\(error)")
        }
        if let existing, existing.worldSize != options.worldSize {
            throw .recipeChanged(
                "\(outputDirectory) was started with --world-size \(existing.worldSize); resume it with the same value (got \(options.worldSize))"
            )
        }
        let diff = RecipeDiff(recorded: recorded, planned: plan.stages)
        if let firstInvalid = diff.firstInvalidStage {
            let lines = diff.changes.map { "  - " + $0 }.joined(separator: "\n")
            guard options.force else {
                throw .recipeChanged(
                    "the recipe differs from the one \(outputDirectory) ran with:\n\(lines)\nrun again with --force to redo stage '\(recorded[firstInvalid].name)' and every stage after it"
                )
            }
            let reset = recorded[firstInvalid...].map(\.name)
            console.info("recipe changed; redoing stage(s) \(reset.joined(separator: ", ")):\n\(lines)")
            try resetStages(reset, store: store)
        } else if !diff.addedStages.isEmpty && !recorded.isEmpty {
            console.info("recipe adds stage(s) \(diff.addedStages.joined(separator: ", ")); earlier results are kept")
        }
        let now = wallClock()
        do {
            let job = JobRecord(
                recipeText: recipe.text, recipeHash: Self.hash(recipe.text), recipePath: recipe.sourcePath,
                baseDirectory: existing?.baseDirectory ?? baseDirectory, darwinVersion: DarwinVersion.current,
                host: ProcessInfo.processInfo.hostName, rank: options.rank, worldSize: options.worldSize,
                seed: recipe.seed, createdAt: existing?.createdAt ?? now, updatedAt: now, finishedAt: nil)
            try store.saveJob(job)
            try writeRecipeSnapshot()
        } catch let e as RunError {
            throw e
        } catch {
            throw .provenance("\(error)")
        }
    }

    private func saveStageRecords(_ plan: JobPlan, store: ProvenanceStore) throws(RunError) {
        do {
            try store.saveStages(plan.stages.map(\.record))
        } catch {
            throw .provenance("\(error)")
        }
    }

    /// Marks what an earlier process left running as interrupted and records this run.
    private func beginRun(store: ProvenanceStore) throws(RunError) -> Int64 {
        let now = wallClock()
        do {
            let abandoned = try store.markAbandonedTasksInterrupted(now: now)
            if abandoned > 0 { console.info("\(abandoned) task(s) of an earlier run were interrupted; redoing them") }
            return try store.beginRun(
                command: options.command, workers: options.workers, host: ProcessInfo.processInfo.hostName, now: now)
        } catch {
            throw .provenance("\(error)")
        }
    }

    /// What one round of tasks did.
    private struct RoundOutcome {
        var skipped = 0
        var blocked = 0
        var docs = 0
        var bytes = 0
    }

    /// Runs every task of the plan that is not done, on worker threads, until none is left or the run stops;
    /// removes the intermediate files of the stages it completed.
    private func runRound(
        _ plan: JobPlan, store: ProvenanceStore, runID: Int64, results: ResultCollector, first: Bool
    ) -> RoundOutcome {
        let done: Set<TaskKey>
        do {
            done = try store.doneTasks()
        } catch {
            results.fatal("\(error)")
            return RoundOutcome()
        }
        let (rank, worldSize, out) = (options.rank, options.worldSize, outputDirectory)
        let scheduler = TaskScheduler(plan: plan, rank: rank, worldSize: worldSize, done: done, control: control) {
            Self.remoteDone(out: out, rank: rank, worldSize: worldSize)
        }
        var outcome = RoundOutcome()
        let initial = scheduler.localProgress
        outcome.skipped = initial.done
        if first && initial.done > 0 && initial.done < initial.total {
            console.info("resuming: \(initial.done) of \(initial.total) task(s) already done")
        }
        let progress = ProgressCounters()
        let workerCount = max(1, options.workers)
        let executor = TaskExecutor(
            plan: plan, control: control, progress: progress, strict: options.strict,
            errorBudget: options.errorBudget, workers: workerCount, shared: sharedSteps)
        let group = DispatchGroup()
        for w in 0..<workerCount {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                self.workerLoop(scheduler: scheduler, executor: executor, store: store, runID: runID, results: results)
            }
            thread.name = "darwin-worker-\(w)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        watch(group, scheduler: scheduler, progress: progress, plan: plan, store: store, runID: runID)
        scheduler.refreshRemote()
        for stage in plan.stages where stage.spec.tokenize != nil && scheduler.isStageComplete(stage) {
            do {
                try TokenManifest.write(stage: stage, plan: plan)
            } catch {
                console.warning("stage \(stage.spec.name): cannot write tokens.json: \(error)")
            }
        }
        if !options.keepIntermediate {
            for stage in plan.stages
            where (!stage.globalSteps.isEmpty || stage.cut != nil) && scheduler.isStageComplete(stage) {
                try? FileManager.default.removeItem(
                    atPath: StageLayout(root: out, stage: stage.spec.name).workDirectory)
            }
        }
        outcome.blocked = scheduler.blockedTasks.count
        outcome.docs = progress.snapshot.docs
        outcome.bytes = progress.snapshot.bytes
        return outcome
    }

    /// Waits for the workers, showing progress, beating the run's heartbeat and passing on a stop.
    private func watch(
        _ group: DispatchGroup, scheduler: TaskScheduler, progress: ProgressCounters, plan: JobPlan,
        store: ProvenanceStore, runID: Int64
    ) {
        let reporter = ProgressReporter(style: options.progress, interval: options.progressInterval, console: console)
        var lastHeartbeat = monotonicSeconds()
        var lastWaitNotice = 0.0
        while group.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            if let waited = scheduler.secondsWaitingForOtherRanks, waited > 30, monotonicSeconds() - lastWaitNotice > 60
            {
                lastWaitNotice = monotonicSeconds()
                console.info(
                    "rank \(options.rank) is waiting for other ranks to finish their tasks (\(Int(waited)) s so far); start every rank of --world-size \(options.worldSize)"
                )
            }
            if control.isStopping { scheduler.stop() }
            reporter.tick(scheduler: scheduler, counters: progress, inputs: plan.inputs)
            if monotonicSeconds() - lastHeartbeat > 10 {
                lastHeartbeat = monotonicSeconds()
                try? store.heartbeat(run: runID, now: wallClock())
            }
        }
        reporter.finish(scheduler: scheduler, counters: progress)
    }

    /// Lays out the cut of a stage once its last pass is done on every rank (waiting for the others);
    /// returns `false` when the run stops first.
    private func layOutCut(_ stage: StagePlan, store: ProvenanceStore) throws(RunError) -> Bool {
        let keys = (0..<stage.shards.count).map {
            TaskKey(stage: stage.spec.name, phase: stage.lastPass, shardIndex: $0)
        }
        var lastNotice = monotonicSeconds()
        while true {
            if control.isStopping { return false }
            var done: Set<TaskKey>
            do {
                done = try store.doneTasks()
            } catch {
                throw .provenance("\(error)")
            }
            if options.worldSize > 1 {
                done.formUnion(Self.remoteDone(out: outputDirectory, rank: options.rank, worldSize: options.worldSize))
            }
            if keys.allSatisfy(done.contains) { break }
            if monotonicSeconds() - lastNotice > 60 {
                lastNotice = monotonicSeconds()
                console.info(
                    "rank \(options.rank) is waiting for other ranks to finish stage \(stage.spec.name) before its cut")
            }
            usleep(500_000)
        }
        guard let cut = stage.cut else { return false }
        do {
            let layout = try CutLayout.make(
                StageLayout(root: outputDirectory, stage: stage.spec.name), shards: stage.shards, cut: cut)
            console.info(
                "stage \(stage.spec.name) cut into \(layout.shards.count) shard(s) of \(layout.unit == "bytes" ? ByteSize.format(layout.target) : Format.count(layout.target) + " documents")"
            )
        } catch {
            throw .io("cannot lay out the cut of stage \(stage.spec.name): \(error)")
        }
        return true
    }

    /// Sums up the run, records its end (and the job's, when it completed), and returns the summary.
    private func finishRun(
        _ partial: RunSummary, started: Double, results: ResultCollector, store: ProvenanceStore, runID: Int64
    ) throws(RunError) -> RunSummary {
        var summary = partial
        let r = results.snapshot
        summary.tasksRun = r.completed
        summary.failures = r.failures
        summary.fatal = r.fatal
        let input = results.countInput(records: 0, errors: 0)
        if summary.fatal == nil, !control.isStopping,
            let message = options.errorBudget.exceeded(
                errors: input.errors, records: input.records, final: true, scope: "job")
        {
            summary.fatal = message
        }
        if control.isStopping && control.stopReason != .fatal { summary.interrupted = control.stopReason }
        summary.seconds = monotonicSeconds() - started
        let status: String
        let message: String?
        if summary.succeeded {
            status = "completed"
            message = nil
        } else if summary.interrupted != .none {
            status = "interrupted"
            message = "stopped by signal \(summary.interrupted.rawValue)"
        } else {
            status = "failed"
            message =
                summary.fatal ?? summary.failures.first.map { "\($0.task.stage)/\($0.shard): \($0.message)" }
                ?? "\(summary.blocked) task(s) blocked by failures"
        }
        do {
            try store.finishRun(runID, status: status, message: message, now: wallClock())
            if summary.succeeded && options.until == nil, var job = try store.job() {
                job.finishedAt = wallClock()
                try store.saveJob(job)
            }
        } catch {
            // Recording the end can fail for the reason the run failed (a full disk): keep that reason first.
            guard summary.succeeded else {
                console.warning("the end of the run could not be recorded: \(error)")
                return summary
            }
            throw .provenance("\(error)")
        }
        return summary
    }

    // MARK: - Workers

    private func workerLoop(
        scheduler: TaskScheduler, executor: TaskExecutor, store: ProvenanceStore, runID: Int64, results: ResultCollector
    ) {
        while let key = scheduler.next() {
            guard let stage = executor.plan.stage(named: key.stage) else { continue }
            let succeeded = runTask(
                key, of: stage, executor: executor, store: store, runID: runID, results: results)
            scheduler.finish(key, succeeded: succeeded)
        }
    }

    /// How a task is named in messages and provenance: its shard, partition or cut shard.
    private static func label(of key: TaskKey, in stage: StagePlan) -> String {
        switch stage.phases[key.phase].kind {
        case .pass: return stage.shards[key.shardIndex]
        case .reduce: return "partition-\(key.shardIndex)"
        case .cut: return stage.cutLayout?.shards[key.shardIndex].name ?? "cut-\(key.shardIndex)"
        }
    }

    /// Runs one task: records its start, runs it, makes its files visible, records it done (in that order,
    /// so that a kill at any point loses nothing). Returns whether it succeeded.
    private func runTask(
        _ key: TaskKey, of stage: StagePlan, executor: TaskExecutor, store: ProvenanceStore, runID: Int64,
        results: ResultCollector
    ) -> Bool {
        let phase = stage.phases[key.phase]
        let label = Self.label(of: key, in: stage)
        do {
            try store.startTask(
                key, phaseName: phase.name, shard: label, rank: options.rank, run: runID, now: wallClock())
        } catch {
            results.fatal("\(key.stage)/\(label): cannot record the task's start: \(error)")
            control.requestStop(.fatal)
            return false
        }
        var pending: [(temporary: String, final: String)] = []
        do {
            let (result, files): (TaskResult, [(temporary: String, final: String)])
            switch phase.kind {
            case .pass: (result, files) = try executor.runPass(stage: stage, phase: phase, shardIndex: key.shardIndex)
            case .reduce:
                (result, files) = try executor.runReduce(stage: stage, phase: phase, partition: key.shardIndex)
            case .cut: (result, files) = try executor.runCut(stage: stage, index: key.shardIndex)
            }
            pending = files
            CrashPoints.reach("before-commit")
            do {
                try AtomicFiles.commit(files)
            } catch {
                throw TaskFailure.failed("\(error)")
            }
            pending = []
            CrashPoints.reach("after-commit")
            do {
                try store.completeTask(key, result: result, now: wallClock())
            } catch {
                results.fatal(
                    "\(key.stage)/\(label): its outputs are written but it cannot be recorded as done: \(error)")
                control.requestStop(.fatal)
                return false
            }
            CrashPoints.reach("after-done")
            results.completed()
            checkJobErrorBudget(after: result, results: results)
            return true
        } catch {
            for f in pending { AtomicFiles.remove(f.temporary) }
            recordFailure(
                error as? TaskFailure ?? .failed("\(error)"), key, label: label, store: store, results: results)
            return false
        }
    }

    /// Adds a task's input errors to the job's and stops the run when the job is past its error budget.
    private func checkJobErrorBudget(after result: TaskResult, results: ResultCollector) {
        let input = results.countInput(
            records: result.counts.docsIn + result.counts.docsErrored, errors: result.counts.docsErrored)
        if let message = options.errorBudget.exceeded(
            errors: input.errors, records: input.records, final: false, scope: "job")
        {
            results.fatal(message)
            control.requestStop(.fatal)
        }
    }

    /// Records why a task did not complete: interrupted, fatal under `--strict`, or failed (the others go on).
    private func recordFailure(
        _ failure: TaskFailure, _ key: TaskKey, label: String, store: ProvenanceStore, results: ResultCollector
    ) {
        let status: TaskStatus
        switch failure {
        case .interrupted:
            status = .interrupted
        case .strict(let m):
            status = .failed
            results.fatal("\(key.stage)/\(label): \(m) (--strict)")
            control.requestStop(.fatal)
        case .failed(let m):
            status = .failed
            console.error("\(key.stage)/\(label): \(m)")
            results.failed(key, shard: label, message: m)
        }
        try? store.endTask(key, status: status, error: failure.description, now: wallClock())
    }

    // MARK: - Folder management

    private func checkOutputFolder() throws(RunError) {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: outputDirectory, isDirectory: &isDir) else { return }
        guard isDir.boolValue else { throw .output("\(outputDirectory) exists and is not a folder") }
        let entries = (try? fm.contentsOfDirectory(atPath: outputDirectory)) ?? []
        if !entries.isEmpty && !entries.contains("provenance") {
            throw .output("\(outputDirectory) is not empty and holds no darwin job; choose another output folder")
        }
    }

    private func writeRecipeSnapshot() throws(RunError) {
        let path = outputDirectory + "/recipe.yaml"
        // Ranks start together: each writes its own temporary file.
        let temporary = path + ".tmp-rank-\(options.rank)"
        do {
            try Data(recipe.text.utf8).write(to: URL(fileURLWithPath: temporary))
            try AtomicFiles.commit([(temporary, path)])
        } catch {
            throw .io("cannot write \(path): \(error)")
        }
    }

    private func resetStages(_ names: [String], store: ProvenanceStore) throws(RunError) {
        let fm = FileManager.default
        do {
            if options.worldSize == 1 {
                for n in names { try? fm.removeItem(atPath: outputDirectory + "/" + n) }
            } else {
                // Other ranks own files in the same folders: remove only what this rank wrote.
                for t in try store.tasks() where names.contains(t.key.stage) {
                    for o in t.outputs { try? fm.removeItem(atPath: outputDirectory + "/" + o.path) }
                }
                for n in names {
                    try? fm.removeItem(atPath: outputDirectory + "/" + n + "/_work")
                    AtomicFiles.remove(StageLayout(root: outputDirectory, stage: n).cutLayout)
                }
            }
            try store.resetStages(names)
        } catch {
            throw .provenance("\(error)")
        }
    }

    private static func remoteDone(out: String, rank: Int, worldSize: Int) -> Set<TaskKey> {
        var done = Set<TaskKey>()
        for r in 0..<worldSize where r != rank {
            let path = provenancePath(out, rank: r)
            guard FileManager.default.fileExists(atPath: path),
                let store = try? ProvenanceStore(path: path, readOnly: true),
                let keys = try? store.doneTasks()
            else { continue }
            done.formUnion(keys)
        }
        return done
    }

    static func hash(_ text: String) -> String {
        let h = Hashing.xxh128(text)
        return Hashing.hex(h.high) + Hashing.hex(h.low)
    }
}

/// Outcomes gathered from worker threads.
final class ResultCollector: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var completedCount = 0
    private var failures: [(task: TaskKey, shard: String, message: String)] = []
    private var fatalMessage: String?

    private var inputRecords = 0
    private var inputErrors = 0

    func completed() { lock.withLock { completedCount += 1 } }

    /// Counts the records and input errors of the tasks an earlier run completed.
    func countEarlierInput(_ store: ProvenanceStore) throws(RunError) {
        do {
            let earlier = try store.tasks().filter { $0.status == .done }
            countInput(
                records: earlier.reduce(0) { $0 + $1.counts.docsIn + $1.counts.docsErrored },
                errors: earlier.reduce(0) { $0 + $1.counts.docsErrored })
        } catch {
            throw .provenance("\(error)")
        }
    }

    /// Adds a task's records and input errors to the job's; returns the totals.
    @discardableResult
    func countInput(records: Int, errors: Int) -> (records: Int, errors: Int) {
        lock.withLock {
            inputRecords += records
            inputErrors += errors
            return (inputRecords, inputErrors)
        }
    }

    func failed(_ key: TaskKey, shard: String, message: String) {
        lock.withLock { failures.append((key, shard, message)) }
    }

    func fatal(_ message: String) { lock.withLock { if fatalMessage == nil { fatalMessage = message } } }

    var snapshot: (completed: Int, failures: [(task: TaskKey, shard: String, message: String)], fatal: String?) {
        lock.withLock { (completedCount, failures.sorted { $0.task < $1.task }, fatalMessage) }
    }
}
