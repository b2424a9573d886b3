import DarwinCore
import DarwinIO
import DarwinProvenance
import Foundation

/// The work of a job: stages split into phases, phases into tasks.
public struct JobPlan: Sendable {
    public let recipe: Recipe
    public let inputs: [InputShard]
    public private(set) var stages: [StagePlan]
    /// The job folder (absolute).
    public let outputDirectory: String

    /// Builds the plan of a validated recipe over resolved inputs, up to and including stage `until`.
    ///
    /// - Parameter cuts: the layouts of the stages that cut their output by size and have laid it out; the
    ///   stages after a cut not yet laid out are pending (their shards are not known yet).
    /// - Throws: ``RecipeError`` if `until` names no stage.
    public init(
        recipe: Recipe, inputs: [InputShard], outputDirectory: String, until: String? = nil,
        cuts: [String: CutLayout] = [:]
    ) throws(RecipeError) {
        self.recipe = recipe
        self.inputs = inputs
        self.outputDirectory = outputDirectory
        var stages: [StagePlan] = []
        var previous = ""
        var shards: [String]? = inputs.map(\.name)
        for (position, spec) in recipe.stages.enumerated() {
            let stage = try StagePlan(
                spec: spec, position: position, recipe: recipe, inputs: inputs, shards: shards,
                cut: spec.cut == nil ? nil : cuts[spec.name], previousFingerprint: previous)
            previous = stage.fingerprint
            shards = stage.outputShards
            stages.append(stage)
        }
        self.stages =
            try until.map { name throws(RecipeError) in try Self.stages(stages, through: name, recipe) } ?? stages
    }

    /// The plan up to and including stage `name` (a stage's plan depends only on the stages before it).
    ///
    /// - Throws: ``RecipeError`` if `name` names no stage.
    public func until(_ name: String) throws(RecipeError) -> JobPlan {
        var cut = self
        cut.stages = try Self.stages(stages, through: name, recipe)
        return cut
    }

    private static func stages(_ stages: [StagePlan], through name: String, _ recipe: Recipe) throws(RecipeError)
        -> [StagePlan]
    {
        guard let i = stages.firstIndex(where: { $0.spec.name == name }) else {
            throw RecipeError(
                path: recipe.sourcePath, line: nil,
                message:
                    "--until names no stage: '\(name)' (stages: \(stages.map(\.spec.name).joined(separator: ", ")))")
        }
        return Array(stages.prefix(i + 1))
    }

    /// The layouts recorded in the job folder for the stages that cut their output.
    public static func recordedCuts(recipe: Recipe, outputDirectory: String) throws -> [String: CutLayout] {
        var out: [String: CutLayout] = [:]
        for stage in recipe.stages where stage.cut != nil {
            if let layout = try CutLayout.load(StageLayout(root: outputDirectory, stage: stage.name)) {
                out[stage.name] = layout
            }
        }
        return out
    }

    /// The first stage whose cut can be laid out now, or `nil`.
    public var pendingCut: StagePlan? { stages.first { $0.cut != nil && $0.cutLayout == nil && !$0.isPending } }

    /// The stage called `name`.
    public func stage(named name: String) -> StagePlan? { stages.first { $0.spec.name == name } }

    /// Every task of the plan, in execution order.
    public var allTasks: [TaskKey] {
        stages.flatMap { stage in
            stage.phases.flatMap { phase in
                (0..<phase.taskCount).map { TaskKey(stage: stage.spec.name, phase: phase.index, shardIndex: $0) }
            }
        }
    }

    /// The tasks whose results depend on the given input shards (by index), directly or through earlier
    /// tasks: the shards' tasks in stages of streaming steps, and every task of a stage with a global step
    /// or a cut (they read all shards) and of every stage after it.
    public func tasksDepending(onInputs shards: Set<Int>) -> Set<TaskKey> {
        var affected = shards
        var out = Set<TaskKey>()
        for stage in stages {
            guard !affected.isEmpty else { break }
            let whole = !stage.globalSteps.isEmpty || stage.cut != nil
            if whole { affected = Set(stage.shards.indices) }
            for phase in stage.phases {
                let indices = phase.index == 0 || !whole ? affected : Set(0..<phase.taskCount)
                for i in indices where i < phase.taskCount {
                    out.insert(TaskKey(stage: stage.spec.name, phase: phase.index, shardIndex: i))
                }
            }
            if stage.cut != nil { affected = Set(stage.outputShards.map { Array($0.indices) } ?? []) }
        }
        return out
    }

    /// Stages that `tasksDepending(onInputs:)` redoes whole (a global step or a cut, and everything after).
    public func stagesRedoneWhole(onInputs shards: Set<Int>) -> [StagePlan] {
        guard !shards.isEmpty else { return [] }
        guard let first = stages.firstIndex(where: { !$0.globalSteps.isEmpty || $0.cut != nil }) else { return [] }
        return Array(stages[first...])
    }

    /// The rank that runs a task: shards and partitions are dealt round-robin.
    public static func owner(of key: TaskKey, worldSize: Int) -> Int { key.shardIndex % max(1, worldSize) }
}

