import DarwinCore
import DarwinIO
import DarwinProvenance
import Foundation

/// Why a task did not complete.
public enum TaskFailure: Error, Sendable, CustomStringConvertible {
    /// The run is stopping (signal or fatal error elsewhere); the task's partial outputs were removed.
    case interrupted
    /// A `--strict` run met bad input.
    case strict(String)
    /// The task failed; other tasks may continue.
    case failed(String)

    public var description: String {
        switch self {
        case .interrupted: return "interrupted"
        case .strict(let m): return m + " (--strict)"
        case .failed(let m): return m
        }
    }
}

/// Runs one task: a pass over a shard, or a partition of a reduce phase.
struct TaskExecutor {
    let plan: JobPlan
    let control: RunControl
    let progress: ProgressCounters
    let strict: Bool
    /// Bad input each shard may hold before its task fails.
    var errorBudget: ErrorBudget
    /// Tasks running at once on this machine.
    var workers = 1
    /// Batched steps and their in-flight limits, shared by every task of the process.
    let shared: SharedSteps
    static let temporarySuffix = ".tmp"

    // MARK: - Passes

    /// Streams one shard through a pass of a stage and writes its outputs under temporary names.
    ///
    /// - Returns: the result and the files to commit (temporary → final).
    func runPass(stage: StagePlan, phase: PhasePlan, shardIndex: Int) throws(TaskFailure) -> (
        TaskResult, [(temporary: String, final: String)]
    ) {
        var pass = try ShardPass(executor: self, stage: stage, phase: phase, shardIndex: shardIndex)
        return try pass.run()
    }

    // MARK: - Reduce phases

    /// Runs one partition of a reduce phase of a global step.
    func runReduce(stage: StagePlan, phase: PhasePlan, partition: Int) throws(TaskFailure) -> (
        TaskResult, [(temporary: String, final: String)]
    ) {
        guard case .reduce(let g, let r) = phase.kind else {
            throw .failed("phase \(phase.name) is not a reduce phase")
        }
        let started = monotonicSeconds()
        let spec = stage.spec.steps[g]
        let layout = StageLayout(root: plan.outputDirectory, stage: stage.spec.name)
        let ws = GlobalWorkspace(
            directory: layout.workspace(step: g, name: spec.name), temporarySuffix: Self.temporarySuffix,
            concurrency: workers)
        var ctx = context(for: spec, in: stage, shard: nil)
        let shards = stage.shards.enumerated().map { ShardInfo(index: $0.offset, name: $0.element) }
        CrashPoints.reach("task-start")
        do {
            try AtomicFiles.makeDirectory(ws.directory)
            guard case .global(let global) = try spec.descriptor.make(spec.parameters) else {
                throw TaskFailure.failed("step \(spec.name) is not global")
            }
            if control.isStopping { throw TaskFailure.interrupted }
            try global.reduce(phase: r, partition: partition, shards: shards, workspace: ws, context: &ctx)
            CrashPoints.reach("reduce")
        } catch let f as TaskFailure {
            for o in ws.pendingOutputs { AtomicFiles.remove(o.temporary) }
            throw f
        } catch {
            for o in ws.pendingOutputs { AtomicFiles.remove(o.temporary) }
            throw .failed("step \(spec.name), \(phase.name) partition \(partition): \(error)")
        }
        var result = TaskResult()
        result.steps = [(spec.name, g, ctx.stats)]
        result.seconds = monotonicSeconds() - started
        return (result, ws.pendingOutputs)
    }

    // MARK: - Cuts

