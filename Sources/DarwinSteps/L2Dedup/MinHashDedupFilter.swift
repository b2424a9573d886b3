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
            // Only `words: auto` looks at the language.
            let language = step.hasher.words == .auto ? document.value(atPath: "metadata.language")?.stringValue : nil
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
            // Each band sorted by key, then document: the buckets phase merges these runs from disk.
            var sections = bands.map { flat -> ByteWriter in
                var triples = [(UInt64, UInt64, UInt64)]()
                triples.reserveCapacity(flat.count / 3)
                var i = 0
                while i + 2 < flat.count {
                    triples.append((flat[i], flat[i + 1], flat[i + 2]))
                    i += 3
                }
                triples.sort { $0 < $1 }
                var w = ByteWriter(capacity: flat.count * 8)
                for t in triples {
                    w.append(t.0)
                    w.append(t.1)
                    w.append(t.2)
                }
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

    /// A document as (shard, position) in one number; ordering by it is input order.
    @inline(__always) static func pack(_ shard: Int, _ document: UInt64) -> UInt64 { UInt64(shard) << 40 | document }

    /// One band: the shards' sorted runs merged from disk (memory: a read buffer per shard); every document of
    /// a bucket pairs with the bucket's first document (in input order).
    func pairs(band: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext) throws {
        var streams: [SectionStream] = []
        for shard in shards {
            streams.append(
                try SectionStream(
                    band, of: workspace.path(of: Self.collectName(shard.index)), magic: Self.collectMagic,
                    count: hasher.bands + 1, what: "signature file", chunk: 1 << 16))
        }
        struct Head: Comparable {
            var high: UInt64
            var low: UInt64
            var doc: UInt64  // packed
            static func < (a: Head, b: Head) -> Bool { (a.high, a.low, a.doc) < (b.high, b.low, b.doc) }
        }
        // A binary min-heap of the next entry of every shard.
        var heap: [(Head, Int)] = []
        func push(_ e: (Head, Int)) {
            heap.append(e)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if heap[i].0 < heap[parent].0 {
                    heap.swapAt(i, parent)
                    i = parent
                } else {
                    break
                }
            }
        }
        func pop() -> (Head, Int) {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < heap.count && heap[l].0 < heap[m].0 { m = l }
                    if r < heap.count && heap[r].0 < heap[m].0 { m = r }
                    if m == i { break }
                    heap.swapAt(i, m)
                    i = m
                }
            }
            return top
        }
        func next(_ k: Int) throws {
            let s = streams[k]
            if s.isAtEnd { return }
            push((Head(high: try s.uint64(), low: try s.uint64(), doc: Self.pack(shards[k].index, try s.uint64())), k))
        }
        for k in streams.indices { try next(k) }
        let out = try SectionedFileWriter(
            path: workspace.output(Self.edgesName(band)), magic: Self.edgesMagic, sections: 1)
        var pairs = 0
        var first: Head? = nil
        while !heap.isEmpty {
            let (h, k) = pop()
            try next(k)
            if let f = first, f.high == h.high, f.low == h.low {
                try out.append(f.doc)
                try out.append(h.doc)
                pairs += 1
            } else {
                first = h
            }
        }
        try out.endSection()
        try out.finish()
        context.count("candidate_pairs", by: pairs)
    }

    /// All bands' pairs joined into components over the documents that have a pair (memory grows with the
    /// duplicates, not the corpus); one decision list per shard.
    func clusters(shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext) throws {
        var parent: [UInt64: UInt64] = [:]
        func find(_ x: UInt64) -> UInt64 {
            var x = x
            while let p = parent[x], p != x {
                if let g = parent[p] { parent[x] = g }
                x = p
            }
            return x
        }
        for band in 0..<hasher.bands {
            let r = try SectionStream(
                0, of: workspace.path(of: Self.edgesName(band)), magic: Self.edgesMagic, what: "pair file")
            while !r.isAtEnd {
                let a = try r.uint64(), b = try r.uint64()
                if parent[a] == nil { parent[a] = a }
                if parent[b] == nil { parent[b] = b }
                let ra = find(a), rb = find(b)
                // The smaller reference becomes the root: roots are the first members in input order.
                if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
            }
        }
        // Ids, keep values and scopes of the documents in clusters only; every document's scope is counted.
        var ids: [UInt64: String] = [:]
        var keepValues: [UInt64: Double] = [:]
        var scopeOf: [UInt64: String] = [:]
        var scopeCounts: [String: Int] = [:]
        for shard in shards {
            let r = try SectionStream(
                hasher.bands, of: workspace.path(of: Self.collectName(shard.index)), magic: Self.collectMagic,
                count: hasher.bands + 1, what: "signature file")
            var doc: UInt64 = 0
            while !r.isAtEnd {
                let id = try r.string(), value = Double(bitPattern: try r.uint64()), scopeValue = try r.string()
                if scope != nil { scopeCounts[scopeValue, default: 0] += 1 }
                let key = Self.pack(shard.index, doc)
                if parent[key] != nil {
                    ids[key] = id
                    keepValues[key] = value
                    scopeOf[key] = scopeValue
                }
                doc += 1
            }
        }
        var members: [UInt64: [UInt64]] = [:]  // root → all members, in input order
        for x in parent.keys.sorted() { members[find(x), default: []].append(x) }
        var drops = [ByteWriter](repeating: ByteWriter(), count: shards.count)
        var kept = [ByteWriter](repeating: ByteWriter(), count: shards.count)
        var clusters = 0, removed = 0
        var largest: [(size: Int, id: String)] = []
        for (root, all) in members.sorted(by: { $0.key < $1.key }) {
            var keeper = root
            if keep == .highest {
                for m in all {
                    let v = keepValues[m] ?? .nan, best = keepValues[keeper] ?? .nan
                    if v > best || (best.isNaN && !v.isNaN) { keeper = m }
                }
            }
            clusters += 1
            context.observe("cluster_size", Double(all.count))
            let cluster = ids[root] ?? ""
            largest.append((all.count, cluster))
            for m in all {
                let s = Int(m >> 40)  // shard indices are positions in `shards`
                let doc = m & 0xFF_FFFF_FFFF
                if m == keeper {
                    kept[s].append(doc)
                    kept[s].append(UInt64(all.count))
                    kept[s].append(cluster)
                } else {
                    drops[s].append(doc)
                    drops[s].append(ids[keeper] ?? "")
                    drops[s].append(cluster)
                    drops[s].append(UInt64(all.count))
                    removed += 1
                    if scope != nil { context.count("removed_in." + (scopeOf[m] ?? "")) }
                }
            }
        }
        context.count("clusters", by: clusters)
        context.count("documents_removed", by: removed)
        // The largest clusters by the id of their first document (darwin inspect --cluster ID lists them).
        largest.sort { ($0.size, $1.id) > ($1.size, $0.id) }
        for c in largest.prefix(5) { context.count("largest_cluster." + c.id, by: c.size) }
        for (value, n) in scopeCounts { context.count("documents_in." + value, by: n) }
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
