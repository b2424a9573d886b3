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

/// Where a stage's files live.
struct StageLayout {
    let root: String
    let stage: String

    var directory: String { root + "/" + stage }
    var workDirectory: String { directory + "/_work" }

    func kept(_ shard: String) -> String { directory + "/" + shard + ".jsonl.zst" }
    func intermediate(segment: Int, _ shard: String) -> String {
        workDirectory + "/pass-\(segment)/" + shard + ".jsonl.zst"
    }
    func rejected(_ shard: String, phase: Int, isFinal: Bool) -> String {
        directory + "/_rejected/" + shard + (isFinal ? "" : ".p\(phase)") + ".jsonl.zst"
    }
    func errors(_ shard: String, phase: Int, isFinal: Bool) -> String {
        directory + "/_errors/" + shard + (isFinal ? "" : ".p\(phase)") + ".jsonl.zst"
    }
    func workspace(step index: Int, name: String) -> String {
        workDirectory + "/" + String(format: "%02d", index) + "-" + name.replacingOccurrences(of: "#", with: "_")
    }
}

/// Runs one task: a pass over a shard, or a partition of a reduce phase.
struct TaskExecutor {
    let plan: JobPlan
    let control: RunControl
    let progress: ProgressCounters
    let strict: Bool
    /// Tasks running at once on this machine.
    var workers = 1
    static let temporarySuffix = ".tmp"

    // MARK: - Passes

