import DarwinCore
import DarwinIO

/// Near-duplicate removal with MinHash LSH, as datatrove's four MinHash stages, in darwin's phases.
///
/// - collect: each shard writes, per band, a 128-bit key of the band's values (and the document's scope)
///   for every document with at least one shingle, plus each document's id and keep value;
/// - buckets (one task per band): keys are sorted; documents sharing a key become candidate pairs;
/// - clusters (one task): pairs are joined into connected components; each component keeps one document
///   (the first in input order, or the highest `keep_field`), the others are marked with the kept id;
/// - apply: every shard drops its marked documents (`near_duplicate`, with `duplicate_of`, `cluster` and
///   `cluster_size`) and writes `metadata.dedup.cluster_size` (1 for documents without duplicates) into the
///   documents it keeps.
struct MinHashDedupFilter: GlobalStep {
    enum Keep: String {
        case first
        case highest
    }

    let hasher: MinHasher
    let scope: String?
    let keep: Keep
    let keepField: String?

    static let descriptor = StepDescriptor(
        id: "minhash_dedup", version: 1, levels: [.l2],
        summary:
            "drop near-duplicates found by MinHash LSH (word 5-grams, 14 bands × 8 rows, threshold ≈ 0.72), keeping one per cluster",
        reference:
            "Broder 1997; datatrove MinhashDedup (FineWeb, Darwin-Science: 14×8); same normalisation, hashes and permutations",
        kind: .global,
        parameters: [
            ParameterSpec("ngram", .integer(min: 1, max: 100), default: 5, "words per shingle"),
            ParameterSpec(
                "bands", .integer(min: 1, max: 1024), default: 14,
                "LSH bands; with rows r, pairs of Jaccard similarity s collide with probability 1 − (1 − s^r)^bands"),
            ParameterSpec("rows", .integer(min: 1, max: 64), default: 8, "hashes per band"),
            ParameterSpec(
                "seed", .integer(min: 0, max: 4_294_967_295), default: 1,
                "permutation seed (1: datatrove's default, the same signatures)"),
            WordSplit.parameter,
            ParameterSpec(
                "scope", .string, default: .null,
                "only documents with the same value of this field are compared (source, metadata.language, …); none: all"
            ),
            ParameterSpec(
                "keep", .choice(["first", "highest"]), default: "first",
                "which document of a cluster stays: the first in input order, or the highest keep_field"),
            ParameterSpec(
                "keep_field", .string, default: .null, "numeric field for keep: highest (metadata.quality.hq)"),
        ],
        histograms: [
            HistogramSpec(
                name: "cluster_size", lower: 2, upper: 10_000, bins: 16, scale: .log,
                summary: "documents per cluster of near-duplicates")
        ],
        notes: { p in
            let bands = p.int("bands"), rows = p.int("rows")
            let h = MinHasher(ngram: p.int("ngram"), bands: bands, rows: rows, seed: 1, words: .en)
            let curve = [0.5, 0.6, 0.7, 0.8, 0.9].map { String(format: "%.1f → %.3f", $0, h.candidateProbability($0)) }
            return [
                String(
                    format: "%d bands × %d rows (%d hashes): effective Jaccard threshold (1/b)^(1/r) = %.3f", bands,
                    rows,
                    bands * rows, h.threshold),
                "probability that a pair becomes a candidate, by Jaccard similarity: " + curve.joined(separator: ", "),
            ]
        },
        make: { p in .global(try MinHashDedupFilter(p)) })

    init(_ p: Parameters) throws {
        hasher = MinHasher(
            ngram: p.int("ngram"), bands: p.int("bands"), rows: p.int("rows"), seed: UInt32(p.int("seed")),
            words: WordSplit(rawValue: p.string("words")) ?? .auto)
        scope = p.optionalString("scope")
        keep = Keep(rawValue: p.string("keep")) ?? .first
        keepField = p.optionalString("keep_field")
        if keep == .highest && keepField == nil {
            throw ParameterError("keep_field", "keep: highest needs keep_field (the numeric field to compare)")
        }
    }

    var reducePhases: [ReducePhase] {
        [ReducePhase(name: "buckets", partitions: hasher.bands), ReducePhase(name: "clusters", partitions: 1)]
    }

    static let collectMagic: UInt32 = 0x3143_484D  // "MHC1"
    static let edgesMagic: UInt32 = 0x3145_484D  // "MHE1"
    static let decisionMagic: UInt32 = 0x3144_484D  // "MHD1"
    static func collectName(_ shard: Int) -> String { "signatures-" + String(format: "%06d", shard) + ".bin" }
    static func edgesName(_ band: Int) -> String { "pairs-" + String(format: "%04d", band) + ".bin" }
    static let decisionName = "clusters.bin"

    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector {
        Collector(step: self, shard: shard, workspace: workspace)
    }

