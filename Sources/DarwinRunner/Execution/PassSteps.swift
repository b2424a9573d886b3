import DarwinCore
import DarwinIO
import DarwinProvenance
import Foundation

/// A document on its way through the steps of a pass, with what became of it once it is settled.
struct PassItem {
    /// What became of a document.
    enum Outcome {
        /// Through every step.
        case kept
        /// Dropped by `step` with its qualified rule (`step:rule`).
        case dropped(step: String, rule: String, detail: JSONValue?)
        /// A step failed on this document alone.
        case failed(step: String, message: String)
        /// Replaced by other documents, or merged into another: neither kept nor dropped.
        case consumed
    }

    var doc: Document
    /// Position of the document (or of the read document it came from) in the pass's input.
    var documentIndex: Int
    /// Text bytes when the document entered the pass (or was made), in which drops are counted.
    var inputBytes: Int
    /// `nil` while the document still goes through the steps.
    var outcome: Outcome?
}

/// The steps of one pass, made for one shard: the previous global step's applier, the segment's streaming
/// and batched steps and the next global step's collector, each with its context and statistics.
///
/// Documents go through the steps one at a time when every step is streaming, and a window at a time when
/// one is batched: each step then sees the whole window (a batched step in batches, several in flight),
/// and documents come out in input order. Documents a step makes (``Decision/replace(_:)``,
/// ``Decision/add(_:)``) go on through the steps after it, in place of or right after their parent.
struct PassSteps {
    private enum Station {
        /// Index into `streaming`: steps mutate in place there (a copy would copy their buffers).
        case streaming(Int)
        case batched(any BatchStep, batchSize: Int, limiter: InFlightLimiter)
    }

    private var specs: [(spec: StepSpec, position: Int)] = []
    private var stations: [Station] = []
    private var streaming: [any StreamingStep] = []
    private var contexts: [StepContext] = []
    private var collector: (spec: StepSpec, position: Int, collector: any GlobalCollector, context: StepContext)?
    private var workspaces: [GlobalWorkspace] = []
    /// Documents the steps made, and documents they replaced, in this pass.
    private(set) var created = 0
    private(set) var consumed = 0
    /// Documents a window holds when the pass has a batched step: two rounds of every batch in flight.
    private(set) var windowSize: Int?

