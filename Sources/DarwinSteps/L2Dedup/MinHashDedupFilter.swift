import DarwinCore
import DarwinIO
import HeapModule

/// Near-duplicate removal with MinHash LSH, as datatrove's four MinHash stages, in darwin's phases.
///
/// - collect: each shard writes, per band, a 128-bit key of the band's values (and the document's scope)
///   for every document with at least one shingle, sorted, in runs no larger than its share of `memory`;
///   and each document's id, keep value and scope;
/// - buckets (one task per band): the runs of all shards are merged from disk; documents sharing a key
///   become candidate pairs;
/// - clusters (one task): pairs are joined into connected components with a union-find over the documents
///   that have a pair (4 bytes each, plus a bit per document of the corpus); each component keeps one
///   document (the first in input order, or the highest `keep_field`), the others are marked with the kept
///   id. Beyond `memory` the arrays live in memory-mapped scratch files;
/// - apply: every shard drops its marked documents (`near_duplicate`, with `duplicate_of`, `cluster` and
///   `cluster_size`) and writes `metadata.dedup.cluster_size` (1 for documents without duplicates) into the
///   documents it keeps, reading the decisions as a stream.
struct MinHashDedupFilter: GlobalStep {
    enum Keep: String {
        case first
        case highest
    }

    let hasher: MinHasher
    let scope: String?
    let keep: Keep
    let keepField: String?
    /// Bytes for the step's own data on this machine, shared by the tasks that run at once.
    let memory: Int

    static let descriptor = StepDescriptor(
        id: "minhash_dedup", version: 2, levels: [.l2],
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
            ParameterSpec(
                "memory", .byteSize, default: "1GiB",
                "budget for the step's data on this machine, shared by its concurrent tasks: signature buffers spill sorted runs beyond it, the cluster arrays move to memory-mapped scratch files"
            ),
        ],
        histograms: [
            HistogramSpec(
                name: "cluster_size", lower: 2, upper: 10_000, bins: 16, scale: .log,
                summary: "documents per cluster of near-duplicates")
        ],
        // Examples with the same parameters run together, in this order, as one shard.
        examples: [
            StepExample(ExampleText.document("a", ExampleText.english), expect: .keep),
            StepExample(ExampleText.document("b", ExampleText.french + " " + ExampleText.german), expect: .keep),
            StepExample(
                ExampleText.document(
                    "c", ExampleText.english.replacingOccurrences(of: "rare and expensive", with: "rare and costly")),
                expect: .drop(rule: "near_duplicate")),
            StepExample(
                ExampleText.document("d", "ΟΔΟΣ " + ExampleText.english.uppercased()),
                expect: .drop(rule: "near_duplicate")),
            StepExample(ExampleText.document("e", "Too few words."), expect: .keep),
            StepExample(
                ExampleText.document("f", ExampleText.english, [("metadata", ["quality": 0.2])]),
                parameters: ["keep": "highest", "keep_field": "metadata.quality"], expect: .drop(rule: "near_duplicate")
            ),
            StepExample(
                ExampleText.document("g", ExampleText.english + " Ὀδός.", [("metadata", ["quality": 0.9])]),
                parameters: ["keep": "highest", "keep_field": "metadata.quality"], expect: .keep),
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
        memory = max(1, p.int("memory"))
        if keep == .highest && keepField == nil {
            throw ParameterError("keep_field", "keep: highest needs keep_field (the numeric field to compare)")
        }
    }

    var reducePhases: [ReducePhase] {
        [ReducePhase(name: "buckets", partitions: hasher.bands), ReducePhase(name: "clusters", partitions: 1)]
    }

    static let runMagic: UInt32 = 0x3243_484D  // "MHC2"
    static let documentsMagic: UInt32 = 0x3149_484D  // "MHI1"
    static let edgesMagic: UInt32 = 0x3145_484D  // "MHE1"
    static let decisionMagic: UInt32 = 0x3244_484D  // "MHD2"
    static func shardName(_ shard: Int) -> String { String(format: "%06d", shard) }
    static func runName(_ shard: Int, _ run: Int) -> String {
        "signatures-" + shardName(shard) + "-" + String(format: "%04d", run) + ".bin"
    }
    static func documentsName(_ shard: Int) -> String { "documents-" + shardName(shard) + ".bin" }
    static func edgesName(_ band: Int) -> String { "pairs-" + String(format: "%04d", band) + ".bin" }
    static let decisionName = "clusters.bin"

    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector {
        try Collector(step: self, shard: shard, workspace: workspace)
    }