    /// Streams one shard through a pass of a stage and writes its outputs under temporary names.
    ///
    /// - Returns: the result and the files to commit (temporary → final).
    func runPass(stage: StagePlan, phase: PhasePlan, shardIndex: Int) throws(TaskFailure) -> (
        TaskResult, [(temporary: String, final: String)]
    ) {
        guard case .pass(let segment) = phase.kind else { throw .failed("phase \(phase.name) is not a pass") }
        let started = monotonicSeconds()
        let layout = StageLayout(root: plan.outputDirectory, stage: stage.spec.name)
        let shardName = plan.inputs[shardIndex].name
        let shard = ShardInfo(index: shardIndex, name: shardName)
        let isFinal = phase.index == stage.finalPhase
        let isFirst = segment == 0
        // The job's own input (JSONL, WARC or files, as the recipe says); every later pass reads darwin's JSONL.
        let readsJobInput = isFirst && stage.position == 0
        let inputPath: String
        if !isFirst {
            inputPath = layout.intermediate(segment: segment - 1, shardName)
        } else if readsJobInput {
            inputPath = plan.inputs[shardIndex].path
        } else {
            inputPath = StageLayout(root: plan.outputDirectory, stage: plan.stages[stage.position - 1].spec.name)
                .kept(shardName)
        }
        let keptPath = isFinal ? layout.kept(shardName) : layout.intermediate(segment: segment, shardName)
        let rejectedPath = layout.rejected(shardName, phase: phase.index, isFinal: isFinal)
        let errorsPath = layout.errors(shardName, phase: phase.index, isFinal: isFinal)
        for p in [keptPath, rejectedPath, errorsPath] {
            AtomicFiles.remove(p + Self.temporarySuffix)
            AtomicFiles.remove(p)
        }

        // Steps of this pass: the previous global step's applier, the segment, the next global step's collector.
        var steps: [(spec: StepSpec, position: Int)] = []
        var instances: [any StreamingStep] = []
        var contexts: [StepContext] = []
        func add(_ spec: StepSpec, _ position: Int, _ step: any StreamingStep) {
            steps.append((spec, position))
            instances.append(step)
            contexts.append(context(for: spec, in: stage, shard: shard))
        }
        var collector: (spec: StepSpec, position: Int, collector: any GlobalCollector, context: StepContext)?
        var workspaces: [GlobalWorkspace] = []
        do {
            if segment > 0 {
                let g = stage.globalSteps[segment - 1]
                let spec = stage.spec.steps[g]
                let ws = GlobalWorkspace(
                    directory: layout.workspace(step: g, name: spec.name), temporarySuffix: Self.temporarySuffix,
                    concurrency: workers)
                workspaces.append(ws)
                guard case .global(let global) = try spec.descriptor.make(spec.parameters) else {
                    throw TaskFailure.failed("step \(spec.name) is not global")
                }
                add(spec, g, try global.makeApplier(shard: shard, workspace: ws))
            }
            for i in stage.segments[segment] {
                let spec = stage.spec.steps[i]
                guard case .streaming(let s) = try spec.descriptor.make(spec.parameters) else {
                    throw TaskFailure.failed("step \(spec.name) is not a streaming step")
                }
                add(spec, i, s)
            }
            if segment < stage.globalSteps.count {
                let g = stage.globalSteps[segment]
                let spec = stage.spec.steps[g]
                let ws = GlobalWorkspace(
                    directory: layout.workspace(step: g, name: spec.name), temporarySuffix: Self.temporarySuffix,
                    concurrency: workers)
                try AtomicFiles.makeDirectory(ws.directory)
                workspaces.append(ws)
                guard case .global(let global) = try spec.descriptor.make(spec.parameters) else {
                    throw TaskFailure.failed("step \(spec.name) is not global")
                }
                collector = (
                    spec, g, try global.makeCollector(shard: shard, workspace: ws),
                    context(for: spec, in: stage, shard: shard)
                )
            }
        } catch let f as TaskFailure {
            throw f
        } catch {
            throw .failed("preparing steps: \(error)")
        }

        let reader: any DocumentReader
        do {
            let input = plan.recipe.input
            if readsJobInput && input.format == "warc" {
                reader = try WARCReader(path: inputPath, options: input.rawOptions)
            } else if readsJobInput && input.format == "files" {
                reader = FileTreeReader(
                    root: inputPath, files: plan.inputs[shardIndex].files, options: input.rawOptions)
            } else {
                let r = try ShardReader(path: inputPath, maxLineBytes: input.maxLineBytes, maxWindow: input.maxWindow)
                if readsJobInput {
                    r.mapping = ShardReader.Mapping(
                        id: input.idField, text: input.textField, url: input.urlField, source: input.source)
                }
                reader = r
            }
        } catch {
            throw .failed("cannot read input: \(error)")
        }
        let level = Int32(plan.recipe.output.compressionLevel)
        var kept: ShardWriter?
        var rejected: ShardWriter?
        var errors: ShardWriter?
        func abandonAll() {
            kept?.abandon()
            rejected?.abandon()
            errors?.abandon()
            for ws in workspaces { for o in ws.pendingOutputs { AtomicFiles.remove(o.temporary) } }
        }

        var result = TaskResult()
        let stepNames = stage.spec.steps.map(\.name)
        var keptIndex = 0
        var documentIndex = 0
        var batchDocs = 0, batchBytes = 0, lastFileOffset = 0
        do {
            try AtomicFiles.makeDirectory((keptPath as NSString).deletingLastPathComponent)
            kept = try ShardWriter(path: keptPath + Self.temporarySuffix, level: isFinal ? level : 1)
            CrashPoints.reach("task-start")
            while let item = try readNext(reader) {
                if control.isStopping { throw TaskFailure.interrupted }
                switch item {
                case .error(let record):
                    result.counts.docsErrored += 1
                    result.inputErrors[record.kind, default: 0] += 1
                    if strict { throw TaskFailure.strict("\(record.shard): \(record.message)") }
                    if errors == nil { errors = try openWriter(errorsPath, level: 3) }
                    try errors?.write(record.json)
                case .document(var doc):
                    result.counts.docsIn += 1
                    let bytes = doc.textUTF8Count
                    result.counts.bytesIn += bytes
                    var decision = Decision.keep
                    var dropper = -1
                    var failedStep: (name: String, message: String)?
                    for k in instances.indices {
                        contexts[k].documentIndex = documentIndex
                        contexts[k].stats.documentsIn += 1
                        let t0 = monotonicSeconds()
                        do {
                            decision = try instances[k].process(&doc, context: &contexts[k])
                        } catch let e as StepError where e.scope == .document {
                            failedStep = (steps[k].spec.name, e.message)
                        }
                        contexts[k].stats.seconds += monotonicSeconds() - t0
                        if failedStep != nil { break }
                        if case .drop = decision {
                            dropper = k
                            break
                        }
                    }
                    documentIndex += 1
                    if let failedStep {
                        result.counts.docsErrored += 1
                        result.inputErrors["step_error", default: 0] += 1
                        let message = "step \(failedStep.name) failed on document \(doc.id): \(failedStep.message)"
                        if strict { throw TaskFailure.strict("\(inputPath): \(message)") }
                        var raw: [UInt8] = []
                        doc.serialize(into: &raw)
                        let record = ErrorRecord(
                            shard: inputPath, line: documentIndex, offset: 0, fileOffset: nil,
                            kind: "step_error", message: message, raw: raw, rawLength: raw.count)
                        if errors == nil { errors = try openWriter(errorsPath, level: 3) }
                        try errors?.write(record.json)
                    } else if case .drop(let rule, let detail) = decision {
                        let qualified = steps[dropper].spec.name + ":" + rule
                        contexts[dropper].stats.drops[qualified, default: 0] += 1
                        contexts[dropper].stats.dropBytes[qualified, default: 0] += bytes
                        result.counts.docsRejected += 1
                        result.counts.bytesRejected += bytes
                        if plan.recipe.output.writeRejected {
                            doc.recordRejection(
                                stage: stage.spec.name, step: steps[dropper].spec.name, rule: qualified, detail: detail)
                            if rejected == nil { rejected = try openWriter(rejectedPath, level: level) }
                            try rejected?.write(doc)
                        }
                    } else {
                        if var c = collector {
                            // Only `c` may hold the collector while it works: a second reference would make every
                            // append to its buffers copy them.
                            collector = nil
                            c.context.documentIndex = keptIndex
                            let t0 = monotonicSeconds()
                            do {
                                try c.collector.collect(doc, context: &c.context)
                            } catch {
                                throw TaskFailure.failed(
                                    "step \(c.spec.name) failed collecting document \(doc.id): \(error)")
                            }
                            c.context.stats.seconds += monotonicSeconds() - t0
                            collector = c
                        }
                        if isFinal { doc.recordPassage(stage: stage.spec.name, level: stage.level, steps: stepNames) }
                        result.counts.docsOut += 1
                        result.counts.bytesOut += doc.textUTF8Count
                        keptIndex += 1
                        try kept?.write(doc)
                    }
                    batchDocs += 1
                    batchBytes += bytes
                    if batchDocs == 256 {
                        let offset = reader.fileBytesRead
                        progress.add(
                            docs: batchDocs, bytes: batchBytes, fileBytes: offset - lastFileOffset,
                            stage: stage.spec.name)
                        lastFileOffset = offset
                        batchDocs = 0
                        batchBytes = 0
                        CrashPoints.reach("mid-task")
                    }
                }
            }
            for k in instances.indices { try instances[k].finish(context: &contexts[k]) }
            if var c = collector {
                collector = nil
                try c.collector.finish(context: &c.context)
                collector = c
            }
        } catch let f as TaskFailure {
            abandonAll()
            throw f
        } catch let e as StepError {
            abandonAll()
            throw .failed(e.message)
        } catch {
            abandonAll()
            throw .failed("\(error)")
        }
        progress.add(
            docs: batchDocs, bytes: batchBytes, fileBytes: reader.fileBytesRead - lastFileOffset, stage: stage.spec.name
        )

        // Make everything durable under temporary names; the caller commits.
        var pending: [(temporary: String, final: String)] = []
        do {
            for (writer, final) in [(kept, keptPath), (rejected, rejectedPath), (errors, errorsPath)] {
                guard let writer else { continue }
                let written = try writer.finish()
                pending.append((writer.path, final))
                result.outputs.append(
                    OutputFileRecord(
                        path: relativePath(final), checksum: written.checksum,
                        lines: written.lines, fileBytes: written.fileBytes))
            }
        } catch {
            abandonAll()
            throw .failed("\(error)")
        }
        for ws in workspaces { pending += ws.pendingOutputs }
        if readsJobInput && plan.recipe.input.format != "jsonl" {
            // What the raw reader saw: records by type, documents by content type, what it skipped and why.
            var read = StepStats()
            read.counters = reader.counters
            read.documentsIn = result.counts.docsIn
            result.steps.append(("read_" + plan.recipe.input.format, -1, read))
        }
        for (k, s) in steps.enumerated() { result.steps.append((s.spec.name, s.position, contexts[k].stats)) }
        if let c = collector { result.steps.append((c.spec.name, c.position, c.context.stats)) }
        result.seconds = monotonicSeconds() - started
        return (result, pending)
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
        let shards = plan.inputs.enumerated().map { ShardInfo(index: $0.offset, name: $0.element.name) }
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

    // MARK: - Helpers

    private func context(for spec: StepSpec, in stage: StagePlan, shard: ShardInfo?) -> StepContext {
        StepContext(
            stage: stage.spec.name, step: spec.name, shard: shard, seed: plan.recipe.seed,
            histograms: spec.descriptor.histograms)
    }

    private func openWriter(_ final: String, level: Int32) throws -> ShardWriter {
        try AtomicFiles.makeDirectory((final as NSString).deletingLastPathComponent)
        return try ShardWriter(path: final + Self.temporarySuffix, level: level)
    }

    private func readNext(_ reader: any DocumentReader) throws -> ShardReader.Item? {
        do {
            return try reader.next()
        } catch {
            throw TaskFailure.failed("\(error)")
        }
    }

    private func relativePath(_ path: String) -> String {
        let root = plan.outputDirectory + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }
}