/// One stage of the plan.
public struct StagePlan: Sendable {
    public let spec: StageSpec
    public let position: Int
    public let phases: [PhasePlan]
    /// Canonical JSON of what the stage does and reads.
    public let definition: String
    /// Hash of `definition` and of the previous stage's fingerprint.
    public let fingerprint: String
    /// Indices (into `spec.steps`) of the global steps, in order.
    public let globalSteps: [Int]
    /// For each pass, the indices of the streaming steps it runs.
    public let segments: [[Int]]

    /// The names of the shards the stage reads (`[]` while pending).
    public let shards: [String]
    /// Whether the stage's shards are not known yet (an earlier stage's cut is not laid out).
    public let isPending: Bool
    /// How the stage cuts its output, and the layout once it is known.
    public let cut: ShardCut?
    public let cutLayout: CutLayout?
    /// The index of the stage's last pass (which writes its kept documents, or, with a cut, what is cut).
    public let lastPass: Int

    init(
        spec: StageSpec, position: Int, recipe: Recipe, inputs: [InputShard], shards: [String]?, cut: CutLayout?,
        previousFingerprint: String
    ) throws(RecipeError) {
        self.spec = spec
        self.position = position
        self.shards = shards ?? []
        self.isPending = shards == nil
        self.cut = spec.cut
        self.cutLayout = spec.cut == nil || shards == nil ? nil : cut
        let taskCount = shards?.count ?? 0
        var globals: [Int] = []
        var segments: [[Int]] = [[]]
        var reduce: [Int: [ReducePhase]] = [:]
        for (i, step) in spec.steps.enumerated() {
            if step.descriptor.isGlobal(step.parameters) {
                guard case .global(let g)? = try? step.descriptor.make(step.parameters) else {
                    throw RecipeError(
                        path: recipe.sourcePath, line: step.line, message: "step '\(step.name)' could not be built")
                }
                globals.append(i)
                reduce[i] = g.reducePhases
                segments.append([])
            } else {
                segments[segments.count - 1].append(i)
            }
        }
        self.globalSteps = globals
        self.segments = segments

        var phases: [PhasePlan] = []
        for (k, _) in segments.enumerated() {
            var name: [String] = []
            if k > 0 { name.append("apply:" + spec.steps[globals[k - 1]].name) }
            if k < globals.count { name.append("collect:" + spec.steps[globals[k]].name) }
            phases.append(
                PhasePlan(
                    index: phases.count, name: name.isEmpty ? "process" : name.joined(separator: "+"),
                    kind: .pass(segment: k), taskCount: taskCount, isPending: shards == nil))
            if k < globals.count {
                let g = globals[k]
                for (r, rp) in (reduce[g] ?? []).enumerated() {
                    phases.append(
                        PhasePlan(
                            index: phases.count, name: spec.steps[g].name + ":" + rp.name,
                            kind: .reduce(step: g, phase: r), taskCount: shards == nil ? 0 : rp.partitions,
                            isPending: shards == nil))
                }
            }
        }
        self.lastPass = phases.count - 1
        if spec.cut != nil {
            phases.append(
                PhasePlan(
                    index: phases.count, name: "cut", kind: .cut, taskCount: cutLayout?.shards.count ?? 0,
                    isPending: cutLayout == nil))
        }
        self.phases = phases

        var o = JSONObject()
        o["name"] = .string(spec.name)
        o["level"] = .number(JSONNumber(spec.level.rawValue))
        var steps: [JSONValue] = []
        for step in spec.steps {
            var so = JSONObject([
                (key: "name", value: .string(step.name)), (key: "id", value: .string(step.descriptor.id)),
                (key: "version", value: .number(JSONNumber(step.descriptor.version))),
                (key: "parameters", value: (try? JSONValue.parse(step.identityParameters)) ?? .null),
            ])
            if let resources = try Self.resourceIdentities(step, recipe: recipe) { so["resources"] = resources }
            steps.append(.object(so))
        }
        o["steps"] = .array(steps)
        var output = JSONObject([
            (key: "compression_level", value: .number(JSONNumber(recipe.output.compressionLevel))),
            (key: "write_rejected", value: .bool(recipe.output.writeRejected)),
        ])
        switch spec.cut {
        case .bytes(let b)?: output["shard_size"] = .number(JSONNumber(b))
        case .documents(let d)?: output["shard_documents"] = .number(JSONNumber(d))
        case nil: break
        }
        o["output"] = .object(output)
        if let t = spec.tokenize, let path = t.tokenizer ?? recipe.tokenizer {
            // The token files follow the tokenizer's content, not its path.
            let hash: String
            do {
                hash = try ContentHashes.hash(of: path)
            } catch {
                throw RecipeError(path: recipe.sourcePath, line: t.line, message: "tokenizer \(path): \(error)")
            }
            func name(_ b: TokenizeSpec.Boundary) -> JSONValue {
                switch b {
                case .auto: return .string("auto")
                case .none: return .string("none")
                case .token(let t): return .string("token:" + t)
                }
            }
            o["tokenize"] = .object(
                JSONObject([
                    (key: "formats", value: .array(t.formats.map { .string($0.rawValue) })),
                    (key: "bos", value: name(t.bos)), (key: "eos", value: name(t.eos)),
                    (key: "tokenizer", value: .string(hash)),
                ]))
        }
        o["seed"] = .number(JSONNumber(lexeme: String(recipe.seed)))
        if position == 0 { o["input"] = .object(Self.inputDefinition(recipe.input, inputs)) }
        let definition = JSONWriter.string(.object(o))
        self.definition = definition
        let h = Hashing.xxh128(previousFingerprint + "\n" + definition)
        self.fingerprint = Hashing.hex(h.high) + Hashing.hex(h.low)
    }

