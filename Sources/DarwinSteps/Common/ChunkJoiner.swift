import DarwinCore
import DarwinIO

/// Puts the chunks `chunk` made back together: one document per parent, with the parent's id, the chunks'
/// texts end to end in `index` order, the first chunk's other fields (as later steps left them), and the
/// parent's `darwin` fields restored.
///
/// A global step, because a document's chunks may lie in two shards (when a stage cuts its output by size)
/// or be separated. Collect: each shard notes which documents' chunks it holds complete and in a row; the
/// others (split across shards, out of order or with chunks missing) are written to the workspace. Join:
/// those are put together in one partition. Apply: a complete run of chunks becomes its document at its last
/// chunk; a scattered document at its last chunk in input order. Chunks are consumed, joined documents
/// created (`darwin stats` counts both); documents that are not chunks pass untouched. A document some of
/// whose chunks were dropped is joined from those left and counted as `incomplete`.
///
/// Chunks that went through `refine` or `complete` carry that step's record and document rules
/// (`darwin.<step>.rules`): the joined document gets one record for all its chunks and is rejected as the step
/// would have rejected it whole — `chunks_refused` when fewer than `min_success` of its chunks passed the
/// guards, `too_little_left` when an edit left too few of its words.
struct ChunkJoiner: GlobalStep {
    static let descriptor = StepDescriptor(
        id: "join_chunks", version: 1, levels: Array(Level.allCases.dropFirst()),
        summary: "join the chunks made by chunk back into their documents (the parent's id and fields, texts in order)",
        reference: "the counterpart of chunk",
        kind: .global,
        parameters: [],
        // Run together, in this order, as one shard: a complete run of chunks, a document that is not a chunk,
        // and the second half of a document whose first half was dropped.
        examples: [
            StepExample(
                #"{"id":"p#L4:chunk:0","text":"The first half, ","darwin":{"chunk":{"of":"p","index":0,"count":2}}}"#,
                expect: .replace(count: 0)),
            StepExample(
                #"{"id":"p#L4:chunk:1","text":"and the second.","darwin":{"chunk":{"of":"p","index":1,"count":2}}}"#,
                expect: .replace(count: 1)),
            StepExample(#"{"id":"q","text":"Not a chunk."}"#, expect: .keep),
            StepExample(
                #"{"id":"r#L4:chunk:1","text":"Only the end is left.","darwin":{"chunk":{"of":"r","index":1,"count":2}}}"#,
                expect: .replace(count: 1)),
        ],
        make: { _ in .global(ChunkJoiner()) })

    var reducePhases: [ReducePhase] { [ReducePhase(name: "join", partitions: 1)] }

    static let fragmentMagic: UInt32 = 0x3146_4A43  // "CJF1"
    static let decisionMagic: UInt32 = 0x3144_4A43  // "CJD1"
    static func fragmentName(_ shard: Int) -> String { "fragments-" + String(format: "%06d", shard) + ".bin" }
    static let decisionName = "decisions.bin"

    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector {
        Collector(shard: shard, workspace: workspace)
    }

    func reduce(
        phase: Int, partition: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext
    ) throws {
        // Every scattered chunk, by parent, in input order.
        var groups: [String: [Fragment]] = [:]
        var order: [String] = []
        try PhaseFiles.forEachSection(
            0, of: shards.map { workspace.path(of: Self.fragmentName($0.index)) }, magic: Self.fragmentMagic,
            what: "chunk fragments"
        ) { k, r in
            while !r.isAtEnd {
                let f = Fragment(
                    shard: shards[k].index, position: Int(try r.uint64()), index: Int(try r.uint64()),
                    count: Int(try r.uint64()), line: try r.string())
                let of = try r.string()
                if groups[of] == nil { order.append(of) }
                groups[of, default: []].append(f)
            }
        }
        // Per shard: positions to consume, and the joined document at each group's last chunk.
        var decisions = Array(repeating: [(position: Int, line: String?)](), count: shards.count)
        for of in order {
            guard let members = groups[of], let last = members.last else { continue }
            let chunks = try members.sorted { $0.index < $1.index }.map { try Document.parse($0.line) }
            if members.count != members[0].count { context.count("incomplete") }
            context.count("joined_across_shards")
            let joined = Self.join(chunks, of: of)
            for m in members.dropLast() { decisions[m.shard].append((m.position, nil)) }
            decisions[last.shard].append((last.position, joined.jsonString))
        }
        var sections: [ByteWriter] = []
        for list in decisions {
            var w = ByteWriter()
            for d in list.sorted(by: { $0.position < $1.position }) {
                w.append(UInt64(d.position))
                w.append(d.line ?? "")
            }
            sections.append(w)
        }
        try SectionedFile.write(sections, magic: Self.decisionMagic, to: workspace.output(Self.decisionName))
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        var scattered: [Int: String] = [:]
        try PhaseFiles.forEachSection(
            shard.index, of: [workspace.path(of: Self.decisionName)], magic: Self.decisionMagic,
            what: "chunk decisions"
        ) { _, r in
            while !r.isAtEnd { scattered[Int(try r.uint64())] = try r.string() }
        }
        return Applier(scattered: scattered)
    }

    /// The document the chunks came from: the first chunk's fields, the parent's id, the texts in order, and
    /// `darwin` without the chunk's own lineage but with what the parent had.
    static func join(_ chunks: [Document], of id: String) -> Document {
        var doc = chunks[0]
        doc["id"] = .string(id)
        doc.text = chunks.map(\.text).joined()
        var darwin = doc["darwin"]?.objectValue ?? JSONObject()
        let restore = darwin["chunk"]?.objectValue?["restore"]?.objectValue ?? JSONObject()
        for key in ["chunk", "parent", "created"] { darwin[key] = nil }
        for (key, value) in restore { darwin[key] = value }
        for (key, record) in mergedRecords(chunks) { darwin[key] = .object(record) }
        doc["darwin"] = .object(darwin)
        return doc
    }

    /// The records that chunk-rewriting steps (`refine`, `complete`) left on each chunk (`darwin.<step>` with
    /// `rules`), merged into one per step: chunks and words added up, refused chunks numbered across the
    /// document, the most attempts.
    static func mergedRecords(_ chunks: [Document]) -> [(key: String, value: JSONObject)] {
        var merged: [(key: String, value: JSONObject)] = []
        guard let first = chunks.first?["darwin"]?.objectValue else { return [] }
        for (key, value) in first where value.objectValue?["rules"] != nil {
            var total = 0
            var attempts = 1
            var before = 0
            var after = 0
            var refused: [JSONValue] = []
            var rules = JSONObject()
            for chunk in chunks {
                guard let r = chunk.value(atPath: "darwin." + key)?.objectValue else { continue }
                let offset = total
                total += r["chunks"]?.intValue ?? 1
                attempts = max(attempts, r["attempts"]?.intValue ?? 1)
                before += r["words_before"]?.intValue ?? 0
                after += r["words_after"]?.intValue ?? 0
                if rules.isEmpty { rules = r["rules"]?.objectValue ?? JSONObject() }
                for case .object(var o) in r["kept_original"]?.arrayValue ?? [] {
                    o["chunk"] = .number(JSONNumber(offset + (o["chunk"]?.intValue ?? 0)))
                    refused.append(.object(o))
                }
            }
            var record = JSONObject([(key: "chunks", value: .number(JSONNumber(total)))])
            if attempts > 1 { record["attempts"] = .number(JSONNumber(attempts)) }
            if !refused.isEmpty { record["kept_original"] = .array(refused) }
            record["words_before"] = .number(JSONNumber(before))
            record["words_after"] = .number(JSONNumber(after))
            record["rules"] = .object(rules)
            merged.append((key, record))
        }
        return merged
    }

    /// A joined document that the rules its chunks carry reject (too many chunks refused by a model step's
    /// guards, too little left after an edit): the rule and why.
    static func rejection(_ joined: Document) -> (rule: String, detail: String)? {
        guard let darwin = joined["darwin"]?.objectValue else { return nil }
        for (key, value) in darwin {
            guard let r = value.objectValue, let rules = r["rules"]?.objectValue else { continue }
            let refused = (r["kept_original"]?.arrayValue ?? []).map { $0.objectValue?["guard"]?.stringValue ?? "" }
            if let (rule, detail) = ChunkedRewriting.verdict(
                chunks: r["chunks"]?.intValue ?? 0, refused: refused, attempts: r["attempts"]?.intValue ?? 1,
                minSuccess: rules["min_success"]?.doubleValue ?? 0, wordsBefore: r["words_before"]?.intValue ?? 0,
                wordsAfter: r["words_after"]?.intValue ?? 0, minWordsLeft: rules["min_words_left"]?.intValue,
                minShareLeft: rules["min_share_left"]?.doubleValue ?? 0)
            {
                return (rule, "\(key): \(detail)")
            }
        }
        return nil
    }

    /// The decision for a document put back together: kept, or rejected by its chunks' rules.
    static func decide(_ joined: Document, _ document: inout Document) -> Decision {
        guard let (rule, detail) = rejection(joined) else { return .replace([joined]) }
        document = joined
        return .drop(rule: rule, detail: .string(detail))
    }

    /// `darwin.chunk` of a document: whose chunk it is, its index and the number of chunks.
    static func chunkInfo(_ doc: Document) -> (of: String, index: Int, count: Int)? {
        guard let c = doc.value(atPath: "darwin.chunk")?.objectValue, let of = c["of"]?.stringValue,
            let index = c["index"]?.intValue, let count = c["count"]?.intValue, count > 0
        else { return nil }
        return (of, index, count)
    }

    private struct Fragment {
        let shard: Int
        let position: Int
        let index: Int
        let count: Int
        let line: String
    }

    /// Follows runs of chunks of one document; runs that are not complete go to the fragments file.
    struct Collector: GlobalCollector {
        let shard: ShardInfo
        let workspace: GlobalWorkspace
        var run = ChunkRun()
        var fragments = ByteWriter()

        init(shard: ShardInfo, workspace: GlobalWorkspace) {
            self.shard = shard
            self.workspace = workspace
        }

        mutating func collect(_ document: Document, context: inout StepContext) throws {
            let info = ChunkJoiner.chunkInfo(document)
            // A chunk is kept as it is; it is serialized only if its run turns out not to be complete.
            if let closed = run.next(info, position: context.documentIndex, document: info.map { _ in document }) {
                write(closed, &context)
            }
        }

        mutating func finish(context: inout StepContext) throws {
            if let closed = run.close() { write(closed, &context) }
            try SectionedFile.write(
                [fragments], magic: ChunkJoiner.fragmentMagic,
                to: workspace.output(ChunkJoiner.fragmentName(shard.index)))
        }

        private mutating func write(_ closed: ChunkRun.Closed, _ context: inout StepContext) {
            guard !closed.isComplete else { return }
            context.count("scattered_chunks", by: closed.members.count)
            for m in closed.members {
                fragments.append(UInt64(m.position))
                fragments.append(UInt64(m.index))
                fragments.append(UInt64(closed.count))
                fragments.append(m.document?.jsonString ?? "")
                fragments.append(closed.of)
            }
        }
    }

    /// Joins complete runs as they end and follows the join phase's decisions for the scattered ones.
    struct Applier: StreamingStep {
        let scattered: [Int: String]
        var buffered: [Document] = []

        init(scattered: [Int: String]) { self.scattered = scattered }

        mutating func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            let position = context.documentIndex
            if let line = scattered[position] {
                guard !line.isEmpty else { return .replace([]) }
                do {
                    return ChunkJoiner.decide(try Document.parse(line), &document)
                } catch {
                    throw StepError(.shard, "chunk decisions: a joined document does not parse: \(error)")
                }
            }
            guard let info = ChunkJoiner.chunkInfo(document) else { return .keep }
            // A complete run: its chunks are consumed, the document appears at its last chunk.
            if info.index == 0 { buffered = [] }
            buffered.append(document)
            guard info.index == info.count - 1, buffered.count == info.count else { return .replace([]) }
            context.count("joined")
            let joined = ChunkJoiner.join(buffered, of: info.of)
            buffered = []
            return ChunkJoiner.decide(joined, &document)
        }
    }
}

