import DarwinCore
import DarwinIO
import DarwinProvenance

/// The steps of one pass, made for one shard: the previous global step's applier, the segment's streaming
/// steps and the next global step's collector, each with its context and statistics.
struct PassSteps {
    /// What the steps decided for one document.
    enum Outcome {
        case kept
        /// Dropped by `step` with its qualified rule (`step:rule`).
        case dropped(step: String, rule: String, detail: JSONValue?)
        /// A step threw a document-scoped error.
        case failed(step: String, message: String)
    }

    private var specs: [(spec: StepSpec, position: Int)] = []
    private var instances: [any StreamingStep] = []
    private var contexts: [StepContext] = []
    private var collector: (spec: StepSpec, position: Int, collector: any GlobalCollector, context: StepContext)?
    private var workspaces: [GlobalWorkspace] = []

    init(executor: TaskExecutor, stage: StagePlan, segment: Int, shard: ShardInfo, layout: StageLayout)
        throws(TaskFailure)
    {
        do {
            if segment > 0 {
                let g = stage.globalSteps[segment - 1]
                let (global, ws) = try Self.global(stage.spec.steps[g], g, executor: executor, layout: layout)
                workspaces.append(ws)
                add(stage.spec.steps[g], g, try global.makeApplier(shard: shard, workspace: ws), executor, stage, shard)
            }
            for i in stage.segments[segment] {
                let spec = stage.spec.steps[i]
                guard case .streaming(let s) = try spec.descriptor.make(spec.parameters) else {
                    throw TaskFailure.failed("step \(spec.name) is not a streaming step")
                }
                add(spec, i, s, executor, stage, shard)
            }
            if segment < stage.globalSteps.count {
                let g = stage.globalSteps[segment]
                let spec = stage.spec.steps[g]
                let (global, ws) = try Self.global(spec, g, executor: executor, layout: layout)
                try AtomicFiles.makeDirectory(ws.directory)
                workspaces.append(ws)
                collector = (
                    spec, g, try global.makeCollector(shard: shard, workspace: ws),
                    executor.context(for: spec, in: stage, shard: shard)
                )
            }
        } catch let f as TaskFailure {
            throw f
        } catch {
            throw .failed("preparing steps: \(error)")
        }
    }

    private static func global(_ spec: StepSpec, _ index: Int, executor: TaskExecutor, layout: StageLayout) throws
        -> (any GlobalStep, GlobalWorkspace)
    {
        let ws = GlobalWorkspace(
            directory: layout.workspace(step: index, name: spec.name), temporarySuffix: TaskExecutor.temporarySuffix,
            concurrency: executor.workers)
        guard case .global(let global) = try spec.descriptor.make(spec.parameters) else {
            throw TaskFailure.failed("step \(spec.name) is not global")
        }
        return (global, ws)
    }

    private mutating func add(
        _ spec: StepSpec, _ position: Int, _ step: any StreamingStep, _ executor: TaskExecutor, _ stage: StagePlan,
        _ shard: ShardInfo
    ) {
        specs.append((spec, position))
        instances.append(step)
        contexts.append(executor.context(for: spec, in: stage, shard: shard))
    }

    /// Runs the streaming steps on a document until one drops it or fails.
    ///
    /// - Parameter inputBytes: the document's text bytes when the pass read it (drops are counted in them).
    /// - Throws: a step's error that is not scoped to the document (it fails the task).
    mutating func process(_ doc: inout Document, documentIndex: Int, inputBytes: Int) throws -> Outcome {
        for k in instances.indices {
            contexts[k].documentIndex = documentIndex
            contexts[k].stats.documentsIn += 1
            let t0 = monotonicSeconds()
            let decision: Decision
            do {
                decision = try instances[k].process(&doc, context: &contexts[k])
            } catch let e as StepError where e.scope == .document {
                contexts[k].stats.seconds += monotonicSeconds() - t0
                return .failed(step: specs[k].spec.name, message: e.message)
            }
            contexts[k].stats.seconds += monotonicSeconds() - t0
            if case .drop(let rule, let detail) = decision {
                let qualified = specs[k].spec.name + ":" + rule
                contexts[k].stats.drops[qualified, default: 0] += 1
                contexts[k].stats.dropBytes[qualified, default: 0] += inputBytes
                return .dropped(step: specs[k].spec.name, rule: qualified, detail: detail)
            }
        }
        return .kept
    }

    /// Hands a kept document to the next global step's collector, if the pass has one.
    mutating func collect(_ doc: Document, keptIndex: Int) throws(TaskFailure) {
        guard var c = collector else { return }
        // Only `c` may hold the collector while it works: a second reference would make every append to its
        // buffers copy them.
        collector = nil
        c.context.documentIndex = keptIndex
        let t0 = monotonicSeconds()
        do {
            try c.collector.collect(doc, context: &c.context)
        } catch {
            throw .failed("step \(c.spec.name) failed collecting document \(doc.id): \(error)")
        }
        c.context.stats.seconds += monotonicSeconds() - t0
        collector = c
    }

    /// Lets every step finish its shard (the collector writes its files).
    mutating func finish() throws {
        for k in instances.indices { try instances[k].finish(context: &contexts[k]) }
        if var c = collector {
            collector = nil
            try c.collector.finish(context: &c.context)
            collector = c
        }
    }

    /// Statistics of every step, in pass order.
    var statistics: [(step: String, position: Int, stats: StepStats)] {
        var out = specs.indices.map { (specs[$0].spec.name, specs[$0].position, contexts[$0].stats) }
        if let c = collector { out.append((c.spec.name, c.position, c.context.stats)) }
        return out
    }

    /// Files the global steps' workspaces wrote under temporary names.
    var pendingWorkspaceOutputs: [(temporary: String, final: String)] {
        workspaces.flatMap(\.pendingOutputs)
    }
}
