import CDarwinText
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
            guard let list = v.arrayValue else {
                throw ParameterError(name, "\(name) must be a list of [n, fraction] pairs")
            }
            return try list.map { item in
                guard let pair = item.arrayValue, pair.count == 2, let n = pair[0].intValue, n >= 1, n <= 100,
                    let f = pair[1].doubleValue
                else {
                    throw ParameterError(
                        name, "\(name): each entry is [n, fraction] with n in 1…100, got \(JSONWriter.string(item))")
                }
                return (n, f)
            }
        }
    }

    let settings: PerLanguage<Config>
    let counter = HashCounter()
    let powers = HashPowers()

    static let parameterSpecs: [ParameterSpec] =
        [
            ParameterSpec(
                "dup_line_frac", .number(min: 0, max: 1), default: 0.3, "most duplicate lines, as a share of lines",
                nullable: true),
            ParameterSpec(
                "dup_para_frac", .number(min: 0, max: 1), default: 0.3, "most duplicate paragraphs, as a share",
                nullable: true),
            ParameterSpec(
                "dup_line_char_frac", .number(min: 0, max: 1), default: 0.2, "most characters in duplicate lines",
                nullable: true),
            ParameterSpec(
                "dup_para_char_frac", .number(min: 0, max: 1), default: 0.2, "most characters in duplicate paragraphs",
                nullable: true),
            ParameterSpec(
                "top_n_grams", .json, default: [[2, 0.2], [3, 0.18], [4, 0.16]],
                "[n, fraction]: most characters covered by the most frequent n-gram"),
            ParameterSpec(
                "dup_n_grams", .json,
                default: [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.10]],
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
            HistogramSpec(
                name: "dup_line_frac", lower: 0, upper: 1, bins: 20, scale: .linear, summary: "share of duplicate lines"
            )
        ],
        examples: [
            StepExample(
                #"{"id":"a","text":"same line\nsame line\nsame line\nother"}"#, expect: .drop(rule: "duplicate_lines")),
            StepExample(#"{"id":"b","text":""}"#, expect: .drop(rule: "empty")),
            StepExample(ExampleText.document("c", ExampleText.english), expect: .keep),
            StepExample(
                ExampleText.document("d", String(repeating: "buy cheap watches online today ", count: 12)),
                expect: .drop(rule: "top_2gram")),
        ],
        resources: LanguageOverrides.resources,
        make: { p in
            .streaming(GopherRepetitionFilter(settings: try PerLanguage(p, specs: parameterSpecs, make: Config.init)))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let (c, language) = settings.config(for: document)
        let analysis = TextAnalysis.of(document)
        if analysis.bytes.isEmpty { return .drop(rule: "empty") }
        let textLength = Double(analysis.characterCount)
        return analysis.bytes.withUnsafeBufferPointer { buf -> Decision in
            let t = PyText(buf)
            func drop(_ rule: String, _ value: Double, _ limit: Double) -> Decision {
                .drop(
                    rule: rule, detail: ["value": .number(JSONNumber(value)), "threshold": .number(JSONNumber(limit))])
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
            let g = NGramPrefixes(buf, words, powers)
            for (n, fraction) in c.topNGrams where words.count >= n {
                let top = topNGramChars(g, n)
                if Double(top) / textLength > fraction {
                    return drop("top_\(n)gram", Double(top) / textLength, fraction)
                }
            }
            for (n, fraction) in c.dupNGrams {
                let repeated = repeatedNGramChars(g, n)
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
    static func duplicates(_ t: PyText, _ pieces: [Range<Int>], _ table: HashCounter = HashCounter()) -> (
        count: Int, chars: Int
    ) {
        table.reset(expected: pieces.count)
        var count = 0, chars = 0
        for p in pieces {
            let h = t.hash(p) ^ UInt64(p.count) &* 0x9E37_79B9_7F4A_7C15
            if !table.insert(h) {
                count += 1
                chars += t.length(p)
            }
        }
        return (count, chars)
    }

    /// Characters of the most frequent n-gram (" ".join of n words) times its count; ties go to the first seen.
    func topNGramChars(_ g: NGramPrefixes, _ n: Int) -> Int {
        let positions = g.count - n + 1
        counter.reset(expected: positions)
        var best = (count: 0, first: Int.max)
        for i in 0..<positions {
            let e = counter.add(g.spaced(i, n), at: i)
            if e.count > best.count || (e.count == best.count && e.first < best.first) { best = e }
        }
        return (g.chars(best.first, n) + n - 1) * best.count
    }

    /// datatrove's find_all_duplicate: characters of repeated n-grams ("".join of n words), skipping ahead
    /// by n after each repeat.
    func repeatedNGramChars(_ g: NGramPrefixes, _ n: Int) -> Int {
        guard g.count >= n else { return 0 }
        counter.reset(expected: g.count)
        var repeated = 0
        var i = 0
        while i < g.count - n + 1 {
            if counter.insert(g.joined(i, n)) {
                i += 1
            } else {
                repeated += g.chars(i, n)
                i += n
            }
        }
        return repeated
    }
}

/// Prefix hashes of a word sequence, giving the hash of any run of words in O(1), both as the words
/// joined by single spaces and joined with nothing (the two strings datatrove compares).
struct NGramPrefixes {
    let count: Int
    private let spacedStart: [UInt64]  // hash of "w0 w1 … w(i-1) " (before word i)
    private let spacedEnd: [UInt64]  // hash of "w0 … wi" (after word i)
    private let spacedOffset: [Int]  // byte offset of word i in the spaced string
    private let plain: [UInt64]  // hash of "w0w1…w(i-1)"
    private let plainOffset: [Int]
    private let charPrefix: [Int]
    private let powers: HashPowers

    init(_ buf: UnsafeBufferPointer<UInt8>, _ words: [dt_token], _ powers: HashPowers) {
        count = words.count
        self.powers = powers
        var ss = [UInt64](repeating: 0, count: words.count + 1), se = [UInt64](repeating: 0, count: words.count)
        var so = [Int](repeating: 0, count: words.count + 1), pl = [UInt64](repeating: 0, count: words.count + 1)
        var po = [Int](repeating: 0, count: words.count + 1), cp = [Int](repeating: 0, count: words.count + 1)
        for (k, w) in words.enumerated() {
            let (h, p) = NGramHash.of(buf, Int(w.start)..<Int(w.end))
            let len = Int(w.end - w.start)
            se[k] = NGramHash.concat(ss[k], h, powerY: p)
            ss[k + 1] = NGramHash.concat(se[k], NGramHash.space.hash, powerY: NGramHash.space.power)
            so[k + 1] = so[k] + len + 1
            pl[k + 1] = NGramHash.concat(pl[k], h, powerY: p)
            po[k + 1] = po[k] + len
            cp[k + 1] = cp[k] + Int(w.chars)
        }
        spacedStart = ss
        spacedEnd = se
        spacedOffset = so
        plain = pl
        plainOffset = po
        charPrefix = cp
    }

    /// Hash of words i..<i+n joined by spaces.
    @inline(__always)
    func spaced(_ i: Int, _ n: Int) -> UInt64 {
        let end = i + n - 1
        let length = spacedOffset[end + 1] - 1 - spacedOffset[i]
        return NGramHash.submod(spacedEnd[end], NGramHash.mulmod(spacedStart[i], powers.power(length)))
    }

    /// Hash of words i..<i+n concatenated.
    @inline(__always)
    func joined(_ i: Int, _ n: Int) -> UInt64 {
        let length = plainOffset[i + n] - plainOffset[i]
        return NGramHash.submod(plain[i + n], NGramHash.mulmod(plain[i], powers.power(length)))
    }

    /// Characters of words i..<i+n.
    @inline(__always)
    func chars(_ i: Int, _ n: Int) -> Int { charPrefix[i + n] - charPrefix[i] }
}
