import DarwinCore

/// Gopher's repetition rules (Rae et al. 2021, table A1), with datatrove's `GopherRepetitionFilter`
/// semantics: duplicate paragraphs (split on 2+ newlines) and lines (split on newlines) by count and by
/// characters; the character share of the most frequent 2-, 3- and 4-gram; the character share of
/// repeated 5- to 10-grams. Character shares are of the whole text, in code points.
struct GopherRepetitionFilter: StreamingStep {
    struct Config {
        var dupParagraphs, dupParagraphChars, dupLines, dupLineChars: Double?
        var topNGrams: [(n: Int, fraction: Double)]
        var dupNGrams: [(n: Int, fraction: Double)]
        var words: WordSplit

        init(_ p: Parameters) throws {
            func dbl(_ n: String) -> Double? { p.optionalDouble(n).flatMap { $0 == 0 ? nil : $0 } }
            dupParagraphs = dbl("dup_para_frac")
            dupParagraphChars = dbl("dup_para_char_frac")
            dupLines = dbl("dup_line_frac")
            dupLineChars = dbl("dup_line_char_frac")
            topNGrams = try Self.pairs(p.json("top_n_grams"), "top_n_grams")
            dupNGrams = try Self.pairs(p.json("dup_n_grams"), "dup_n_grams")
            words = WordSplit(rawValue: p.string("words")) ?? .auto
        }

        static func pairs(_ v: JSONValue, _ name: String) throws -> [(n: Int, fraction: Double)] {
            if v == .null { return [] }
            guard let list = v.arrayValue else { throw ParameterError(name, "\(name) must be a list of [n, fraction] pairs") }
            return try list.map { item in
                guard let pair = item.arrayValue, pair.count == 2, let n = pair[0].intValue, n >= 1, n <= 100,
                    let f = pair[1].doubleValue
                else { throw ParameterError(name, "\(name): each entry is [n, fraction] with n in 1…100, got \(JSONWriter.string(item))") }
                return (n, f)
            }
        }
    }

    let settings: PerLanguage<Config>