    /// A band key and the document's position in its shard.
    struct BandEntry: Comparable {
        var high: UInt64
        var low: UInt64
        var doc: UInt64
        static func < (a: BandEntry, b: BandEntry) -> Bool { (a.high, a.low, a.doc) < (b.high, b.low, b.doc) }
    }

    /// The next entry of one sorted run in the merge of a band's runs.
    struct MergeHead: Comparable {
        var entry: BandEntry
        var run: Int
        static func < (a: MergeHead, b: MergeHead) -> Bool { (a.entry, a.run) < (b.entry, b.run) }
        static func == (a: MergeHead, b: MergeHead) -> Bool { a.entry == b.entry && a.run == b.run }
    }

    /// Writes, per shard: sorted runs of band entries (`signatures-SHARD-RUN.bin`, one section per band) each
    /// time the buffered entries reach the task's share of `memory`; and `documents-SHARD.bin`: per document
    /// its id, keep value and scope, then the number of documents and of runs.
    struct Collector: GlobalCollector {
        let step: MinHashDedupFilter
        let shard: ShardInfo
        let workspace: GlobalWorkspace
        var bands: [[BandEntry]]
        let documents: SectionedFileWriter
        var documentCount: UInt64 = 0
        var runs = 0
        /// Entries (over all bands) buffered before a run is written.
        let runEntries: Int

        init(step: MinHashDedupFilter, shard: ShardInfo, workspace: GlobalWorkspace) throws {
            self.step = step
            self.shard = shard
            self.workspace = workspace
            bands = Array(repeating: [], count: step.hasher.bands)
            documents = try SectionedFileWriter(
                path: workspace.output(MinHashDedupFilter.documentsName(shard.index)),
                magic: MinHashDedupFilter.documentsMagic, sections: 2)
            // Sorting needs no second copy; the writer's buffer and the shingles are small beside this.
            let share = step.memory / workspace.concurrency
            runEntries = max(1024, share / MemoryLayout<BandEntry>.stride)
        }

        mutating func collect(_ document: Document, context: inout StepContext) throws {
            var keepValue = Double.nan
            if let f = step.keepField, let v = document.value(atPath: f)?.doubleValue { keepValue = v }
            var scopeValue = ""
            if let s = step.scope, let v = document.value(atPath: s) {
                scopeValue = v.stringValue ?? JSONWriter.string(v)
            }
            try documents.append(document.id)
            try documents.append(keepValue.bitPattern)
            try documents.append(scopeValue)
            documentCount += 1
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
                bands[b].append(BandEntry(high: k.0, low: k.1, doc: UInt64(context.documentIndex)))
            }
            context.count("signatures")
            if bands[0].count * bands.count >= runEntries { try writeRun() }
        }

        /// Each band sorted by key, then document: the buckets phase merges these runs from disk.
        mutating func writeRun() throws {
            guard !bands[0].isEmpty else { return }
            let out = try SectionedFileWriter(
                path: workspace.output(MinHashDedupFilter.runName(shard.index, runs)),
                magic: MinHashDedupFilter.runMagic, sections: bands.count)
            for b in bands.indices {
                bands[b].sort()
                for e in bands[b] {
                    try out.append(e.high)
                    try out.append(e.low)
                    try out.append(e.doc)
                }
                try out.endSection()
                bands[b].removeAll(keepingCapacity: true)
            }
            try out.finish()
            runs += 1
        }

