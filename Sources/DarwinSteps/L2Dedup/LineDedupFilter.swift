import DarwinCore
import DarwinIO

/// Removes lines (or paragraphs) that appear earlier in the corpus, as C4 and FineWeb-style line dedup do:
/// the first occurrence (in input order: shard, document, line) stays, every later copy is cut out of its
/// document. A document left without text is dropped (`all_duplicate`); the others keep their remaining
/// lines in order and record how many were removed in `metadata.dedup.lines_removed`.
///
/// Phases: collect (each shard writes the 128-bit hash of every normalised line, partitioned by hash),
/// group (per partition: every hash's first occurrence found, the others marked), apply.
struct LineDedupFilter: GlobalStep {
    enum Unit: String {
        case line
        case paragraph
    }

    let unit: Unit
    let minChars: Int
    let lowercase: Bool
    let partitions: Int

    static let descriptor = StepDescriptor(
        id: "line_dedup", version: 1, levels: [.l2],
        summary: "cut lines (or paragraphs) that appeared earlier in the corpus out of documents; drop emptied ones",
        reference: "C4 / Gopher-style repeated-span removal across a corpus (Raffel et al. 2020; Penedo et al. 2023)",
        kind: .global,
        parameters: [
            ParameterSpec(
                "unit", .choice(["line", "paragraph"]), default: "line",
                "line: split on newlines; paragraph: split on blank lines"),
            ParameterSpec(
                "min_chars", .integer(min: 0, max: 1 << 20), default: 20,
                "shorter units (after whitespace normalisation) are never removed (headings, list bullets)"),
            ParameterSpec(
                "lowercase", .boolean, default: false, "compare case-insensitively (whitespace is always normalised)"),
            ParameterSpec(
                "partitions", .integer(min: 1, max: 4096), default: 16, "hash partitions grouped in parallel"),
        ],
        // Examples with the same parameters run together, in this order, as one shard.
        examples: [
            StepExample(
                ExampleText.document(
                    "a",
                    """
                    Home | Products | About us | Contact
                    The first article talks about gardens and tomatoes.
                    Copyright 2024 Example Corp. All rights reserved.
                    """),
                expect: .keep),
            StepExample(
                ExampleText.document(
                    "b",
                    """
                    Home | Products | About us | Contact
                    The second article is about bicycles in the city.
                    Short
                    Short
                    Copyright  2024 Example Corp.  All rights reserved.
                    """),
                expect: .keep),
            StepExample(
                ExampleText.document(
                    "c", "Home | Products | About us | Contact\nCopyright 2024 Example Corp. All rights reserved."),
                expect: .drop(rule: "all_duplicate")),
            StepExample(
                ExampleText.document(
                    "d", "Intro\n\nA paragraph that appears twice in the corpus.\nIt has two lines.\n\nThe end."),
                parameters: ["unit": "paragraph", "lowercase": true], expect: .keep),
            StepExample(
                ExampleText.document(
                    "e", "Intro\n\nA PARAGRAPH THAT APPEARS TWICE IN THE CORPUS.\nIt has two lines.\n\nNew text here."),
                parameters: ["unit": "paragraph", "lowercase": true], expect: .keep),
        ],
        make: { p in
            .global(
                LineDedupFilter(
                    unit: Unit(rawValue: p.string("unit")) ?? .line, minChars: p.int("min_chars"),
                    lowercase: p.bool("lowercase"), partitions: p.int("partitions")))
        })

    var reducePhases: [ReducePhase] { [ReducePhase(name: "group", partitions: partitions)] }

    static let collectMagic: UInt32 = 0x3143_4C44  // "DLC1"
    static let decisionMagic: UInt32 = 0x3144_4C44  // "DLD1"
    static func collectName(_ shard: Int) -> String { "lines-" + String(format: "%06d", shard) + ".bin" }
    static func decisionName(_ partition: Int) -> String { "repeats-" + String(format: "%04d", partition) + ".bin" }

