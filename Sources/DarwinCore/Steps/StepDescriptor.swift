/// Everything darwin knows about a step before running it: identity, level, parameters, examples.
public struct StepDescriptor: Sendable {
    /// The stable id used in recipes, stats and provenance (`min_length`).
    public let id: String
    /// Bumped whenever the step's behaviour changes; a job records it per stage.
    public let version: Int
    /// The levels whose stages may use the step.
    public let levels: [Level]
    /// One line saying what the step does.
    public let summary: String
    /// Where the rule comes from (paper, reference implementation), or what it is for.
    public let reference: String
    /// Streaming or global (for steps whose kind depends on their parameters: global when any use is).
    public let kind: Kind
    /// For a step that is global only with some parameters (a selection that needs the whole input), says
    /// which; `nil` means always `kind`.
    public let globalWhen: (@Sendable (Parameters) -> Bool)?
    /// Lines worth showing about a use of the step with these parameters (an effective threshold, say),
    /// printed by `darwin steps NAME` and `darwin validate`.
    public let notes: (@Sendable (Parameters) -> [String])?
    /// Typed parameters with their defaults.
    public let parameters: [ParameterSpec]
    /// Histograms the step records.
    public let histograms: [HistogramSpec]
    /// Documents the step must keep or drop with given parameters; checked by the test suite.
    public let examples: [StepExample]
    /// Builds a ready instance from validated parameters.
    ///
    /// Called once per task (once per process for a batched step), and when a recipe is validated unless the
    /// step has a ``check``.
    public let make: @Sendable (Parameters) throws -> StepInstance
    /// The files the step reads besides documents (models, lists), resolved from its parameters: the job
    /// identifies each by its content, so that replacing one invalidates the stages that used it.
    public let resources: (@Sendable (Parameters) throws -> [ResourceReference])?
    /// Checks parameters that are well-typed but may be unusable (a missing model, a label the model does
    /// not have) without opening heavy resources; the recipe loader calls it instead of ``make`` when given.
    public let check: (@Sendable (Parameters) throws -> Void)?

    /// Whether the step sees documents once or needs the whole input first.
    public enum Kind: String, Sendable {
        case streaming
        case global
        /// Sees batches of documents, possibly asynchronously (``BatchStep``).
        case batched
    }

    public init(
        id: String, version: Int, levels: [Level], summary: String, reference: String, kind: Kind,
        parameters: [ParameterSpec], histograms: [HistogramSpec] = [], examples: [StepExample] = [],
        globalWhen: (@Sendable (Parameters) -> Bool)? = nil,
        notes: (@Sendable (Parameters) -> [String])? = nil,
        resources: (@Sendable (Parameters) throws -> [ResourceReference])? = nil,
        check: (@Sendable (Parameters) throws -> Void)? = nil,
        make: @escaping @Sendable (Parameters) throws -> StepInstance
    ) {
        self.resources = resources
        self.check = check
        self.id = id
        self.version = version
        self.levels = levels
        self.summary = summary
        self.reference = reference
        self.kind = kind
        self.parameters = parameters
        self.histograms = histograms
        self.examples = examples
        self.globalWhen = globalWhen
        self.notes = notes
        self.make = make
    }

    /// Whether a use of the step with these parameters is a global step.
    public func isGlobal(_ parameters: Parameters) -> Bool {
        if let globalWhen { return globalWhen(parameters) }
        return kind == .global
    }

    /// The spec of parameter `name`.
    public func parameter(_ name: String) -> ParameterSpec? { parameters.first { $0.name == name } }
}

/// A document a step must keep or drop, with the parameters that apply.
public struct StepExample: Sendable {
    /// The expected decision.
    public enum Expectation: Sendable, Equatable {
        case keep
        /// Dropped by this rule (without the step prefix).
        case drop(rule: String)
        /// Replaced by this many new documents (chunks, say).
        case replace(count: Int)
        /// Kept, with new documents added after it (how many is the step's — a model's — to decide).
        case add
    }

    /// The document as one JSON line.
    public let document: String
    /// Parameters different from the defaults.
    public let parameters: [String: JSONValue]
    public let expectation: Expectation

    public init(_ document: String, parameters: [String: JSONValue] = [:], expect expectation: Expectation) {
        self.document = document
        self.parameters = parameters
        self.expectation = expectation
    }
}

/// Thrown by a step's `make` when parameters are well-typed but unusable together.
public struct ParameterError: Error, Sendable, CustomStringConvertible {
    /// The parameter at fault, if a single one.
    public let parameter: String?
    public let message: String

    public init(_ parameter: String?, _ message: String) {
        self.parameter = parameter
        self.message = message
    }

    public var description: String { message }
}