/// Follows consecutive chunks of one document through a shard in the collect pass: a run is complete when it
/// holds every chunk, 0 to count − 1, one after the other (the applier joins exactly those as they end).
struct ChunkRun {
    struct Member {
        let position: Int
        let index: Int
        /// The chunk itself, when the caller needs it back (the collector writes scattered ones).
        let document: Document?
    }

    struct Closed {
        let of: String
        let count: Int
        let members: [Member]
        var isComplete: Bool {
            members.count == count && members.enumerated().allSatisfy { $0.offset == $0.element.index }
        }
    }

    private var of: String?
    private var count = 0
    private var members: [Member] = []

    /// Adds a document (a chunk, or not); returns the run it closed, if any.
    mutating func next(_ info: (of: String, index: Int, count: Int)?, position: Int, document: Document?) -> Closed? {
        if let info, info.of == of, info.index == (members.last?.index ?? -1) + 1 {
            members.append(Member(position: position, index: info.index, document: document))
            return nil
        }
        let closed = close()
        if let info {
            of = info.of
            count = info.count
            members = [Member(position: position, index: info.index, document: document)]
        }
        return closed
    }

    /// Ends the current run.
    mutating func close() -> Closed? {
        guard let of else { return nil }
        let closed = Closed(of: of, count: count, members: members)
        self.of = nil
        members = []
        return closed
    }
}