    /// Per band: (key high, key low, document index); then the documents: id and keep value.
    struct Collector: GlobalCollector {
        let step: MinHashDedupFilter
        let shard: ShardInfo
        let workspace: GlobalWorkspace
        /// Per band: key high, key low, document index, for every document with shingles.
        var bands: [[UInt64]]
        var documents = ByteWriter()

        init(step: MinHashDedupFilter, shard: ShardInfo, workspace: GlobalWorkspace) {
            self.step = step
            self.shard = shard
            self.workspace = workspace
            bands = Array(repeating: [], count: step.hasher.bands)
        }

        mutating func collect(_ document: Document, context: inout StepContext) throws {
            var keepValue = Double.nan
            if let f = step.keepField, let v = document.value(atPath: f)?.doubleValue { keepValue = v }
            var scopeValue = ""
            if let s = step.scope, let v = document.value(atPath: s) {
                scopeValue = v.stringValue ?? JSONWriter.string(v)
            }
            documents.append(document.id)
            documents.append(keepValue.bitPattern)
            documents.append(scopeValue)
            let language = document.value(atPath: "metadata.language")?.stringValue
            let shingles = step.hasher.shingles(document.text, language: language)
            guard !shingles.isEmpty else {
                context.count("too_few_words")
                return
            }
            let scope = step.scope == nil ? 0 : Hashing.xxh64(scopeValue, seed: 0x5C09E)
            let keys = step.hasher.bandKeys(step.hasher.signature(shingles), scope: scope)
            for (b, k) in keys.enumerated() {
                bands[b].append(contentsOf: [k.0, k.1, UInt64(context.documentIndex)])
            }
            context.count("signatures")
        }

        mutating func finish(context: inout StepContext) throws {
            var sections = bands.map { keys -> ByteWriter in
                var w = ByteWriter(capacity: keys.count * 8)
                w.append(contentsOf: keys)
                return w
            }
            sections.append(documents)
            try SectionedFile.write(
                sections, magic: MinHashDedupFilter.collectMagic,
                to: workspace.output(MinHashDedupFilter.collectName(shard.index)))
        }
    }

    func reduce(phase: Int, partition: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext)
        throws
    {
        if phase == 0 {
            try pairs(band: partition, shards: shards, workspace: workspace, context: &context)
        } else {
            try clusters(shards: shards, workspace: workspace, context: &context)
        }
    }

    /// One band: sort the keys; every document of a bucket pairs with the bucket's first document.
    func pairs(band: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext) throws {
        struct Entry {
            var high: UInt64
            var low: UInt64
            var shard: UInt32
            var document: UInt64
        }
        var entries: [Entry] = []
        for shard in shards {
            var r = try SectionedFile.section(
                band, of: workspace.path(of: Self.collectName(shard.index)), magic: Self.collectMagic,
                count: hasher.bands + 1, what: "signature file")
            while !r.isAtEnd {
                entries.append(
                    Entry(
                        high: try r.uint64(), low: try r.uint64(), shard: UInt32(shard.index), document: try r.uint64())
                )
            }
        }
        entries.sort { ($0.high, $0.low, $0.shard, $0.document) < ($1.high, $1.low, $1.shard, $1.document) }
        var w = ByteWriter()
        var i = 0, pairs = 0
        while i < entries.count {
            var j = i + 1
            while j < entries.count && entries[j].high == entries[i].high && entries[j].low == entries[i].low {
                w.append(UInt64(entries[i].shard) << 40 | entries[i].document)
                w.append(UInt64(entries[j].shard) << 40 | entries[j].document)
                pairs += 1
                j += 1
            }
            i = j
        }
        context.count("candidate_pairs", by: pairs)
        try SectionedFile.write([w], magic: Self.edgesMagic, to: workspace.output(Self.edgesName(band)))
    }

