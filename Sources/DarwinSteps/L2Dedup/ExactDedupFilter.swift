import DarwinCore
import DarwinIO

/// Drops documents whose normalised content equals an earlier document's, keeping the first of each
/// group (in shard order, then position) and recording in every dropped document the id it duplicates.
///
/// A global step in three phases: each shard writes the 128-bit hash (XXH3) of every document's
/// normalised field into hash partitions; each partition is grouped by hash; each shard then drops the
/// documents its partitions marked. Memory per task is one shard's keys (collect) or one partition's
/// keys (group), never the whole corpus.
struct ExactDedupFilter: GlobalStep {
    enum Normalization: String {
        /// The field's exact UTF-8.
        case none
        /// Runs of whitespace become one space; leading and trailing whitespace is dropped.
        case whitespace
        /// As `whitespace`, and lower-cased (Unicode case mapping).
        case lowercase
    }

    let field: String
    let normalization: Normalization
    let partitions: Int

    static let descriptor = StepDescriptor(
        id: "exact_dedup", version: 1, levels: [.l2],
        summary: "drop exact duplicates of a normalised field (text by default), keeping the first of each group",
        reference: "exact-match document dedup (datatrove ExactDedup, Dolma dedupe on a key), XXH3-128 hashes",
        kind: .global,
        parameters: [
            ParameterSpec(
                "field", .string, default: "text", "dotted path of the field compared (text, url, metadata.x)"),
            ParameterSpec(
                "normalize", .choice(["none", "whitespace", "lowercase"]), default: "whitespace",
                "none: exact bytes; whitespace: whitespace runs collapsed and trimmed; lowercase: also lower-cased"),
            ParameterSpec(
                "partitions", .integer(min: 1, max: 4096), default: 16,
                "hash partitions grouped in parallel (more partitions, less memory per task)"),
        ],
        make: { p in
            .global(
                ExactDedupFilter(
                    field: p.string("field"),
                    normalization: Normalization(rawValue: p.string("normalize")) ?? .whitespace,
                    partitions: p.int("partitions")))
        })

    var reducePhases: [ReducePhase] { [ReducePhase(name: "group", partitions: partitions)] }

    // MARK: - Keys

    /// The 128-bit key of a document, or `nil` when it lacks the field.
    func key(of document: Document) -> (UInt64, UInt64)? {
        var raw: String
        if field == "text" {
            raw = document.text
        } else {
            guard let v = document.value(atPath: field) else { return nil }
            raw = v.stringValue ?? JSONWriter.string(v)
        }
        if normalization == .lowercase, !TextBytes.isASCII(raw) { raw = raw.lowercased() }
        let h: (high: UInt64, low: UInt64)
        switch normalization {
        case .none: h = Hashing.xxh128(raw)
        case .whitespace, .lowercase:
            h = TextBytes.withCollapsedWhitespace(raw, lowercaseASCII: normalization == .lowercase) {
                Hashing.xxh128(UnsafeRawBufferPointer($0))
            }
        }
        return (h.high, h.low)
    }

    // MARK: - Phases

    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector {
        Collector(step: self, shard: shard, workspace: workspace)
    }

