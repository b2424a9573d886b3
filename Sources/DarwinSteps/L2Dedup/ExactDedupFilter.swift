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
        /// A URL: scheme, `www.`, default port, fragment and a trailing `/` dropped, host lower-cased.
        case url
    }

    /// Which document of a group stays.
    enum Keep: String {
        /// The first in input order (shard order, then position).
        case first
        /// The one with the longest text (ties: the first); for URLs crawled several times.
        case longest
    }

    let field: String
    /// Fields tried in order when `field` is missing (url_dedup: metadata.url).
    var fallbacks: [String] = []
    let normalization: Normalization
    let partitions: Int
    var keep: Keep = .first
    var rule = "duplicate"

    static let descriptor = StepDescriptor(
        id: "exact_dedup", version: 2, levels: [.l2],
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
            ParameterSpec(
                "keep", .choice(["first", "longest"]), default: "first",
                "which document of a group stays: the first in input order, or the one with the longest text"),
        ],
        // Examples with the same parameters run together, in this order, as one shard.
        examples: [
            StepExample(#"{"id":"a","text":"The same text, twice."}"#, expect: .keep),
            StepExample(#"{"id":"b","text":"  The same   text,\ntwice. "}"#, expect: .drop(rule: "duplicate")),
            StepExample(#"{"id":"c","text":"THE SAME TEXT, TWICE."}"#, expect: .keep),
            StepExample(#"{"id":"d","text":"Ünïcode Text"}"#, parameters: ["normalize": "lowercase"], expect: .keep),
            StepExample(
                #"{"id":"e","text":"ünïcode   text"}"#, parameters: ["normalize": "lowercase"],
                expect: .drop(rule: "duplicate")),
            StepExample(
                #"{"id":"f","text":"short","title":"Home"}"#, parameters: ["field": "title", "keep": "longest"],
                expect: .drop(rule: "duplicate")),
            StepExample(
                #"{"id":"g","text":"the longer one","title":"Home"}"#,
                parameters: ["field": "title", "keep": "longest"],
                expect: .keep),
        ],
        make: { p in
            var step = ExactDedupFilter(
                field: p.string("field"),
                normalization: Normalization(rawValue: p.string("normalize")) ?? .whitespace,
                partitions: p.int("partitions"))
            step.keep = Keep(rawValue: p.string("keep")) ?? .first
            return .global(step)
        })

    /// `url_dedup`: the same step on the normalised URL.
    static let urlDescriptor = StepDescriptor(
        id: "url_dedup", version: 1, levels: [.l2],
        summary: "drop documents whose normalised URL an earlier (or longer) document has, keeping one per URL",
        reference: "URL dedup (Darwin-Science's URL-based dedup; datatrove UrlDedup keeps one document per URL)",
        kind: .global,
        parameters: [
            ParameterSpec("field", .string, default: "url", "the URL field (metadata.url is tried when it is missing)"),
            ParameterSpec(
                "keep", .choice(["first", "longest"]), default: "longest",
                "which document of a URL stays: the one with the longest text (a complete crawl), or the first"),
            ParameterSpec(
                "partitions", .integer(min: 1, max: 4096), default: 16, "hash partitions grouped in parallel"),
        ],
        // Examples with the same parameters run together, in this order, as one shard.
        examples: [
            StepExample(
                #"{"id":"a","text":"A page cut short","url":"http://www.example.com/page/#top"}"#,
                expect: .drop(rule: "duplicate_url")),
            StepExample(
                #"{"id":"b","text":"The whole page, crawled again later","metadata":{"url":"https://EXAMPLE.com:443/page"}}"#,
                expect: .keep),
            StepExample(#"{"id":"c","text":"Another page","url":"https://example.com/page?lang=fr"}"#, expect: .keep),
            StepExample(#"{"id":"d","text":"No URL"}"#, expect: .keep),
            StepExample(
                #"{"id":"e","text":"First seen","url":"https://example.org/"}"#, parameters: ["keep": "first"],
                expect: .keep),
            StepExample(
                #"{"id":"f","text":"Seen again, longer","url":"http://example.org"}"#, parameters: ["keep": "first"],
                expect: .drop(rule: "duplicate_url")),
        ],
        make: { p in
            var step = ExactDedupFilter(field: p.string("field"), normalization: .url, partitions: p.int("partitions"))
            step.fallbacks = p.string("field") == "url" ? ["metadata.url"] : []
            step.keep = Keep(rawValue: p.string("keep")) ?? .longest
            step.rule = "duplicate_url"
            return .global(step)
        })

    /// A URL as compared: `HTTP://www.Example.com:80/a/#top` and `https://example.com/a` are the same.
    static func normalizeURL(_ url: String) -> String {
        var u = Substring(url.trimmingCharacters(in: .whitespaces))
        if let r = u.range(of: "://") { u = u[r.upperBound...] }
        if let hash = u.firstIndex(of: "#") { u = u[..<hash] }
        let slash = u.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? u.endIndex
        var host = u[..<slash].lowercased()
        var rest = String(u[slash...])
        if let at = host.lastIndex(of: "@") { host = String(host[host.index(after: at)...]) }
        for port in [":80", ":443"] where host.hasSuffix(port) { host = String(host.dropLast(port.count)) }
        if host.hasPrefix("www.") { host = String(host.dropFirst(4)) }
        if rest.hasSuffix("/") { rest.removeLast() }
        if rest.hasPrefix("/?") { rest.removeFirst() }
        return host + rest
    }

    var reducePhases: [ReducePhase] { [ReducePhase(name: "group", partitions: partitions)] }

    // MARK: - Keys

    /// The 128-bit key of a document, or `nil` when it lacks the field.
    /// The compared field's value (or the first fallback's), if present and not null.
    func value(of document: Document) -> JSONValue? {
        if let v = document.value(atPath: field), v != .null { return v }
        for f in fallbacks {
            if let v = document.value(atPath: f), v != .null { return v }
        }
        return nil
    }

    func key(of document: Document) -> (UInt64, UInt64)? {
        var raw: String
        if field == "text" {
            raw = document.text
        } else {
            guard let v = value(of: document) else { return nil }
            raw = v.stringValue ?? JSONWriter.string(v)
        }
        if normalization == .lowercase, !TextBytes.isASCII(raw) { raw = raw.lowercased() }
        let h: (high: UInt64, low: UInt64)
        switch normalization {
        case .none: h = Hashing.xxh128(raw)
        case .url: h = Hashing.xxh128(Self.normalizeURL(raw))
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
            var length: UInt64
            var id: String
        }
        var entries: [Entry] = []
        try PhaseFiles.forEachSection(
            partition, of: shards.map { workspace.path(of: Self.collectName($0.index)) }, magic: Self.collectMagic,
            count: partitions, what: "collect file"
        ) { k, r in
            while !r.isAtEnd {
                entries.append(
                    Entry(
                        high: try r.uint64(), low: try r.uint64(), shard: shards[k].index, document: try r.uint64(),
                        length: try r.uint64(), id: try r.string()))
            }
        }
        // Within a group the kept document comes first: the first in input order, or the longest.
        let longest = keep == .longest
        entries.sort {
            if ($0.high, $0.low) != ($1.high, $1.low) { return ($0.high, $0.low) < ($1.high, $1.low) }
            if longest && $0.length != $1.length { return $0.length > $1.length }
            return ($0.shard, $0.document) < ($1.shard, $1.document)
        }

        // Dropped documents per shard: (position, id of the kept document).
        var drops = [[(UInt64, String)]](repeating: [], count: shards.count)
        var groups = 0
        PhaseFiles.forEachRun(entries, sameKey: { ($0.high, $0.low) == ($1.high, $1.low) }) { run in
            guard run.count > 1 else { return }
            groups += 1
            let kept = entries[run.lowerBound].id
            for k in run.dropFirst() { drops[entries[k].shard].append((entries[k].document, kept)) }
        }
        context.count("keys", by: entries.count)
        context.count("duplicate_groups", by: groups)

        var sections: [ByteWriter] = []
        for list in drops {
            var w = ByteWriter()
            for (doc, kept) in list.sorted(by: { $0.0 < $1.0 }) {
                w.append(doc)
                w.append(kept)
            }
            sections.append(w)
        }
        try SectionedFile.write(
            sections, magic: Self.decisionMagic, to: workspace.output(Self.decisionName(partition)))
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        var duplicates: [UInt64: String] = [:]
        try PhaseFiles.forEachSection(
            shard.index, of: (0..<partitions).map { workspace.path(of: Self.decisionName($0)) },
            magic: Self.decisionMagic, what: "decision file"
        ) { _, r in
            while !r.isAtEnd { duplicates[try r.uint64()] = try r.string() }
        }
        return Applier(duplicates: duplicates, rule: rule)
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
            buckets[p].append(UInt64(document.textUTF8Count))
            buckets[p].append(document.id)
        }

        mutating func finish(context: inout StepContext) throws {
            try SectionedFile.write(
                buckets, magic: ExactDedupFilter.collectMagic,
                to: workspace.output(ExactDedupFilter.collectName(shard.index)))
        }
    }

    /// Drops the documents the group phase marked.
    struct Applier: StreamingStep {
        let duplicates: [UInt64: String]
        let rule: String

        func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            guard let kept = duplicates[UInt64(context.documentIndex)] else { return .keep }
            return .drop(rule: rule, detail: ["duplicate_of": .string(kept)])
        }
    }
}
