import DarwinCore
import DarwinIO
import DarwinProvenance
import DarwinTokenizer
import Foundation

/// One pass of a stage over one shard: reads the shard, runs the pass's steps on every document and writes
/// kept, rejected and error shards under temporary names.
///
/// A pass runs, in order, the applier of the global step before its segment (if any), the segment's
/// streaming steps, and the collector of the global step after it (if any).
struct ShardPass {
    /// Where the pass reads and writes.
    struct Paths {
        var input: String
        var kept: String
        var rejected: String
        var errors: String
    }

    let executor: TaskExecutor
    let stage: StagePlan
    let shard: ShardInfo
    let paths: Paths
    let isFinal: Bool
    /// Whether the pass reads the job's own input (JSONL, WARC or files, as the recipe says) rather than
    /// darwin's JSONL from an earlier pass.
    let readsJobInput: Bool

    private var steps: PassSteps
    /// Counts tokens when the job names a tokenizer; writes token files when the stage tokenizes.
    private var tokens: StageTokens?
    private var writers = PassWriters()
    private var result = TaskResult()
    private var budget: ShardErrorBudget
    private var documentIndex = 0
    private var keptIndex = 0
    private let stepNames: [String]

    private var plan: JobPlan { executor.plan }
    private static let temporarySuffix = TaskExecutor.temporarySuffix

    init(executor: TaskExecutor, stage: StagePlan, phase: PhasePlan, shardIndex: Int) throws(TaskFailure) {
        guard case .pass(let segment) = phase.kind else { throw .failed("phase \(phase.name) is not a pass") }
        self.executor = executor
        self.stage = stage
        let plan = executor.plan
        let shardName = stage.shards[shardIndex]
        self.shard = ShardInfo(index: shardIndex, name: shardName)
        self.isFinal = phase.index == stage.lastPass
        self.readsJobInput = segment == 0 && stage.position == 0
        let layout = StageLayout(root: plan.outputDirectory, stage: stage.spec.name)
        let input: String
        if segment > 0 {
            input = layout.intermediate(segment: segment - 1, shardName)
        } else if readsJobInput {
            input = plan.inputs[shardIndex].path
        } else {
            input = StageLayout(root: plan.outputDirectory, stage: plan.stages[stage.position - 1].spec.name)
                .kept(shardName)
        }
        let kept: String
        if !isFinal {
            kept = layout.intermediate(segment: segment, shardName)
        } else if stage.cut != nil {
            kept = layout.cutInput(shardName)
        } else {
            kept = layout.kept(shardName)
        }
        self.paths = Paths(
            input: input, kept: kept,
            rejected: layout.rejected(shardName, phase: phase.index, isFinal: isFinal),
            errors: layout.errors(shardName, phase: phase.index, isFinal: isFinal))
        for p in [paths.kept, paths.rejected, paths.errors] {
            AtomicFiles.remove(p + Self.temporarySuffix)
            AtomicFiles.remove(p)
        }
        self.steps = try PassSteps(executor: executor, stage: stage, segment: segment, shard: shard, layout: layout)
        self.budget = ShardErrorBudget(budget: executor.errorBudget)
        self.stepNames = stage.spec.steps.map(\.name)
        self.tokens = try StageTokens(plan: plan, stage: stage)
    }

    /// Runs the pass.
    ///
    /// - Returns: the result and the files to commit (temporary → final).
    mutating func run() throws(TaskFailure) -> (TaskResult, [(temporary: String, final: String)]) {
        let started = monotonicSeconds()
        let identityBefore = try readsJobInput ? inputFingerprint() : nil
        let reader = try openReader()
        do {
            try streamDocuments(from: reader)
            try steps.finish()
        } catch let f as TaskFailure {
            abandon()
            throw f
        } catch let e as StepError {
            abandon()
            throw .failed(e.message)
        } catch {
            abandon()
            throw .failed("\(error)")
        }
        if let message = budget.exceeded(final: true) {
            abandon()
            throw .failed(overBudget(message))
        }
        let pending = try finishOutputs()
        if let identityBefore {
            let hashedWhileRead = try? (reader as? ShardReader)?.contentHash()
            try recordInputIdentity(before: identityBefore, content: hashedWhileRead ?? nil)
        }
        if readsJobInput && plan.recipe.input.format != "jsonl" {
            // What the raw reader saw: records by type, documents by content type, what it skipped and why.
            var read = StepStats()
            read.counters = reader.counters
            read.documentsIn = result.counts.docsIn
            result.steps.append(("read_" + plan.recipe.input.format, -1, read))
        }
        result.steps += steps.statistics
        if let tokens { result.steps.append((StageTokens.statisticsName, -1, tokens.statistics)) }
        result.seconds = monotonicSeconds() - started
        return (result, pending + steps.pendingWorkspaceOutputs)
    }