    /// The units of a text as ranges of its UTF-8 bytes (separators excluded), in order.
    func units(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if unit == .line {
                    out.append(start..<i)
                    start = i + 1
                } else {
                    // A blank line (only spaces, tabs or CR between two newlines) ends a paragraph.
                    var j = i + 1
                    while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0D) { j += 1 }
                    if j < bytes.count && bytes[j] == 0x0A {
                        out.append(start..<i)
                        while j < bytes.count
                            && (bytes[j] == 0x0A || bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0D)
                        {
                            j += 1
                        }
                        start = j
                        i = j
                        continue
                    }
                }
            }
            i += 1
        }
        if start < bytes.count { out.append(start..<bytes.count) }
        return out
    }

    /// The key of a unit, or nil when it is too short to be removed.
    func key(_ bytes: [UInt8], _ r: Range<Int>) -> (UInt64, UInt64)? {
        func hash(_ b: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64)? {
            guard b.count >= minChars, b.count > 0 else { return nil }
            let h = Hashing.xxh128(UnsafeRawBufferPointer(b))
            return (h.high, h.low)
        }
        if lowercase {
            let text = String(decoding: bytes[r], as: UTF8.self).lowercased()
            return TextBytes.withCollapsedWhitespace(text, lowercaseASCII: false, hash)
        }
        return bytes.withUnsafeBufferPointer {
            TextBytes.withCollapsedWhitespace(UnsafeBufferPointer(rebasing: $0[r]), lowercaseASCII: false, hash)
        }
    }

    func makeCollector(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any GlobalCollector {
        Collector(step: self, shard: shard, workspace: workspace)
    }

    struct Collector: GlobalCollector {
        let step: LineDedupFilter
        let shard: ShardInfo
        let workspace: GlobalWorkspace
        /// Per partition: hash high, hash low, document index, unit index.
        var parts: [[UInt64]]

        init(step: LineDedupFilter, shard: ShardInfo, workspace: GlobalWorkspace) {
            self.step = step
            self.shard = shard
            self.workspace = workspace
            parts = Array(repeating: [], count: step.partitions)
        }

        mutating func collect(_ document: Document, context: inout StepContext) throws {
            let bytes = Array(document.text.utf8)
            for (u, r) in step.units(bytes).enumerated() {
                guard let (high, low) = step.key(bytes, r) else { continue }
                parts[Int(high % UInt64(step.partitions))].append(contentsOf: [
                    high, low, UInt64(context.documentIndex), UInt64(u),
                ])
            }
        }

        mutating func finish(context: inout StepContext) throws {
            try SectionedFile.write(
                parts.map(ByteWriter.init(values:)), magic: LineDedupFilter.collectMagic,
                to: workspace.output(LineDedupFilter.collectName(shard.index)))
        }
    }

    func reduce(phase: Int, partition: Int, shards: [ShardInfo], workspace: GlobalWorkspace, context: inout StepContext)
        throws
    {
        struct Entry {
            var high: UInt64
            var low: UInt64
            var shard: Int
            var document: UInt64
            var unit: UInt64
        }
        var entries: [Entry] = []
        try PhaseFiles.forEachSection(
            partition, of: shards.map { workspace.path(of: Self.collectName($0.index)) }, magic: Self.collectMagic,
            count: partitions, what: "line file"
        ) { k, r in
            while !r.isAtEnd {
                entries.append(
                    Entry(
                        high: try r.uint64(), low: try r.uint64(), shard: shards[k].index, document: try r.uint64(),
                        unit: try r.uint64()))
            }
        }
        entries.sort {
            ($0.high, $0.low, $0.shard, $0.document, $0.unit) < ($1.high, $1.low, $1.shard, $1.document, $1.unit)
        }
        var repeats = [[UInt64]](repeating: [], count: shards.count)
        var removed = 0
        PhaseFiles.forEachRun(entries, sameKey: { ($0.high, $0.low) == ($1.high, $1.low) }) { run in
            for k in run.dropFirst() {
                repeats[entries[k].shard].append(contentsOf: [entries[k].document, entries[k].unit])
                removed += 1
            }
        }
        context.count("units", by: entries.count)
        context.count("repeats", by: removed)
        try SectionedFile.write(
            repeats.map(ByteWriter.init(values:)), magic: Self.decisionMagic,
            to: workspace.output(Self.decisionName(partition)))
    }

    func makeApplier(shard: ShardInfo, workspace: GlobalWorkspace) throws -> any StreamingStep {
        var cut: [UInt64: Set<Int>] = [:]
        try PhaseFiles.forEachSection(
            shard.index, of: (0..<partitions).map { workspace.path(of: Self.decisionName($0)) },
            magic: Self.decisionMagic, what: "repeat file"
        ) { _, r in
            while !r.isAtEnd {
                let doc = try r.uint64()
                cut[doc, default: []].insert(Int(try r.uint64()))
            }
        }
        return Applier(step: self, cut: cut)
    }

    struct Applier: StreamingStep {
        let step: LineDedupFilter
        let cut: [UInt64: Set<Int>]

        func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            guard let remove = cut[UInt64(context.documentIndex)] else { return .keep }
            let bytes = Array(document.text.utf8)
            let units = step.units(bytes)
            let separator: [UInt8] = step.unit == .line ? [0x0A] : [0x0A, 0x0A]
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var kept = 0
            for (u, r) in units.enumerated() where !remove.contains(u) {
                if kept > 0 { out += separator }
                out += bytes[r]
                kept += 1
            }
            context.count("units_removed", by: remove.count)
            if out.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }) {
                return .drop(rule: "all_duplicate", detail: ["units_removed": .number(JSONNumber(remove.count))])
            }
            document.text = String(decoding: out, as: UTF8.self)
            document.setValue(.number(JSONNumber(remove.count)), atPath: "metadata.dedup.lines_removed")
            return .keep
        }
    }
}