    /// All bands' pairs joined into components; one decision list per shard.
    func clusters(shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext) throws {
        // Documents of every shard, numbered globally in input order.
        var base: [Int] = []
        var ids: [String] = []
        var keepValues: [Double] = []
        var scopes: [String] = []
        for shard in shards {
            base.append(ids.count)
            var r = try SectionedFile.section(
                hasher.bands, of: workspace.path(of: Self.collectName(shard.index)), magic: Self.collectMagic,
                count: hasher.bands + 1, what: "signature file")
            while !r.isAtEnd {
                ids.append(try r.string())
                keepValues.append(Double(bitPattern: try r.uint64()))
                scopes.append(try r.string())
            }
        }
        base.append(ids.count)
        func global(_ packed: UInt64) -> Int { base[Int(packed >> 40)] + Int(packed & 0xFF_FFFF_FFFF) }

        var parent = Array(0..<ids.count)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        for band in 0..<hasher.bands {
            var r = try SectionedFile.section(
                0, of: workspace.path(of: Self.edgesName(band)), magic: Self.edgesMagic, what: "pair file")
            while !r.isAtEnd {
                let a = find(global(try r.uint64())), b = find(global(try r.uint64()))
                // The smaller index becomes the root: roots are the first members in input order.
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var members: [Int: [Int]] = [:]  // root → the other members, in input order
        for x in 0..<ids.count {
            let r = find(x)
            if r != x { members[r, default: []].append(x) }
        }
        // Decisions per shard: (document, kept id, cluster, size) for dropped ones; (document, size) for kept.
        var drops = [ByteWriter](repeating: ByteWriter(), count: shards.count)
        var kept = [ByteWriter](repeating: ByteWriter(), count: shards.count)
        func shardOf(_ g: Int) -> Int {
            var lo = 0, hi = shards.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if base[mid] <= g { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }
        var clusters = 0, removed = 0
        var largest: [(size: Int, id: String)] = []
        for (root, list) in members.sorted(by: { $0.key < $1.key }) {
            let all = [root] + list
            var keeper = root
            if keep == .highest {
                for m in all
                where keepValues[m] > keepValues[keeper] || (keepValues[keeper].isNaN && !keepValues[m].isNaN) {
                    keeper = m
                }
            }
            clusters += 1
            context.observe("cluster_size", Double(all.count))
            largest.append((all.count, ids[root]))
            if largest.count > 20 {
                largest.sort { ($0.size, $1.id) > ($1.size, $0.id) }
                largest.removeLast(largest.count - 5)
            }
            let cluster = ids[root]
            for m in all {
                let s = shardOf(m)
                if m == keeper {
                    kept[s].append(UInt64(m - base[s]))
                    kept[s].append(UInt64(all.count))
                    kept[s].append(cluster)
                } else {
                    drops[s].append(UInt64(m - base[s]))
                    drops[s].append(ids[keeper])
                    drops[s].append(cluster)
                    drops[s].append(UInt64(all.count))
                    removed += 1
                    if scope != nil { context.count("removed_in." + scopes[m]) }
                }
            }
        }
        context.count("clusters", by: clusters)
        context.count("documents_removed", by: removed)
        // The largest clusters by the id of their first document (darwin inspect --cluster ID lists them).
        largest.sort { ($0.size, $1.id) > ($1.size, $0.id) }
        for c in largest.prefix(5) { context.count("largest_cluster." + c.id, by: c.size) }
        if scope != nil {
            for value in scopes { context.count("documents_in." + value) }
        }
        var sections: [ByteWriter] = []
        for s in 0..<shards.count { sections += [drops[s], kept[s]] }
        try SectionedFile.write(sections, magic: Self.decisionMagic, to: workspace.output(Self.decisionName))
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        let path = workspace.path(of: Self.decisionName)
        var d = try SectionedFile.section(2 * shard.index, of: path, magic: Self.decisionMagic, what: "cluster file")
        var drops: [UInt64: (String, String, Int)] = [:]
        while !d.isAtEnd {
            let doc = try d.uint64()
            drops[doc] = (try d.string(), try d.string(), Int(try d.uint64()))
        }
        var k = try SectionedFile.section(
            2 * shard.index + 1, of: path, magic: Self.decisionMagic, what: "cluster file")
        var kept: [UInt64: (Int, String)] = [:]
        while !k.isAtEnd {
            let doc = try k.uint64()
            kept[doc] = (Int(try k.uint64()), try k.string())
        }
        return Applier(drops: drops, kept: kept)
    }

    struct Applier: StreamingStep {
        let drops: [UInt64: (String, String, Int)]
        let kept: [UInt64: (Int, String)]

        func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            let i = UInt64(context.documentIndex)
            if let (keptId, cluster, size) = drops[i] {
                return .drop(
                    rule: "near_duplicate",
                    detail: [
                        "duplicate_of": .string(keptId), "cluster": .string(cluster),
                        "cluster_size": .number(JSONNumber(size)),
                    ])
            }
            if let (size, cluster) = kept[i] {
                document.setValue(.number(JSONNumber(size)), atPath: "metadata.dedup.cluster_size")
                document.setValue(.string(cluster), atPath: "metadata.dedup.cluster")
            } else {
                document.setValue(.number(JSONNumber(1)), atPath: "metadata.dedup.cluster_size")
            }
            return .keep
        }
    }
}