    static let parameterSpecs: [ParameterSpec] = [
        ParameterSpec("dup_line_frac", .number(min: 0, max: 1), default: 0.3, "most duplicate lines, as a share of lines", nullable: true),
        ParameterSpec("dup_para_frac", .number(min: 0, max: 1), default: 0.3, "most duplicate paragraphs, as a share", nullable: true),
        ParameterSpec("dup_line_char_frac", .number(min: 0, max: 1), default: 0.2, "most characters in duplicate lines", nullable: true),
        ParameterSpec("dup_para_char_frac", .number(min: 0, max: 1), default: 0.2, "most characters in duplicate paragraphs", nullable: true),
        ParameterSpec("top_n_grams", .json, default: [[2, 0.2], [3, 0.18], [4, 0.16]],
            "[n, fraction]: most characters covered by the most frequent n-gram"),
        ParameterSpec("dup_n_grams", .json, default: [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.10]],
            "[n, fraction]: most characters in repeated n-grams"),
        WordSplit.parameter,
    ] + LanguageOverrides.parameters

    static let descriptor = StepDescriptor(
        id: "gopher_repetition", version: 1, levels: [.l2],
        summary: "Gopher repetition rules: duplicate lines and paragraphs, top and duplicated word n-grams",
        reference: "Rae et al. 2021 (Gopher), table A1; datatrove GopherRepetitionFilter",
        kind: .streaming,
        parameters: parameterSpecs,
        histograms: [
            HistogramSpec(name: "dup_line_frac", lower: 0, upper: 1, bins: 20, scale: .linear, summary: "share of duplicate lines")
        ],
        examples: [
            StepExample(#"{"id":"a","text":"same line\nsame line\nsame line\nother"}"#, expect: .drop(rule: "duplicate_lines")),
            StepExample(#"{"id":"b","text":""}"#, expect: .drop(rule: "empty")),
        ],
        make: { p in .streaming(GopherRepetitionFilter(settings: try PerLanguage(p, specs: parameterSpecs, make: Config.init))) })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let (c, language) = settings.config(for: document)
        let analysis = TextAnalysis.of(document)
        if analysis.bytes.isEmpty { return .drop(rule: "empty") }
        let textLength = Double(analysis.characterCount)
        return analysis.bytes.withUnsafeBufferPointer { buf -> Decision in
            let t = PyText(buf)
            func drop(_ rule: String, _ value: Double, _ limit: Double) -> Decision {
                .drop(rule: rule, detail: ["value": .number(JSONNumber(value)), "threshold": .number(JSONNumber(limit))])
            }
            // Paragraphs: re.split(r"\n{2,}", text.strip()).
            let paragraphs = Self.split(t, t.strip(t.all), minNewlines: 2)
            let (dupParas, dupParaChars) = Self.duplicates(t, paragraphs)
            if let m = c.dupParagraphs, Double(dupParas) / Double(paragraphs.count) > m {
                return drop("duplicate_paragraphs", Double(dupParas) / Double(paragraphs.count), m)
            }
            if let m = c.dupParagraphChars, Double(dupParaChars) / textLength > m {
                return drop("duplicate_paragraph_chars", Double(dupParaChars) / textLength, m)
            }
            // Lines: re.split("\n+", text).
            let lines = Self.split(t, t.all, minNewlines: 1)
            let (dupLines, dupLineChars) = Self.duplicates(t, lines)
            context.observe("dup_line_frac", Double(dupLines) / Double(lines.count))
            if let m = c.dupLines, Double(dupLines) / Double(lines.count) > m {
                return drop("duplicate_lines", Double(dupLines) / Double(lines.count), m)
            }
            if let m = c.dupLineChars, Double(dupLineChars) / textLength > m {
                return drop("duplicate_line_chars", Double(dupLineChars) / textLength, m)
            }
            if c.topNGrams.isEmpty && c.dupNGrams.isEmpty { return .keep }
            let words = analysis.words(c.words, language: language)
            var hashes = [UInt64](), powers = [UInt64](), chars = [Int]()
            hashes.reserveCapacity(words.count)
            for w in words {
                let (h, p) = NGramHash.of(buf, Int(w.start)..<Int(w.end))
                hashes.append(h)
                powers.append(p)
                chars.append(Int(w.chars))
            }
            for (n, fraction) in c.topNGrams where words.count >= n {
                let top = Self.topNGramChars(hashes, powers, chars, n)
                if Double(top) / textLength > fraction { return drop("top_\(n)gram", Double(top) / textLength, fraction) }
            }
            for (n, fraction) in c.dupNGrams {
                let repeated = Self.repeatedNGramChars(hashes, powers, chars, n)
                if Double(repeated) / textLength > fraction {
                    return drop("duplicate_\(n)grams", Double(repeated) / textLength, fraction)
                }
            }
            return .keep
        }
    }

    /// Splits on runs of at least `minNewlines` newlines (re.split semantics: empty pieces kept).
    static func split(_ t: PyText, _ r: Range<Int>, minNewlines: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = r.lowerBound
        var i = r.lowerBound
        while i < r.upperBound {
            if t.b[i] == 0x0A {
                var j = i
                while j < r.upperBound && t.b[j] == 0x0A { j += 1 }
                if j - i >= minNewlines {
                    out.append(start..<i)
                    start = j
                }
                i = j
            } else {
                i += 1
            }
        }
        out.append(start..<r.upperBound)
        return out
    }

    /// datatrove's find_duplicates: elements seen before, and their characters.
    static func duplicates(_ t: PyText, _ pieces: [Range<Int>]) -> (count: Int, chars: Int) {
        var seen = Set<UInt64>()
        seen.reserveCapacity(pieces.count)
        var count = 0, chars = 0
        for p in pieces {
            let h = t.hash(p) ^ UInt64(p.count) &* 0x9E37_79B9_7F4A_7C15
            if !seen.insert(h).inserted {
                count += 1
                chars += t.length(p)
            }
        }
        return (count, chars)
    }

    /// Characters of the most frequent n-gram (" ".join of n words) times its count; ties go to the first seen.
    static func topNGramChars(_ h: [UInt64], _ p: [UInt64], _ chars: [Int], _ n: Int) -> Int {
        var counts: [UInt64: (count: Int, first: Int)] = [:]
        counts.reserveCapacity(h.count)
        var bestKey: UInt64 = 0
        var best = (count: 0, first: Int.max)
        for i in 0...(h.count - n) {
            var x = h[i]
            for k in (i + 1)..<(i + n) {
                x = NGramHash.concat(x, NGramHash.space.hash, powerY: NGramHash.space.power)
                x = NGramHash.concat(x, h[k], powerY: p[k])
            }
            var e = counts[x] ?? (0, i)
            e.count += 1
            counts[x] = e
            if e.count > best.count || (e.count == best.count && e.first < best.first) {
                best = e
                bestKey = x
            }
        }
        guard let first = counts[bestKey]?.first else { return 0 }
        var length = n - 1
        for k in first..<(first + n) { length += chars[k] }
        return length * best.count
    }

    /// datatrove's find_all_duplicate: characters of repeated n-grams ("".join of n words), skipping ahead
    /// by n after each repeat.
    static func repeatedNGramChars(_ h: [UInt64], _ p: [UInt64], _ chars: [Int], _ n: Int) -> Int {
        var unique = Set<UInt64>()
        unique.reserveCapacity(h.count)
        var repeated = 0
        var i = 0
        while i < h.count - n + 1 {
            var x = h[i]
            var length = chars[i]
            for k in (i + 1)..<(i + n) {
                x = NGramHash.concat(x, h[k], powerY: p[k])
                length += chars[k]
            }
            if unique.contains(x) {
                repeated += length
                i += n
            } else {
                unique.insert(x)
                i += 1
            }
        }
        return repeated
    }
}
