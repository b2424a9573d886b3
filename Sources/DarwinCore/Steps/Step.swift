/// What a step decided for one document.
public enum Decision: Sendable, Equatable {
    /// Keep the document (possibly changed or annotated by the step).
    case keep
    /// Drop the document; `rule` is the snake_case rule that fired, `detail` anything worth showing
    /// beside it (the measured value, the duplicate's id, …).
    case drop(rule: String, detail: JSONValue? = nil)
    /// Replace the document by these new documents, in order (its chunks, say); they go on through the
    /// steps after this one. Make them with ``Document/derived(from:context:index:text:)`` or
    /// ``Document/merged(from:context:text:)``. An empty list removes the document without rejecting it
    /// (a global step merged it into another).
    case replace([Document])
    /// Keep the document and add these new documents right after it (questions about it, say); they go on
    /// through the steps after this one.
    case add([Document])
}

/// What a batched step decided for one document of a batch.
public struct BatchOutcome: Sendable {
    /// The document as the step left it (changed or annotated, or as it came).
    public var document: Document
    public var decision: Decision
    /// A failure that concerns only this document: it goes to `_errors/` with this message and the rest of
    /// the batch goes on.
    public var error: String?

    public init(document: Document, decision: Decision, error: String? = nil) {
        self.document = document
        self.decision = decision
        self.error = error
    }

    /// The document kept as it is now.
    public static func keep(_ document: Document) -> BatchOutcome { BatchOutcome(document: document, decision: .keep) }

    /// The document failed with a document-scoped error.
    public static func failed(_ document: Document, _ message: String) -> BatchOutcome {
        BatchOutcome(document: document, decision: .keep, error: message)
    }
}

/// A step that decides on documents a batch at a time, possibly asynchronously (a model that decodes many
/// sequences together, or a server that needs many requests in flight).
///
/// The runner gives it batches of `batch_size` documents (a parameter every batched step declares, with a
/// default per step) in input order, keeps up to `in_flight` batches of the step running at once in the
/// process (shared by all workers), and puts the outcomes back in input order whatever order they come
/// back in: the output does not depend on timing. One instance serves every task of the process, so it must
/// be safe to call concurrently.
public protocol BatchStep: Sendable {
    /// Decides on a batch; returns exactly one outcome per document, in batch order.
    ///
    /// - Throws: ``StepError``: `.document` sends the whole batch to `_errors/`, any other error fails the task.
    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome]
}

/// The parameters every batched step has, in addition to its own.
public enum BatchParameters {
    /// `batch_size`: documents per batch.
    public static func batchSize(default value: Int) -> ParameterSpec {
        ParameterSpec(
            "batch_size", .integer(min: 1, max: 65_536), default: .number(JSONNumber(value)),
            "documents given to the step at once (a model decodes them together)")
    }

    /// `in_flight`: batches of the step running at once in the process, whatever `--workers` is. It changes
    /// how fast the step runs, never its output, so it is not part of the stage's fingerprint.
    public static func inFlight(default value: Int) -> ParameterSpec {
        ParameterSpec(
            "in_flight", .integer(min: 1, max: 4096), default: .number(JSONNumber(value)),
            "batches of this step running at once in the process, shared by all workers (does not change the output)")
    }

    /// Parameter names that change speed but never output, left out of a stage's fingerprint.
    /// (Model steps add how many requests they send at once and how long they wait and retry.)
    public static let runtimeOnly: Set<String> = [
        "in_flight", "requests_in_flight", "timeout", "connect_timeout", "max_attempts",
    ]
}

/// A step that sees each document once, in shard order, in a single pass.
///
/// A step supplies only the decision: the runner counts, times, writes rejected documents with their
/// rule and records everything in provenance. Keep per-shard state in the step itself; a new instance
/// is made for every task.
public protocol StreamingStep {
    /// Decides on one document, possibly changing or annotating it.
    ///
    /// - Throws: ``StepError``; a `.document` error sends this document to `_errors/` and goes on,
    ///   any other error fails the task.
    mutating func process(_ document: inout Document, context: inout StepContext) throws -> Decision

    /// Called once after the last document of the shard.
    mutating func finish(context: inout StepContext) throws
}

extension StreamingStep {
    public mutating func finish(context: inout StepContext) throws {}
}

/// A step that needs to see the whole stage input before deciding (deduplication, grouping).
///
/// The runner splits its stage into phases with barriers: every shard is first passed through the
/// step's collector; then each reduce phase runs as `partitions` tasks over the collected files; then
/// every shard is passed through the step's applier, which decides per document from the reduce
/// results. All files live in the step's ``GlobalWorkspace`` and are written atomically.
public protocol GlobalStep {
    /// The phases between collection and application, in order.
    var reducePhases: [ReducePhase] { get }

    /// A collector for one shard of the stage input (after the steps before this one).
    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector

    /// Runs one partition of one reduce phase.
    func reduce(
        phase: Int, partition: Int, shards: [ShardInfo], workspace: GlobalWorkspace,
        context: inout StepContext) throws

    /// The step that decides on the documents of one shard, in the same order the collector saw them.
    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep
}

/// One reduce phase of a global step.
public struct ReducePhase: Sendable, Equatable {
    /// A short name shown in status output (`group`, `sort-buckets`, …).
    public let name: String
    /// How many independent tasks the phase splits into.
    public let partitions: Int

    public init(name: String, partitions: Int) {
        precondition(partitions > 0, "a reduce phase needs at least one partition")
        self.name = name
        self.partitions = partitions
    }
}

/// Receives the documents of one shard during a global step's collection phase.
public protocol GlobalCollector {
    /// Sees one document; `context.documentIndex` is its position in the shard.
    mutating func collect(_ document: Document, context: inout StepContext) throws
    /// Writes the collected data (through the workspace) after the last document.
    mutating func finish(context: inout StepContext) throws
}

/// A step ready to run.
public enum StepInstance {
    case streaming(any StreamingStep)
    case global(any GlobalStep)
    case batched(any BatchStep)
}

/// Identifies one shard of a stage's input.
public struct ShardInfo: Sendable, Hashable, Comparable {
    /// Position in the stage's sorted shard list.
    public let index: Int
    /// Relative output name without extension, e.g. `part-00003` or `cc/2024-10/part-00003`.
    public let name: String

    public init(index: Int, name: String) {
        self.index = index
        self.name = name
    }

    public static func < (lhs: ShardInfo, rhs: ShardInfo) -> Bool { lhs.index < rhs.index }
}

/// An error raised by a step, with the scope the runner should apply.
public struct StepError: Error, Sendable, CustomStringConvertible {
    /// How much of the work the error spoils.
    public enum Scope: Sendable {
        /// Only this document: it goes to `_errors/` and the shard continues.
        case document
        /// This task: it is marked failed; other tasks go on.
        case shard
    }

    public let scope: Scope
    public let message: String

    public init(_ scope: Scope, _ message: String) {
        self.scope = scope
        self.message = message
    }

    public var description: String { message }
}