    func reduce(phase: Int, partition: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext)
        throws
    {
        struct Entry {
            var high: UInt64
            var low: UInt64
            var shard: Int
            var document: UInt64
            var id: String
        }
        var entries: [Entry] = []
        for shard in shards {
            let path = workspace.path(of: Self.collectName(shard.index))
            let header = try BinaryFile.read(path, offset: 0, count: 8 + 8 * (partitions + 1))
            var h = ByteReader(header, path: path)
            guard try h.uint32() == Self.collectMagic, Int(try h.uint32()) == partitions else {
                throw StepError(.shard, "\(path): not a collect file of this step (partitions changed?)")
            }
            var offsets: [Int] = []
            for _ in 0...partitions { offsets.append(Int(try h.uint64())) }
            let range = try BinaryFile.read(
                path, offset: offsets[partition], count: offsets[partition + 1] - offsets[partition])
            var r = ByteReader(range, path: path)
            while !r.isAtEnd {
                entries.append(
                    Entry(
                        high: try r.uint64(), low: try r.uint64(), shard: shard.index, document: try r.uint64(),
                        id: try r.string()))
            }
        }
        entries.sort { ($0.high, $0.low, $0.shard, $0.document) < ($1.high, $1.low, $1.shard, $1.document) }

        // Dropped documents per shard: (position, id of the kept document).
        var drops = [[(UInt64, String)]](repeating: [], count: shards.count)
        var i = 0
        var groups = 0
        while i < entries.count {
            var j = i + 1
            while j < entries.count && entries[j].high == entries[i].high && entries[j].low == entries[i].low { j += 1 }
            if j - i > 1 {
                groups += 1
                for k in (i + 1)..<j { drops[entries[k].shard].append((entries[k].document, entries[i].id)) }
            }
            i = j
        }
        context.count("keys", by: entries.count)
        context.count("duplicate_groups", by: groups)

        var w = ByteWriter()
        w.append(Self.decisionMagic)
        w.append(UInt32(shards.count))
        let offsetsAt = w.bytes.count
        for _ in 0...shards.count { w.append(UInt64(0)) }
        for (s, list) in drops.enumerated() {
            w.set(UInt64(w.bytes.count), at: offsetsAt + 8 * s)
            for (doc, kept) in list.sorted(by: { $0.0 < $1.0 }) {
                w.append(doc)
                w.append(kept)
            }
        }
        w.set(UInt64(w.bytes.count), at: offsetsAt + 8 * shards.count)
        try BinaryFile.write(w.bytes, to: workspace.output(Self.decisionName(partition)))
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        var duplicates: [UInt64: String] = [:]
        for p in 0..<partitions {
            let path = workspace.path(of: Self.decisionName(p))
            let header = try BinaryFile.read(path, offset: 0, count: 8)
            var h = ByteReader(header, path: path)
            guard try h.uint32() == Self.decisionMagic else { throw StepError(.shard, "\(path): not a decision file") }
            let shardCount = Int(try h.uint32())
            guard shard.index < shardCount else {
                throw StepError(.shard, "\(path): has no entry for shard \(shard.index)")
            }
            var o = ByteReader(try BinaryFile.read(path, offset: 8 + 8 * shard.index, count: 16), path: path)
            let start = Int(try o.uint64()), end = Int(try o.uint64())
            var r = ByteReader(try BinaryFile.read(path, offset: start, count: end - start), path: path)
            while !r.isAtEnd { duplicates[try r.uint64()] = try r.string() }
        }
        return Applier(duplicates: duplicates)
    }

    static let collectMagic: UInt32 = 0x3143_5844  // "DXC1"
    static let decisionMagic: UInt32 = 0x3144_5844  // "DXD1"
    static func collectName(_ shard: Int) -> String { "collect-" + String(format: "%06d", shard) + ".bin" }
    static func decisionName(_ partition: Int) -> String { "decisions-" + String(format: "%04d", partition) + ".bin" }

    /// Writes one shard's keys into partitions.
    struct Collector: GlobalCollector {
        let step: ExactDedupFilter
        let shard: ShardInfo
        let workspace: GlobalWorkspace
        var buckets: [ByteWriter]

        init(step: ExactDedupFilter, shard: ShardInfo, workspace: GlobalWorkspace) {
            self.step = step
            self.shard = shard
            self.workspace = workspace
            self.buckets = Array(repeating: ByteWriter(), count: step.partitions)
        }

        mutating func collect(_ document: Document, context: inout StepContext) throws {
            guard let (high, low) = step.key(of: document) else {
                context.count("missing_field")
                return
            }
            let p = Int(high % UInt64(step.partitions))
            buckets[p].append(high)
            buckets[p].append(low)
            buckets[p].append(UInt64(context.documentIndex))
            buckets[p].append(document.id)
        }

        mutating func finish(context: inout StepContext) throws {
            var w = ByteWriter()
            w.append(ExactDedupFilter.collectMagic)
            w.append(UInt32(step.partitions))
            var offset = 8 + 8 * (step.partitions + 1)
            for b in buckets {
                w.append(UInt64(offset))
                offset += b.bytes.count
            }
            w.append(UInt64(offset))
            var bytes = w.bytes
            for b in buckets { bytes += b.bytes }
            try BinaryFile.write(bytes, to: workspace.output(ExactDedupFilter.collectName(shard.index)))
        }
    }

    /// Drops the documents the group phase marked.
    struct Applier: StreamingStep {
        let duplicates: [UInt64: String]

        func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            guard let kept = duplicates[UInt64(context.documentIndex)] else { return .keep }
            return .drop(rule: "duplicate", detail: ["duplicate_of": .string(kept)])
        }
    }
}