        mutating func finish(context: inout StepContext) throws {
            try writeRun()
            try documents.endSection()
            try documents.append(documentCount)
            try documents.append(UInt64(runs))
            try documents.endSection()
            try documents.finish()
            if runs > 1 { context.count("signature_runs", by: runs) }
        }
    }

    /// A shard's document count and number of signature runs.
    func shardTotals(_ shard: ShardInfo, workspace: GlobalWorkspace) throws -> (documents: Int, runs: Int) {
        let r = try SectionStream(
            1, of: workspace.path(of: Self.documentsName(shard.index)), magic: Self.documentsMagic, count: 2,
            what: "document list", chunk: 64)
        return (Int(try r.uint64()), Int(try r.uint64()))
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

    /// One band: the sorted runs of every shard merged from disk (memory: a read buffer per run, sized to the
    /// task's share of `memory`); every document of a bucket pairs with the bucket's first document (in input
    /// order).
    func pairs(band: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext) throws {
        var sources: [(path: String, shard: Int)] = []
        for shard in shards {
            for run in 0..<(try shardTotals(shard, workspace: workspace).runs) {
                sources.append((workspace.path(of: Self.runName(shard.index, run)), shard.index))
            }
        }
        let chunk = min(1 << 16, max(4096, memory / workspace.concurrency / max(1, sources.count)))
        var streams: [SectionStream] = []
        for s in sources {
            streams.append(
                try SectionStream(
                    band, of: s.path, magic: Self.runMagic, count: hasher.bands, what: "signature file", chunk: chunk))
        }
        // The next entry of every run (documents packed with their shard), smallest first.
        var heap = Heap<MergeHead>()
        heap.reserveCapacity(streams.count)
        func next(_ k: Int) throws {
            let s = streams[k]
            if s.isAtEnd { return }
            let high = try s.uint64(), low = try s.uint64(), doc = try s.uint64()
            heap.insert(
                MergeHead(entry: BandEntry(high: high, low: low, doc: Self.pack(sources[k].shard, doc)), run: k))
        }
        for k in streams.indices { try next(k) }
        let out = try SectionedFileWriter(
            path: workspace.output(Self.edgesName(band)), magic: Self.edgesMagic, sections: 1)
        var pairs = 0
        var first: BandEntry? = nil
        while let head = heap.popMin() {
            let h = head.entry
            try next(head.run)
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

    /// Documents that have a pair, as bits over the corpus (shards one after another), with the number of
    /// members before each 64-bit word: a member's dense number is its rank.
    struct Members {
        let bits: ScratchArray<UInt64>
        let before: ScratchArray<UInt32>
        let shardStart: [Int]  // first bit of each shard
        private(set) var count = 0

        init(documents: [Int], file: (String) -> String?) throws {
            var starts: [Int] = []
            var total = 0
            for n in documents {
                starts.append(total)
                total += n
            }
            shardStart = starts
            let words = (total + 63) / 64
            bits = try ScratchArray(count: words, file: file("members"))
            before = try ScratchArray(count: words, file: file("ranks"))
        }

        @inline(__always) func bit(_ packed: UInt64) -> Int {
            shardStart[Int(packed >> 40)] + Int(packed & 0xFF_FFFF_FFFF)
        }

        @inline(__always) func insert(_ packed: UInt64) {
            let b = bit(packed)
            bits[b >> 6] |= 1 << UInt64(b & 63)
        }

        /// Fixes the ranks after the last insert.
        mutating func rank() throws {
            var n = 0
            for w in 0..<bits.count {
                before[w] = UInt32(truncatingIfNeeded: n)
                n += bits[w].nonzeroBitCount
            }
            guard n < Int(UInt32.max) else {
                throw StepError(.shard, "more than 4 billion near-duplicate documents in one minhash_dedup stage")
            }
            count = n
        }

        @inline(__always) func contains(_ packed: UInt64) -> Bool {
            let b = bit(packed)
            return bits[b >> 6] & (1 << UInt64(b & 63)) != 0
        }

        @inline(__always) func dense(_ packed: UInt64) -> Int {
            let b = bit(packed), w = b >> 6
            return Int(before[w]) + (bits[w] & ((1 << UInt64(b & 63)) &- 1)).nonzeroBitCount
        }

        /// Calls `body(document, member)` for the members of the shard at `position`, in order.
        func forEach(inShard position: Int, documents: Int, _ body: (UInt64, Int) throws -> Void) rethrows {
            let start = shardStart[position], end = start + documents
            var w = start >> 6
            while w << 6 < end {
                var word = bits[w]
                while word != 0 {
                    let t = word.trailingZeroBitCount
                    word &= word &- 1
                    let b = w << 6 + t
                    if b >= start && b < end {
                        let rankInWord = (bits[w] & ((1 << UInt64(t)) &- 1)).nonzeroBitCount
                        try body(UInt64(b - start), Int(before[w]) + rankInWord)
                    }
                }
                w += 1
            }
        }
    }

    /// All bands' pairs joined into components by a union-find over the documents that have a pair; each
    /// component's root is its first member in input order. Ids, keep values and scopes are streamed from the
    /// shards' document lists; the decisions are written per shard in document order.
    func clusters(shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext) throws {
        let totals = try shards.map { try shardTotals($0, workspace: workspace) }
        let edgeFiles = (0..<hasher.bands).map { workspace.path(of: Self.edgesName($0)) }
        func forEachPair(_ body: (UInt64, UInt64) throws -> Void) throws {
            for path in edgeFiles {
                let r = try SectionStream(0, of: path, magic: Self.edgesMagic, what: "pair file")
                while !r.isAtEnd { try body(try r.uint64(), try r.uint64()) }
            }
        }
        // The arrays go to mapped scratch files when they would not fit the budget (the clusters phase runs alone).
        let corpus = totals.reduce(0) { $0 + $1.documents }
        let pairCount = edgeFiles.reduce(0) { $0 + max(0, BinaryFile.size($1) - 24) / 16 }
        let perMember = 16 + (keep == .highest ? 12 : 0) + 48
        let estimate = corpus / 64 * 12 + min(corpus, 2 * pairCount) * perMember
        let mapped = estimate > memory
        func file(_ name: String) -> String? { mapped ? workspace.scratch("scratch-" + name) : nil }
        if mapped { context.count("scratch_files_used") }

        var members = try Members(documents: totals.map(\.documents), file: file)
        try forEachPair { a, b in
            members.insert(a)
            members.insert(b)
        }
        try members.rank()
        let n = members.count
        // parent[x] ≤ x always: the smaller root wins, so roots are first members and one forward sweep
        // resolves every member to its root.
        let parent = try ScratchArray<UInt32>(count: n, file: file("parent"))
        for i in 0..<n { parent[i] = UInt32(i) }
        func find(_ x: Int) -> Int {
            var x = x
            while Int(parent[x]) != x {
                let p = Int(parent[x])
                parent[x] = parent[p]
                x = p
            }
            return x
        }
        try forEachPair { a, b in
            let ra = find(members.dense(a)), rb = find(members.dense(b))
            if ra != rb { parent[max(ra, rb)] = UInt32(min(ra, rb)) }
        }
        let size = try ScratchArray<UInt32>(count: n, file: file("size"))
        for i in 0..<n {
            parent[i] = parent[Int(parent[i])]
            size[Int(parent[i])] += 1
        }

        // Keep highest: the best value of each root's cluster (the first member on ties).
        let keeper = try ScratchArray<UInt32>(count: keep == .highest ? n : 0, file: file("keeper"))
        if keep == .highest {
            let best = try ScratchArray<Double>(count: n, file: file("best"))
            try forEachDocument(shards, members, workspace) { member, _, value, _ in
                guard let member else { return }
                let r = Int(parent[member])
                if r == member {
                    best[r] = value
                    keeper[r] = UInt32(r)
                } else if value > best[r] || (best[r].isNaN && !value.isNaN) {
                    best[r] = value
                    keeper[r] = UInt32(member)
                }
            }
        }
        func keeperOf(_ root: Int) -> Int { keep == .highest ? Int(keeper[root]) : root }

        // Ids of roots (cluster ids) and keepers; per-scope counts.
        let ids = try ScratchStrings(file: file("ids"))
        let idAt = try ScratchArray<UInt64>(count: n, file: file("id-offsets"))
        var scopeCounts: [String: Int] = [:]
        var removedIn: [String: Int] = [:]
        try forEachDocument(shards, members, workspace) { member, id, _, scopeValue in
            if scope != nil { scopeCounts[scopeValue, default: 0] += 1 }
            guard let member else { return }
            let r = Int(parent[member])
            if r == member || keeperOf(r) == member {
                idAt[member] = try ids.append(id)
            } else if scope != nil {
                removedIn[scopeValue, default: 0] += 1
            }
        }
        try ids.seal()

        var clusters = 0, removed = 0
        var largest: [(size: Int, id: String)] = []
        for i in 0..<n where Int(parent[i]) == i {
            clusters += 1
            let s = Int(size[i])
            context.observe("cluster_size", Double(s))
            if largest.count < 5 || s >= largest[largest.count - 1].size {
                largest.append((s, ids.string(at: idAt[i])))
                largest.sort { ($0.size, $1.id) > ($1.size, $0.id) }
                if largest.count > 5 { largest.removeLast() }
            }
        }
        let out = try SectionedFileWriter(
            path: workspace.output(Self.decisionName), magic: Self.decisionMagic, sections: 2 * shards.count)
        for position in shards.indices {
            try members.forEach(inShard: position, documents: totals[position].documents) { doc, member in
                let r = Int(parent[member]), k = keeperOf(r)
                guard k != member else { return }
                try out.append(doc)
                try out.append(ids.string(at: idAt[k]))
                try out.append(ids.string(at: idAt[r]))
                try out.append(UInt64(size[r]))
                removed += 1
            }
            try out.endSection()
            try members.forEach(inShard: position, documents: totals[position].documents) { doc, member in
                let r = Int(parent[member])
                guard keeperOf(r) == member else { return }
                try out.append(doc)
                try out.append(UInt64(size[r]))
                try out.append(ids.string(at: idAt[r]))
            }
            try out.endSection()
        }
        try out.finish()
        context.count("clusters", by: clusters)
        context.count("documents_removed", by: removed)
        // The largest clusters by the id of their first document (darwin inspect --cluster ID lists them).
        for c in largest { context.count("largest_cluster." + c.id, by: c.size) }
        for (value, n) in removedIn { context.count("removed_in." + value, by: n) }
        for (value, n) in scopeCounts { context.count("documents_in." + value, by: n) }
    }

    /// Every document of every shard, in input order: its member number (nil without a pair), id, keep value
    /// and scope. Member numbers follow input order, so a running count gives them.
    private func forEachDocument(
        _ shards: [ShardInfo], _ members: Members, _ workspace: GlobalWorkspace,
        _ body: (Int?, String, Double, String) throws -> Void
    ) throws {
        var member = 0
        for shard in shards {
            let r = try SectionStream(
                0, of: workspace.path(of: Self.documentsName(shard.index)), magic: Self.documentsMagic, count: 2,
                what: "document list")
            var doc: UInt64 = 0
            while !r.isAtEnd {
                let id = try r.string(), value = Double(bitPattern: try r.uint64()), scopeValue = try r.string()
                if members.contains(Self.pack(shard.index, doc)) {
                    try body(member, id, value, scopeValue)
                    member += 1
                } else {
                    try body(nil, id, value, scopeValue)
                }
                doc += 1
            }
        }
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        let path = workspace.path(of: Self.decisionName)
        return try Applier(
            drops: try SectionStream(
                2 * shard.index, of: path, magic: Self.decisionMagic, what: "cluster file", chunk: 1 << 16),
            kept: try SectionStream(
                2 * shard.index + 1, of: path, magic: Self.decisionMagic, what: "cluster file", chunk: 1 << 16))
    }

    /// Reads the shard's decisions as two streams sorted by document, beside the documents.
    struct Applier: StreamingStep {
        let drops: SectionStream
        let kept: SectionStream
        var nextDrop: (doc: UInt64, keptId: String, cluster: String, size: Int)? = nil
        var nextKept: (doc: UInt64, size: Int, cluster: String)? = nil

        init(drops: SectionStream, kept: SectionStream) throws {
            self.drops = drops
            self.kept = kept
            try advanceDrop()
            try advanceKept()
        }

        mutating func advanceDrop() throws {
            nextDrop =
                drops.isAtEnd
                ? nil : (try drops.uint64(), try drops.string(), try drops.string(), Int(try drops.uint64()))
        }

        mutating func advanceKept() throws {
            nextKept = kept.isAtEnd ? nil : (try kept.uint64(), Int(try kept.uint64()), try kept.string())
        }

        mutating func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            let i = UInt64(context.documentIndex)
            while let d = nextDrop, d.doc < i { try advanceDrop() }
            while let k = nextKept, k.doc < i { try advanceKept() }
            if let d = nextDrop, d.doc == i {
                try advanceDrop()
                return .drop(
                    rule: "near_duplicate",
                    detail: [
                        "duplicate_of": .string(d.keptId), "cluster": .string(d.cluster),
                        "cluster_size": .number(JSONNumber(d.size)),
                    ])
            }
            if let k = nextKept, k.doc == i {
                try advanceKept()
                document.setValue(.number(JSONNumber(k.size)), atPath: "metadata.dedup.cluster_size")
                document.setValue(.string(k.cluster), atPath: "metadata.dedup.cluster")
            } else {
                document.setValue(.number(JSONNumber(1)), atPath: "metadata.dedup.cluster_size")
            }
            return .keep
        }
    }
}