    // MARK: - Reading

    private func openReader() throws(TaskFailure) -> any DocumentReader {
        do {
            let input = plan.recipe.input
            if readsJobInput && input.format == "warc" {
                return try WARCReader(path: paths.input, options: input.rawOptions)
            } else if readsJobInput && input.format == "files" {
                return FileTreeReader(
                    root: paths.input, files: plan.inputs[shard.index].files, options: input.rawOptions)
            }
            let r = try ShardReader(path: paths.input, maxLineBytes: input.maxLineBytes, maxWindow: input.maxWindow)
            if readsJobInput {
                r.mapping = ShardReader.Mapping(
                    id: input.idField, text: input.textField, url: input.urlField, source: input.source)
                // The input's identity is hashed as it is read, not by reading it again.
                r.hashContent()
            }
            return r
        } catch {
            throw .failed("cannot read input: \(error)")
        }
    }

    private mutating func streamDocuments(from reader: any DocumentReader) throws {
        try AtomicFiles.makeDirectory((paths.kept as NSString).deletingLastPathComponent)
        writers.kept = try ShardWriter(
            path: paths.kept + Self.temporarySuffix,
            level: isFinal && stage.cut == nil ? Int32(plan.recipe.output.compressionLevel) : 1)
        if isFinal && stage.cut == nil, let t = tokens {
            try t.open(prefix: TokenFiles.prefix(of: paths.kept))
        }
        CrashPoints.reach("task-start")
        var progress = PassProgress(counters: executor.progress, stage: stage.spec.name)
        var window = PassWindow(size: steps.windowSize)
        while let item = try next(reader) {
            if executor.control.isStopping { throw TaskFailure.interrupted }
            switch item {
            case .error(let record):
                try handle(error: record)
            case .document(let doc):
                let bytes = doc.textUTF8Count
                result.counts.docsIn += 1
                result.counts.bytesIn += bytes
                if readsJobInput, let t = tokens { try t.countIn(doc) }
                budget.countRecord()
                let entering = PassItem(doc: doc, documentIndex: documentIndex, inputBytes: bytes, outcome: nil)
                documentIndex += 1
                if window.isActive {
                    if window.add(entering) { try flush(&window) }
                } else {
                    try run(entering)
                }
                if progress.add(bytes: bytes, reader: reader) { CrashPoints.reach("mid-task") }
            }
            if let message = budget.exceeded(final: false) { throw TaskFailure.failed(overBudget(message)) }
        }
        try flush(&window)
        result.counts.docsCreated = steps.created
        result.counts.docsConsumed = steps.consumed
        progress.flush(reader: reader)
    }

    /// Runs one document through the steps (every step streaming) and settles what came out.
    private mutating func run(_ entering: consuming PassItem) throws {
        var item = entering
        if let many = try steps.process(&item) {
            for settled in many { try settle(settled) }
        } else {
            try settle(item)
        }
    }

    /// Runs a window of documents through the steps (a step is batched) and settles what came out.
    private mutating func flush(_ window: inout PassWindow) throws {
        guard !window.items.isEmpty else { return }
        if executor.control.isStopping { throw TaskFailure.interrupted }
        for settled in try steps.process(window: window.take()) { try settle(settled) }
    }

    private func next(_ reader: any DocumentReader) throws -> ShardReader.Item? {
        do {
            return try reader.next()
        } catch {
            // `DocumentReader.next` throws ``SourceError``; an I/O error names its file already.
            if case .io = error { throw TaskFailure.failed("\(error)") }
            throw TaskFailure.failed("\(paths.input): \(error)")
        }
    }

    // MARK: - Documents and errors

    private mutating func handle(error record: ErrorRecord) throws {
        result.counts.docsErrored += 1
        result.inputErrors[record.kind, default: 0] += 1
        budget.countError()
        if executor.strict { throw TaskFailure.strict("\(record.shard): \(record.message)") }
        try writeError(record)
    }

