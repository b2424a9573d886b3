import DarwinCore
import DarwinIO
import Foundation

/// `darwin inspect OUT --lineage ID`: a document's ancestors and descendants across the stages of a job.
///
/// Reads every stage's kept and rejected shards once (only `id` and `darwin` of each line are decoded).
/// Ancestors follow `darwin.parent` up; descendants are the documents whose `darwin.parent` names the
/// document or one of its descendants, and the document itself in later stages. A parent found in no stage
/// came from the job's input (or was consumed, replaced by its children, in the stage that made them).
public struct LineageTracer {
    public let outputDirectory: String
    /// The stages, in order.
    public let stages: [String]

    public init(outputDirectory: String, stages: [String]) {
        self.outputDirectory = outputDirectory
        self.stages = stages
    }

    /// One appearance of a document in a stage's output.
    public struct Appearance: Sendable, Equatable {
        public enum Relation: String, Sendable { case ancestor, document, descendant }
        public var id: String
        /// The stage, or `input` for a parent found in no stage.
        public var stage: String
        public var shard: String
        /// `kept`, `dropped by RULE`, or for `input`, what made documents from it.
        public var status: String
        public var parents: [String]
        /// `STAGE:step` that made it, if a step did.
        public var createdBy: String?
        public var relation: Relation
        /// Position of the stage (−1 for the input).
        public var position: Int
        /// For a chunk: the document it is joined back into (`darwin.chunk.of`).
        public var joinsInto: String?
    }

    /// Every appearance of the document, of its ancestors and of its descendants, in stage order.
    public func trace(_ id: String) throws(RunError) -> [Appearance] {
        let all = try scan()
        var byID: [String: [Int]] = [:]
        var children: [String: [Int]] = [:]
        for (i, a) in all.enumerated() {
            byID[a.id, default: []].append(i)
            for p in a.parents { children[p, default: []].append(i) }
        }
        guard byID[id] != nil || children[id] != nil else { return [] }
        var relation: [Int: Appearance.Relation] = [:]
        for i in byID[id] ?? [] { relation[i] = .document }
        var first = (byID[id] ?? []).map { all[$0].position }.min() ?? Int.max
        // Made into other documents before it appears in any stage's output: it came from the input.
        let madeEarly = (children[id] ?? []).filter { all[$0].position < first }
        var consumedInput: Appearance?
        if !madeEarly.isEmpty {
            first = -1
            consumedInput = Appearance(
                id: id, stage: "input", shard: "",
                status: "made into documents by "
                    + Set(madeEarly.compactMap { all[$0].createdBy }).sorted().joined(separator: ", "),
                parents: [], createdBy: nil, relation: .document, position: -1, joinsInto: nil)
        }

        // Up: the parents of the document's first appearances, then theirs; a parent is shown where it
        // appears before the document, or as coming from the input.
        var up = [(id: id, before: first)]
        var seenUp: Set<String> = [id]
        var inputs: [(id: String, madeBy: Set<String>)] = []
        while let (next, before) = up.popLast() {
            let parents = Set((byID[next] ?? []).filter { all[$0].position <= before }.flatMap { all[$0].parents })
            for p in parents.sorted() where seenUp.insert(p).inserted {
                let earlier = (byID[p] ?? []).filter { all[$0].position < before }
                if earlier.isEmpty {
                    inputs.append((p, Set((children[p] ?? []).compactMap { all[$0].createdBy })))
                }
                for i in earlier { relation[i] = .ancestor }
                up.append((p, earlier.map { all[$0].position }.max() ?? before))
            }
        }

        // Down: what was made from the document (darwin.parent), what its chunks were joined into
        // (darwin.chunk.of, in later stages), and the same for those.
        var down = [(id: id, after: first)]
        var seenDown: Set<String> = [id]
        while let (next, after) = down.popLast() {
            var found: [Int] = children[next] ?? []
            for i in byID[next] ?? [] where all[i].position >= after {
                if let of = all[i].joinsInto {
                    found += (byID[of] ?? []).filter { all[$0].position > all[i].position }
                }
            }
            for i in found where all[i].position >= after && relation[i] != .document {
                relation[i] = .descendant
                if seenDown.insert(all[i].id).inserted { down.append((all[i].id, all[i].position)) }
            }
            for i in byID[next] ?? [] where next != id && all[i].position >= after && relation[i] == nil {
                relation[i] = .descendant
            }
        }
        var out = inputs.sorted { $0.id < $1.id }.map {
            Appearance(
                id: $0.id, stage: "input", shard: "",
                status: "made into documents by " + $0.madeBy.sorted().joined(separator: ", "), parents: [],
                createdBy: nil, relation: .ancestor, position: -1, joinsInto: nil)
        }
        if let consumedInput { out.append(consumedInput) }
        for (i, a) in all.enumerated() {
            guard let r = relation[i] else { continue }
            var b = a
            b.relation = r
            out.append(b)
        }
        return out
    }

    /// Every document of every stage (kept and rejected), with the fields lineage needs.
    private func scan() throws(RunError) -> [Appearance] {
        var out: [Appearance] = []
        for (position, stage) in stages.enumerated() {
            let dir = outputDirectory + "/" + stage
            for (root, isKept) in [(dir, true), (dir + "/_rejected", false)] {
                for file in Self.shards(in: root) {
                    let reader = try ShardReader.opened(root + "/" + file)
                    while let item = try reader.nextItem() {
                        guard case .document(let doc) = item else { continue }
                        var status = "kept"
                        if !isKept, let r = doc.rejection { status = "dropped by \(r.rule)" }
                        out.append(
                            Appearance(
                                id: doc.id, stage: stage, shard: file, status: status, parents: doc.parentIDs,
                                createdBy: doc.value(atPath: "darwin.created")?.stringValue, relation: .document,
                                position: position, joinsInto: doc.value(atPath: "darwin.chunk.of")?.stringValue))
                    }
                }
            }
        }
        return out
    }

    private static func shards(in root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            $0.hasSuffix(".jsonl.zst") && !$0.hasPrefix("_")
        }.sorted()
    }

    /// `ID · STAGE · shard · status (made by STAGE:step)`.
    public static func render(_ a: Appearance) -> String {
        var parts = [a.id, a.stage]
        if !a.shard.isEmpty { parts.append(a.shard) }
        parts.append(a.status)
        var line = parts.joined(separator: " · ")
        if let by = a.createdBy { line += " (made by \(by) from \(a.parents.joined(separator: ", ")))" }
        return line
    }

    /// The appearance as a JSON object.
    public static func json(_ a: Appearance) -> JSONValue {
        var o = JSONObject()
        o["id"] = .string(a.id)
        o["relation"] = .string(a.relation.rawValue)
        o["stage"] = .string(a.stage)
        o["shard"] = .string(a.shard)
        o["status"] = .string(a.status)
        o["parents"] = .array(a.parents.map(JSONValue.string))
        o["created_by"] = a.createdBy.map(JSONValue.string) ?? .null
        return .object(o)
    }
}
