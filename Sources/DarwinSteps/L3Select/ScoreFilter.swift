import DarwinCore
import DarwinIO

/// Keeps documents by their annotations: a condition (`metadata.quality.hq >= 0.3`), a top fraction by a
/// score (the best 10 % by `metadata.quality.hq`, per `source`), or both (the fraction is taken among the
/// documents the condition keeps).
///
/// With only a condition the step is streaming. With `top_fraction` it is global: every shard records
/// (group, score, tie-break) of its documents; each group's cut-off (the score of its ⌈f·n⌉-th best document)
/// is computed exactly; then every shard keeps the documents at or above their group's cut-off. Ties are
/// broken by a hash of the document id, so the selection does not depend on shards, workers or ranks.
struct ScoreFilter: StreamingStep, GlobalStep {
    let expression: ScoreExpression?
    let topFraction: Double?
    let score: String?
    let groupBy: String?
    let partitions: Int

    static let descriptor = StepDescriptor(
        id: "score_filter", version: 1, levels: [.l3, .l4, .l5],
        summary:
            "keep documents whose annotations satisfy a condition, and/or the top fraction by a score (per group)",
        reference:
            "threshold and quantile selection on classifier scores (DCLM keeps the top 10 % by fastText score; FineWeb-Edu int_score >= 3)",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "expression", .string, default: .null,
                "condition on fields: metadata.quality.hq >= 0.3, metadata.domain in [math, code], and/or/not, ( )"),
            ParameterSpec(
                "top_fraction", .number(min: 0, max: 1), default: .null,
                "keep this fraction of documents with the highest score (makes the step global)"),
            ParameterSpec(
                "score", .string, default: .null, "numeric field ranked by top_fraction (metadata.quality.hq)"),
            ParameterSpec(
                "group_by", .string, default: .null,
                "take the top fraction within each value of this field (source, metadata.language, …)"),
            ParameterSpec(
                "partitions", .integer(min: 1, max: 4096), default: 16,
                "group partitions computed in parallel (top_fraction only)"),
        ],
        examples: [
            StepExample(
                #"{"id":"a","text":"x","metadata":{"quality":{"hq":0.8}}}"#,
                parameters: ["expression": "metadata.quality.hq >= 0.3"], expect: .keep),
            StepExample(
                #"{"id":"b","text":"x","metadata":{"quality":{"hq":0.1}}}"#,
                parameters: ["expression": "metadata.quality.hq >= 0.3"], expect: .drop(rule: "expression")),
            StepExample(
                #"{"id":"c","text":"x","metadata":{}}"#,
                parameters: ["expression": "metadata.quality.hq >= 0.3"], expect: .drop(rule: "missing_value")),
            StepExample(
                #"{"id":"d","text":"x","metadata":{"domain":"code"}}"#,
                parameters: ["expression": "metadata.domain in [math, code]"], expect: .keep),
            // With top_fraction the step is global: these four run together as one shard.
            StepExample(
                #"{"id":"e","text":"x","metadata":{"quality":{"hq":0.9}}}"#, parameters: exampleTopHalf, expect: .keep),
            StepExample(
                #"{"id":"f","text":"x","metadata":{"quality":{"hq":0.2}}}"#, parameters: exampleTopHalf,
                expect: .drop(rule: "below_top_fraction")),
            StepExample(
                #"{"id":"g","text":"x","metadata":{"quality":{"hq":0.6}}}"#, parameters: exampleTopHalf, expect: .keep),
            StepExample(
                #"{"id":"h","text":"x","metadata":{"quality":{"hq":0.4}}}"#, parameters: exampleTopHalf,
                expect: .drop(rule: "below_top_fraction")),
        ],
        globalWhen: { p in p.optionalDouble("top_fraction") != nil },
        make: { p in
            let step = try ScoreFilter(p)
            return step.topFraction == nil ? .streaming(step) : .global(step)
        })

    /// The parameters of the global examples: the better half by `metadata.quality.hq`.
    static let exampleTopHalf: [String: JSONValue] = ["top_fraction": 0.5, "score": "metadata.quality.hq"]

    init(_ p: Parameters) throws {
        if let text = p.optionalString("expression") {
            do {
                expression = try ScoreExpression(text)
            } catch {
                throw ParameterError("expression", "cannot parse '\(text)' \(error)")
            }
        } else {
            expression = nil
        }
        topFraction = p.optionalDouble("top_fraction")
        score = p.optionalString("score")
        groupBy = p.optionalString("group_by")
        partitions = p.int("partitions")
        if topFraction != nil && score == nil {
            throw ParameterError("score", "top_fraction needs the score field to rank by (score: metadata.x)")
        }
        if topFraction == nil && score != nil {
            throw ParameterError("top_fraction", "score is only used with top_fraction")
        }
        if expression == nil && topFraction == nil {
            throw ParameterError("expression", "give an expression, a top_fraction with its score, or both")
        }
        if topFraction == nil && groupBy != nil {
            throw ParameterError("group_by", "group_by is only used with top_fraction")
        }
    }

    // MARK: - Condition

    /// The drop for a document the condition rejects, or nil when it passes (or there is no condition).
    func conditionDrop(_ document: Document) -> Decision? {
        guard let expression else { return nil }
        let (ok, missing) = expression.evaluate(document)
        if ok { return nil }
        var detail = JSONObject()
        detail["expression"] = .string(expression.source)
        if !missing.isEmpty {
            detail["missing"] = .array(missing.map { .string($0) })
            return .drop(rule: "missing_value", detail: .object(detail))
        }
        var values = JSONObject()
        for path in expression.paths { values[path] = document.value(atPath: path) ?? .null }
        detail["values"] = .object(values)
        return .drop(rule: "expression", detail: .object(detail))
    }

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        conditionDrop(document) ?? .keep
    }

    // MARK: - Top fraction

    /// The document's group, score and tie-break; nil score when the field is missing or not a number.
    func rankKey(_ document: Document) -> (group: String, score: Double?, tie: UInt64) {
        var group = ""
        if let groupBy, let v = document.value(atPath: groupBy) {
            group = v.stringValue ?? JSONWriter.string(v)
        }
        var value: Double? = nil
        if let score, let v = document.value(atPath: score)?.doubleValue, !v.isNaN { value = v }
        return (group, value, Hashing.xxh64(document.id, seed: 0x5C0E))
    }

    var reducePhases: [ReducePhase] { [ReducePhase(name: "cutoffs", partitions: partitions)] }

    static let collectMagic: UInt32 = 0x3143_5353  // "SSC1"
    static let cutoffMagic: UInt32 = 0x3144_5353  // "SSD1"
    static func collectName(_ shard: Int) -> String { "scores-" + String(format: "%06d", shard) + ".bin" }
    static func cutoffName(_ partition: Int) -> String { "cutoffs-" + String(format: "%04d", partition) + ".bin" }

    func partition(of group: String) -> Int { Int(Hashing.xxh64(group, seed: 0x6209) % UInt64(partitions)) }

    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector {
        Collector(step: self, shard: shard, workspace: workspace)
    }

    /// Writes, per partition, each group with the (score, tie-break) of its documents.
    struct Collector: GlobalCollector {
        let step: ScoreFilter
        let shard: ShardInfo
        let workspace: GlobalWorkspace
        var groups: [String: [(Double, UInt64)]] = [:]

        init(step: ScoreFilter, shard: ShardInfo, workspace: GlobalWorkspace) {
            self.step = step
            self.shard = shard
            self.workspace = workspace
        }

        mutating func collect(_ document: Document, context: inout StepContext) throws {
            if step.conditionDrop(document) != nil { return }
            let key = step.rankKey(document)
            guard let score = key.score else { return }
            groups[key.group, default: []].append((score, key.tie))
        }

        mutating func finish(context: inout StepContext) throws {
            var parts = [ByteWriter](repeating: ByteWriter(), count: step.partitions)
            for (group, list) in groups.sorted(by: { $0.key < $1.key }) {
                let p = step.partition(of: group)
                parts[p].append(group)
                parts[p].append(UInt64(list.count))
                for (s, t) in list {
                    parts[p].append(s.bitPattern)
                    parts[p].append(t)
                }
            }
            try SectionedFile.write(
                parts, magic: ScoreFilter.collectMagic, to: workspace.output(ScoreFilter.collectName(shard.index)))
        }
    }

    /// A group's cut-off: documents ranking at or above (score, tie) are kept.
    struct Cutoff: Equatable {
        var documents: Int
        var kept: Int
        var score: Double
        var tie: UInt64
    }

    /// Whether (a, ta) ranks before (b, tb): higher score first, then lower tie-break.
    @inline(__always)
    static func ranksBefore(_ a: Double, _ ta: UInt64, _ b: Double, _ tb: UInt64) -> Bool {
        a > b || (a == b && ta < tb)
    }

    /// The cut-off of one group's scores for a fraction.
    static func cutoff(of scores: inout [(Double, UInt64)], fraction: Double) -> Cutoff {
        let n = scores.count
        let kept = min(n, Int((Double(n) * fraction - 1e-9).rounded(.up)))
        guard kept > 0 else { return Cutoff(documents: n, kept: 0, score: .infinity, tie: 0) }
        scores.sort { ranksBefore($0.0, $0.1, $1.0, $1.1) }
        let last = scores[kept - 1]
        return Cutoff(documents: n, kept: kept, score: last.0, tie: last.1)
    }

    func reduce(phase: Int, partition: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext)
        throws
    {
        var groups: [String: [(Double, UInt64)]] = [:]
        try PhaseFiles.forEachSection(
            partition, of: shards.map { workspace.path(of: Self.collectName($0.index)) }, magic: Self.collectMagic,
            count: partitions, what: "score file"
        ) { _, r in
            while !r.isAtEnd {
                let group = try r.string()
                let count = Int(try r.uint64())
                for _ in 0..<count {
                    groups[group, default: []].append((Double(bitPattern: try r.uint64()), try r.uint64()))
                }
            }
        }
        var w = ByteWriter()
        w.append(Self.cutoffMagic)
        w.append(UInt32(groups.count))
        for (group, scores) in groups.sorted(by: { $0.key < $1.key }) {
            var list = scores
            let c = Self.cutoff(of: &list, fraction: topFraction ?? 1)
            w.append(group)
            w.append(UInt64(c.documents))
            w.append(UInt64(c.kept))
            w.append(c.score.bitPattern)
            w.append(c.tie)
            context.count("groups")
        }
        try BinaryFile.write(w.bytes, to: workspace.output(Self.cutoffName(partition)))
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        var cutoffs: [String: Cutoff] = [:]
        for p in 0..<partitions {
            let path = workspace.path(of: Self.cutoffName(p))
            var r = ByteReader(try BinaryFile.read(path), path: path)
            guard try r.uint32() == Self.cutoffMagic else { throw StepError(.shard, "\(path): not a cut-off file") }
            let n = Int(try r.uint32())
            for _ in 0..<n {
                let group = try r.string()
                cutoffs[group] = Cutoff(
                    documents: Int(try r.uint64()), kept: Int(try r.uint64()),
                    score: Double(bitPattern: try r.uint64()), tie: try r.uint64())
            }
        }
        return Applier(step: self, cutoffs: cutoffs)
    }

    /// Keeps the documents at or above their group's cut-off.
    struct Applier: StreamingStep {
        let step: ScoreFilter
        let cutoffs: [String: Cutoff]

        func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            if let drop = step.conditionDrop(document) { return drop }
            let key = step.rankKey(document)
            guard let score = key.score else {
                return .drop(rule: "missing_value", detail: ["missing": .array([.string(step.score ?? "")])])
            }
            guard let c = cutoffs[key.group] else {
                throw StepError(.shard, "no cut-off for group '\(key.group)' (collect files out of date)")
            }
            if c.kept > 0 && !ScoreFilter.ranksBefore(c.score, c.tie, score, key.tie) { return .keep }
            var detail = JSONObject()
            detail["score"] = .number(JSONNumber(score))
            if c.kept > 0 { detail["cutoff"] = .number(JSONNumber(c.score)) }
            if step.groupBy != nil { detail["group"] = .string(key.group) }
            detail["group_documents"] = .number(JSONNumber(c.documents))
            detail["group_kept"] = .number(JSONNumber(c.kept))
            return .drop(rule: "below_top_fraction", detail: .object(detail))
        }
    }
}