    /// Writes a settled document where it belongs: kept, rejected, or an error record.
    private mutating func settle(_ item: consuming PassItem) throws {
        // The document is changed in place in `item` (taken, not copied), so that its fields are not copied again.
        switch item.outcome ?? .kept {
        case .failed(let step, let message):
            result.counts.docsErrored += 1
            result.inputErrors["step_error", default: 0] += 1
            budget.countDocumentError()
            let message = "step \(step) failed on document \(item.doc.id): \(message)"
            if executor.strict { throw TaskFailure.strict("\(paths.input): \(message)") }
            var raw: [UInt8] = []
            item.doc.serialize(into: &raw)
            try writeError(
                ErrorRecord(
                    shard: paths.input, line: item.documentIndex + 1, offset: 0, fileOffset: nil, kind: "step_error",
                    message: message, raw: raw, rawLength: raw.count))
        case .dropped(let step, let rule, let detail):
            result.counts.docsRejected += 1
            result.counts.bytesRejected += item.inputBytes
            if plan.recipe.output.writeRejected {
                item.doc.recordRejection(stage: stage.spec.name, step: step, rule: rule, detail: detail)
                if writers.rejected == nil {
                    writers.rejected = try openWriter(
                        paths.rejected, level: Int32(plan.recipe.output.compressionLevel))
                }
                try writers.rejected?.write(item.doc)
            }
        case .consumed:
            break
        case .kept:
            try steps.collect(item.doc, keptIndex: keptIndex)
            if isFinal { item.doc.recordPassage(stage: stage.spec.name, level: stage.level, steps: stepNames) }
            result.counts.docsOut += 1
            result.counts.bytesOut += item.doc.textUTF8Count
            keptIndex += 1
            // A stage that cuts and tokenizes counts its kept tokens as its cut writes them.
            if isFinal && !(stage.cut != nil && stage.spec.tokenize != nil), let t = tokens { try t.out(item.doc) }
            let before = writers.kept?.bytes ?? 0
            try writers.kept?.write(item.doc)
            if stage.cut != nil && isFinal { writers.sizes.append(UInt64((writers.kept?.bytes ?? 0) - before)) }
        }
    }

    /// Writes an error record, up to ``ErrorBudget/recordsWrittenPerShard`` per shard; beyond that the
    /// error is only counted. The first few become examples in provenance.
    private mutating func writeError(_ record: ErrorRecord) throws {
        if result.errorSamples.count < ErrorBudget.samplesPerTask {
            let location =
                record.line > 0
                ? "\(record.shard):\(record.line)" : "\(record.shard)@\(record.fileOffset ?? record.offset)"
            var message = Substring(record.message)
            let prefix = "line \(record.line): "
            if message.hasPrefix(prefix) { message = message.dropFirst(prefix.count) }
            result.errorSamples.append(
                InputErrorSample(kind: record.kind, location: location, message: String(message)))
        }
        guard result.counts.docsErrored - result.errorsUnwritten <= ErrorBudget.recordsWrittenPerShard else {
            result.errorsUnwritten += 1
            return
        }
        if writers.errors == nil { writers.errors = try openWriter(paths.errors, level: 3) }
        try writers.errors?.write(record.json)
    }

    /// The failure message of a shard past its error budget, with its first error.
    private func overBudget(_ message: String) -> String {
        guard let first = result.errorSamples.first else { return message }
        return "\(paths.input): \(message); first: \(first.location): \(first.message)"
    }

    // MARK: - Outputs

    private func openWriter(_ final: String, level: Int32) throws -> ShardWriter {
        try AtomicFiles.makeDirectory((final as NSString).deletingLastPathComponent)
        return try ShardWriter(path: final + Self.temporarySuffix, level: level)
    }

    private func abandon() {
        writers.abandon()
        tokens?.abandon()
        for o in steps.pendingWorkspaceOutputs { AtomicFiles.remove(o.temporary) }
    }