    /// Copies one output shard of a stage that cuts its output: its range of the documents the last pass
    /// kept, in order, into `STAGE/<name>.jsonl.zst`.
    func runCut(stage: StagePlan, index: Int) throws(TaskFailure) -> (TaskResult, [(temporary: String, final: String)])
    {
        let started = monotonicSeconds()
        guard let layout = stage.cutLayout, index < layout.shards.count else {
            throw .failed("stage \(stage.spec.name) has no cut laid out for shard \(index)")
        }
        let target = layout.shards[index]
        let final = StageLayout(root: plan.outputDirectory, stage: stage.spec.name).kept(target.name)
        var result = TaskResult()
        var tokenFiles: [(temporary: String, final: String)] = []
        CrashPoints.reach("task-start")
        do {
            AtomicFiles.remove(final + Self.temporarySuffix)
            let writer = try ShardWriter(
                path: final + Self.temporarySuffix, level: Int32(plan.recipe.output.compressionLevel))
            let tokens = stage.spec.tokenize == nil ? nil : try StageTokens(plan: plan, stage: stage)
            try tokens?.open(prefix: TokenFiles.prefix(of: final))
            do {
                for i in target.from.shard...min(target.to.shard, stage.shards.count - 1) {
                    if i == target.to.shard && target.to.document == 0 { break }
                    let path = StageLayout(root: plan.outputDirectory, stage: stage.spec.name).cutInput(stage.shards[i])
                    let reader = try ShardReader(path: path)
                    var d = 0
                    while let item = try reader.next() {
                        defer { d += 1 }
                        if i == target.from.shard && d < target.from.document { continue }
                        if i == target.to.shard && d >= target.to.document { break }
                        guard case .document(let doc) = item else {
                            throw TaskFailure.failed("\(path): document \(d) cannot be read back")
                        }
                        if control.isStopping { throw TaskFailure.interrupted }
                        result.counts.docsIn += 1
                        result.counts.docsOut += 1
                        result.counts.bytesIn += doc.textUTF8Count
                        result.counts.bytesOut += doc.textUTF8Count
                        try writer.write(doc)
                        try tokens?.out(doc)
                    }
                }
                guard result.counts.docsOut == target.documents else {
                    throw TaskFailure.failed(
                        "cut shard \(target.name): read \(result.counts.docsOut) documents, the layout says \(target.documents)"
                    )
                }
                let written = try writer.finish()
                result.outputs.append(
                    OutputFileRecord(
                        path: relativePath(final), checksum: written.checksum, lines: written.lines,
                        fileBytes: written.fileBytes))
                if let tokens {
                    tokenFiles = try tokens.finish()
                    result.outputs += try tokens.records(tokenFiles, relative: relativePath)
                    result.steps.append((StageTokens.statisticsName, -1, tokens.statistics))
                }
            } catch {
                writer.abandon()
                tokens?.abandon()
                throw error
            }
        } catch let f as TaskFailure {
            throw f
        } catch {
            throw .failed("\(error)")
        }
        result.seconds = monotonicSeconds() - started
        return (result, [(final + Self.temporarySuffix, final)] + tokenFiles)
    }

    // MARK: - Helpers

    /// A ready instance of a stage's step: streaming steps are made per task, batched steps once per process.
    func instance(of spec: StepSpec, at index: Int, in stage: StagePlan) throws -> StepInstance {
        guard spec.descriptor.kind == .batched else { return try spec.descriptor.make(spec.parameters) }
        let step = try shared.batchStep("\(stage.spec.name)/\(index)") {
            guard case .batched(let b) = try spec.descriptor.make(spec.parameters) else {
                throw TaskFailure.failed("step \(spec.name) is not a batched step")
            }
            return b
        }
        return .batched(step)
    }

    /// The process-wide limit of batches in flight of a stage's step.
    func limiter(for spec: StepSpec, at index: Int, in stage: StagePlan, limit: Int) -> InFlightLimiter {
        shared.limiter("\(stage.spec.name)/\(index)", limit: limit)
    }

    func context(for spec: StepSpec, in stage: StagePlan, shard: ShardInfo?) -> StepContext {
        var context = StepContext(
            stage: stage.spec.name, step: spec.name, shard: shard, seed: plan.recipe.seed,
            histograms: spec.descriptor.histograms)
        context.jobFolder = plan.outputDirectory
        return context
    }

    func relativePath(_ path: String) -> String {
        let root = plan.outputDirectory + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }
}
