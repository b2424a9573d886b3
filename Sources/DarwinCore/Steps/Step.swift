/// What a step decided for one document.
public enum Decision: Sendable, Equatable {
    /// Keep the document (possibly changed or annotated by the step).
    case keep
    /// Drop the document; `rule` is the snake_case rule that fired, `detail` anything worth showing
    /// beside it (the measured value, the duplicate's id, …).
    case drop(rule: String, detail: JSONValue? = nil)
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

/// A step ready to run: either kind.
public enum StepInstance {
    case streaming(any StreamingStep)
    case global(any GlobalStep)
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