    /// Makes every output durable under its temporary name; the caller commits.
    private mutating func finishOutputs() throws(TaskFailure) -> [(temporary: String, final: String)] {
        var pending: [(temporary: String, final: String)] = []
        do {
            for (writer, final) in [
                (writers.kept, paths.kept), (writers.rejected, paths.rejected), (writers.errors, paths.errors),
            ] {
                guard let writer else { continue }
                let written = try writer.finish()
                pending.append((writer.path, final))
                result.outputs.append(
                    OutputFileRecord(
                        path: executor.relativePath(final), checksum: written.checksum, lines: written.lines,
                        fileBytes: written.fileBytes))
            }
            if let t = tokens {
                let files = try t.finish()
                pending += files
                result.outputs += try t.records(files, relative: executor.relativePath)
            }
            if stage.cut != nil && isFinal {
                // The size of every kept line, for laying out the cut.
                let final = StageLayout(root: plan.outputDirectory, stage: stage.spec.name).cutSizes(shard.name)
                try BinaryFile.write(writers.sizes.bytes, to: final + Self.temporarySuffix)
                pending.append((final + Self.temporarySuffix, final))
            }
        } catch {
            abandon()
            throw .failed("\(error)")
        }
        return pending
    }

    // MARK: - Input identity

    private var inputFiles: [String] { plan.inputs[shard.index].filePaths }

    private func inputFingerprint() throws(TaskFailure) -> FileFingerprint {
        do {
            return try FileFingerprint.of(inputFiles)
        } catch {
            throw .failed("cannot read input: \(error)")
        }
    }

    /// Hashes the whole input shard just read and records it, so that a later run notices any change; a
    /// shard that changed while it was read fails the task.
    private mutating func recordInputIdentity(before: FileFingerprint, content hashed: String?) throws(TaskFailure) {
        do {
            let content = try hashed ?? FileFingerprint.contentHash(inputFiles)
            let sample = try FileFingerprint.sampleHash(inputFiles)
            let after = try FileFingerprint.of(inputFiles)
            guard after == before else {
                throw TaskFailure.failed(
                    "input shard \(shard.name) (\(paths.input)) changed while it was read; run again to read it anew")
            }
            result.inputIdentity = InputShardRecord(
                name: shard.name, path: paths.input, size: after.size,
                modifiedNanoseconds: after.modifiedNanoseconds, sampleHash: sample, contentHash: content,
                checkedAt: wallClock())
        } catch let f as TaskFailure {
            abandon()
            throw f
        } catch {
            abandon()
            throw .failed("cannot hash input: \(error)")
        }
    }
}

/// Documents gathered for a pass whose steps run a window at a time (a step is batched).
///
/// A window closes at a number of documents or of text bytes, both fixed: its bounds depend only on the
/// input, so the batches a step sees, and the output, do not depend on timing.
private struct PassWindow {
    let size: Int?
    var items: [PassItem] = []
    var bytes = 0
    /// Text a window may hold before it closes early.
    static let maxBytes = 64 << 20

    var isActive: Bool { size != nil }

    /// Adds a document; returns whether the window is full.
    mutating func add(_ item: PassItem) -> Bool {
        items.append(item)
        bytes += item.inputBytes
        return items.count >= (size ?? 1) || bytes >= Self.maxBytes
    }

    mutating func take() -> [PassItem] {
        defer {
            items = []
            bytes = 0
        }
        return items
    }
}

/// The kept, rejected and error writers of a pass (the last two opened on first use).
private struct PassWriters {
    var kept: ShardWriter?
    var rejected: ShardWriter?
    var errors: ShardWriter?
    /// Sizes of the kept lines, when the stage cuts its output.
    var sizes = ByteWriter()

    func abandon() {
        kept?.abandon()
        rejected?.abandon()
        errors?.abandon()
    }
}

/// Reports documents and bytes to the progress counters every 256 documents.
private struct PassProgress {
    let counters: ProgressCounters
    let stage: String
    var documents = 0
    var bytes = 0
    var lastFileOffset = 0

    /// Counts a document; returns whether a batch was reported.
    mutating func add(bytes: Int, reader: any DocumentReader) -> Bool {
        documents += 1
        self.bytes += bytes
        guard documents == 256 else { return false }
        flush(reader: reader)
        return true
    }

    mutating func flush(reader: any DocumentReader) {
        let offset = reader.fileBytesRead
        counters.add(docs: documents, bytes: bytes, fileBytes: offset - lastFileOffset, stage: stage)
        lastFileOffset = offset
        documents = 0
        bytes = 0
    }
}