    /// The content hash of every file the step reads besides documents, by parameter (`nil` when it reads
    /// none).
    static func resourceIdentities(_ step: StepSpec, recipe: Recipe) throws(RecipeError) -> JSONValue? {
        guard let resolve = step.descriptor.resources else { return nil }
        var out = JSONObject()
        do {
            for r in try resolve(step.parameters) {
                let hash = try ContentHashes.hash(of: r.path)
                let file = (r.path as NSString).lastPathComponent
                var list = out[r.parameter]?.arrayValue ?? []
                list.append(.string(file + " " + hash))
                out[r.parameter] = .array(list)
            }
        } catch {
            throw RecipeError(
                path: recipe.sourcePath, line: step.line,
                message: "step '\(step.name)': cannot read its files: \(error)")
        }
        return out.isEmpty ? nil : .object(out)
    }

    /// Every input option that changes which documents are read or what they hold, and the shard names.
    ///
    /// Shard contents are not part of the definition: each shard's size, time and content hash are
    /// compared on their own (`input_shards` in provenance), so that a changed shard redoes only the tasks
    /// that depend on it.
    static func inputDefinition(_ input: InputSpec, _ inputs: [InputShard]) -> JSONObject {
        var o = JSONObject()
        o["format"] = .string(input.format)
        o["max_line_bytes"] = .number(JSONNumber(input.maxLineBytes))
        if input.maxWindow != InputSpec.defaultMaxWindow { o["max_window"] = .number(JSONNumber(input.maxWindow)) }
        if let source = input.source { o["source"] = .string(source) }
        switch input.format {
        case "jsonl":
            o["fields"] = .object(
                JSONObject([
                    (key: "id", value: .string(input.idField)), (key: "text", value: .string(input.textField)),
                    (key: "url", value: input.urlField.map(JSONValue.string) ?? .null),
                ]))
        case "warc":
            o["content_types"] = .array(input.contentTypes.map(JSONValue.string))
            o["max_document_bytes"] = .number(JSONNumber(input.maxDocumentBytes))
        default:
            o["max_document_bytes"] = .number(JSONNumber(input.maxDocumentBytes))
            o["files_per_shard"] = .number(JSONNumber(input.filesPerShard))
            // Which files each shard groups (hashed: a tree may hold millions).
            let names = inputs.map { $0.files.joined(separator: "\n") }.joined(separator: "\n\n")
            let h = Hashing.xxh128(names)
            o["files"] = .string(Hashing.hex(h.high) + Hashing.hex(h.low))
        }
        o["shards"] = .array(inputs.map { .string($0.name) })
        return o
    }

    /// The stage's level.
    public var level: Level { spec.level }

    /// The index of the last phase (the one that writes the stage's kept shards: the last pass, or the cut).
    public var finalPhase: Int { phases.count - 1 }

    /// The shards the next stage reads: the cut's when the stage cuts (`nil` until it is laid out), else the
    /// stage's own.
    public var outputShards: [String]? {
        if isPending { return nil }
        guard cut != nil else { return shards }
        return cutLayout.map { $0.shards.map(\.name) }
    }

    /// The provenance record of the stage.
    public var record: StageRecord {
        StageRecord(
            name: spec.name, position: position, level: spec.level.rawValue, fingerprint: fingerprint,
            definition: definition, phases: phases.map { "\($0.name):\($0.isPending ? "?" : String($0.taskCount))" })
    }
}

/// One phase of a stage.
public struct PhasePlan: Sendable {
    public enum Kind: Sendable, Equatable {
        /// One task per shard running the streaming steps of a segment.
        case pass(segment: Int)
        /// A reduce phase of the global step at `step` (index into the stage's steps).
        case reduce(step: Int, phase: Int)
        /// One task per output shard of a stage that cuts its output by size.
        case cut
    }

    public let index: Int
    public let name: String
    public let kind: Kind
    public let taskCount: Int
    /// Whether the task count is not known yet (its tasks wait for an earlier phase).
    public var isPending = false
}

extension StepSpec {
    /// The step's parameters that decide its output, as canonical JSON: all of them but those that change
    /// only its speed (a batched step's `in_flight`).
    var identityParameters: String {
        let values = parameters.values.filter { !BatchParameters.runtimeOnly.contains($0.key) }
        return Parameters(values).canonicalJSON
    }
}