    init(executor: TaskExecutor, stage: StagePlan, segment: Int, shard: ShardInfo, layout: StageLayout)
        throws(TaskFailure)
    {
        do {
            if segment > 0 {
                let g = stage.globalSteps[segment - 1]
                let (global, ws) = try Self.global(stage.spec.steps[g], g, executor: executor, layout: layout)
                workspaces.append(ws)
                streaming.append(try global.makeApplier(shard: shard, workspace: ws))
                add(stage.spec.steps[g], g, .streaming(streaming.count - 1), executor, stage, shard)
            }
            for i in stage.segments[segment] {
                let spec = stage.spec.steps[i]
                switch try executor.instance(of: spec, at: i, in: stage) {
                case .streaming(let s):
                    streaming.append(s)
                    add(spec, i, .streaming(streaming.count - 1), executor, stage, shard)
                case .batched(let b):
                    let size = spec.parameters.int("batch_size")
                    let inFlight = spec.parameters.int("in_flight")
                    let limiter = executor.limiter(for: spec, at: i, in: stage, limit: inFlight)
                    add(spec, i, .batched(b, batchSize: size, limiter: limiter), executor, stage, shard)
                    windowSize = max(windowSize ?? 0, min(size * inFlight * 2, 1 << 16))
                case .global:
                    throw TaskFailure.failed("step \(spec.name) is global, not part of a pass")
                }
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
        _ spec: StepSpec, _ position: Int, _ station: Station, _ executor: TaskExecutor, _ stage: StagePlan,
        _ shard: ShardInfo
    ) {
        specs.append((spec, position))
        stations.append(station)
        contexts.append(executor.context(for: spec, in: stage, shard: shard))
    }

    // MARK: - One document at a time (streaming steps only)

    /// Runs the streaming steps on one document until one drops it or fails it.
    ///
    /// - Returns: `nil` when the document stays whole (its outcome in `item`), or the documents it became when
    ///   a step made new ones (each settled).
    /// - Throws: a step's error that is not scoped to the document (it fails the task).
    mutating func process(_ item: inout PassItem) throws -> [PassItem]? {
        for k in stations.indices {
            guard case .streaming = stations[k] else { preconditionFailure("a batched step outside a window") }
            var made: [PassItem] = []
            try runStreaming(k, on: &item, into: &made)
            if item.outcome != nil || !made.isEmpty {
                guard !made.isEmpty else { return nil }
                var rest = [item] + made
                for j in (k + 1)..<stations.count { try run(j, on: &rest) }
                return rest
            }
        }
        item.outcome = .kept
        return nil
    }

    // MARK: - A window at a time

    /// Runs every step on a window of documents, in order; returns the settled documents in input order
    /// (children in place of or right after their parents).
    mutating func process(window: [PassItem]) throws -> [PassItem] {
        var items = window
        for k in stations.indices { try run(k, on: &items) }
        for i in items.indices where items[i].outcome == nil { items[i].outcome = .kept }
        return items
    }

    private mutating func run(_ k: Int, on items: inout [PassItem]) throws {
        switch stations[k] {
        case .streaming:
            var next: [PassItem] = []
            next.reserveCapacity(items.count)
            for var item in items {
                if item.outcome != nil {
                    next.append(item)
                    continue
                }
                var made: [PassItem] = []
                try runStreaming(k, on: &item, into: &made)
                next.append(item)
                next += made
            }
            items = next
        case .batched(let step, let size, let limiter):
            items = try runBatched(k, step, batchSize: size, limiter: limiter, on: items)
        }
    }

    private mutating func runStreaming(_ k: Int, on item: inout PassItem, into made: inout [PassItem]) throws {
        guard case .streaming(let j) = stations[k] else { return }
        contexts[k].documentIndex = item.documentIndex
        contexts[k].stats.documentsIn += 1
        let t0 = monotonicSeconds()
        let decision: Decision
        do {
            decision = try streaming[j].process(&item.doc, context: &contexts[k])
        } catch let e as StepError where e.scope == .document {
            contexts[k].stats.seconds += monotonicSeconds() - t0
            item.outcome = .failed(step: specs[k].spec.name, message: e.message)
            return
        }
        contexts[k].stats.seconds += monotonicSeconds() - t0
        settle(k, &item, decision, into: &made)
    }

    /// Applies a step's decision to an item: dropped, replaced (the new documents go to `made`) or kept with
    /// additions.
    private mutating func settle(_ k: Int, _ item: inout PassItem, _ decision: Decision, into made: inout [PassItem]) {
        switch decision {
        case .keep:
            break
        case .drop(let rule, let detail):
            let qualified = specs[k].spec.name + ":" + rule
            contexts[k].stats.drops[qualified, default: 0] += 1
            contexts[k].stats.dropBytes[qualified, default: 0] += item.inputBytes
            item.outcome = .dropped(step: specs[k].spec.name, rule: qualified, detail: detail)
        case .replace(let docs):
            contexts[k].stats.consumed += 1
            consumed += 1
            item.outcome = .consumed
            made += newItems(docs, k, from: item)
        case .add(let docs):
            made += newItems(docs, k, from: item)
        }
    }

    private mutating func newItems(_ docs: [Document], _ k: Int, from parent: PassItem) -> [PassItem] {
        contexts[k].stats.created += docs.count
        created += docs.count
        return docs.map {
            PassItem(doc: $0, documentIndex: parent.documentIndex, inputBytes: $0.textUTF8Count, outcome: nil)
        }
    }

    /// Runs a batched step on the window's live documents: batches of `batchSize` in input order, up to the
    /// limiter's count in flight at once in the process; the outcomes are applied in input order.
    private mutating func runBatched(
        _ k: Int, _ step: any BatchStep, batchSize: Int, limiter: InFlightLimiter, on items: [PassItem]
    ) throws -> [PassItem] {
        let live = items.indices.filter { items[$0].outcome == nil }
        let batches = stride(from: 0, to: live.count, by: batchSize).map {
            Array(live[$0..<min(live.count, $0 + batchSize)])
        }
        let base = contexts[k]
        let results = BatchResults(count: batches.count)
        let group = DispatchGroup()
        let t0 = monotonicSeconds()
        for (b, indices) in batches.enumerated() {
            let docs = indices.map { items[$0].doc }
            var context = base
            context.documentIndex = items[indices[0]].documentIndex
            context.stats = StepStats(histograms: specs[k].spec.descriptor.histograms)
            limiter.acquire()
            group.enter()
            let ctx = context
            Task.detached(executorPreference: BatchThreads.shared) {
                defer {
                    limiter.release()
                    group.leave()
                }
                var c = ctx
                do {
                    let out = try await step.process(docs, context: &c)
                    results.set(b, .success(out), c.stats)
                } catch {
                    results.set(b, .failure(error), c.stats)
                }
            }
        }
        group.wait()
        contexts[k].stats.seconds += monotonicSeconds() - t0

        var outcomes: [Int: (BatchOutcome?, String?)] = [:]
        for (b, indices) in batches.enumerated() {
            let (result, stats) = results.get(b)
            var s = stats
            s.seconds = 0
            contexts[k].stats.merge(s)
            switch result {
            case .success(let out):
                guard out.count == indices.count else {
                    throw TaskFailure.failed(
                        "step \(specs[k].spec.name) returned \(out.count) outcome(s) for a batch of \(indices.count)")
                }
                for (i, o) in zip(indices, out) { outcomes[i] = (o, nil) }
            case .failure(let e as StepError) where e.scope == .document:
                for i in indices { outcomes[i] = (nil, e.message) }
            case .failure(let e):
                throw e
            }
        }
        var next: [PassItem] = []
        next.reserveCapacity(items.count)
        for (i, var item) in items.enumerated() {
            guard let (outcome, batchError) = outcomes[i] else {
                next.append(item)
                continue
            }
            contexts[k].stats.documentsIn += 1
            var made: [PassItem] = []
            if let batchError {
                item.outcome = .failed(step: specs[k].spec.name, message: batchError)
            } else if let outcome {
                item.doc = outcome.document
                if let message = outcome.error {
                    item.outcome = .failed(step: specs[k].spec.name, message: message)
                } else {
                    settle(k, &item, outcome.decision, into: &made)
                }
            }
            next.append(item)
            next += made
        }
        return next
    }

    // MARK: - Collector, end of shard, statistics

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

    /// Lets every streaming step finish its shard (the collector writes its files).
    mutating func finish() throws {
        for k in stations.indices {
            guard case .streaming(let j) = stations[k] else { continue }
            try streaming[j].finish(context: &contexts[k])
        }
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

/// Outcomes of the batches of one window, filled in by the tasks that ran them.
private final class BatchResults: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var results: [(Result<[BatchOutcome], any Error>, StepStats)?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<[BatchOutcome], any Error>, _ stats: StepStats) {
        lock.withLock { results[i] = (r, stats) }
    }

    func get(_ i: Int) -> (Result<[BatchOutcome], any Error>, StepStats) {
        lock.withLock {
            results[i]
                ?? (.failure(TaskFailure.failed("batch \(i) returned nothing")), StepStats())
        }
    }
}
