import CDarwinText
import DarwinCore

/// Gopher's quality rules (Rae et al. 2021, appendix A), with datatrove's `GopherQualityFilter` semantics.
///
/// Words are spaCy English tokens by default (as datatrove); "non-symbol" words have a character outside
/// datatrove's punctuation set. Rules, in order: word count, mean word length, `#` and ellipsis to word
/// ratios, share of lines starting with a bullet or ending with an ellipsis, share of words with a
/// letter, and stop words present. A threshold of null (or 0) switches its rule off.
struct GopherQualityFilter: StreamingStep {
    struct Config {
        var minWords, maxWords: Int?
        var minMeanLength, maxMeanLength: Double?
        var maxSymbolRatio, maxBulletLines, maxEllipsisLines, minAlphaWords: Double?
        var minStopWords: Int?
        var stopWords: [[UInt8]]
        var words: WordSplit

        init(_ p: Parameters) {
            func int(_ n: String) -> Int? { p.optionalInt(n).flatMap { $0 == 0 ? nil : $0 } }
            func dbl(_ n: String) -> Double? { p.optionalDouble(n).flatMap { $0 == 0 ? nil : $0 } }
            minWords = int("min_doc_words")
            maxWords = int("max_doc_words")
            minMeanLength = dbl("min_avg_word_length")
            maxMeanLength = dbl("max_avg_word_length")
            maxSymbolRatio = dbl("max_symbol_word_ratio")
            maxBulletLines = dbl("max_bullet_lines_ratio")
            maxEllipsisLines = dbl("max_ellipsis_lines_ratio")
            minAlphaWords = dbl("max_non_alpha_words_ratio")
            minStopWords = int("min_stop_words")
            stopWords = Array(Set(p.strings("stop_words"))).sorted().map { Array($0.utf8) }
            words = WordSplit(rawValue: p.string("words")) ?? .auto
        }
    }

    let settings: PerLanguage<Config>

    static let parameterSpecs: [ParameterSpec] =
        [
            ParameterSpec("min_doc_words", .integer(min: 0), default: 50, "fewest non-symbol words", nullable: true),
            ParameterSpec("max_doc_words", .integer(min: 0), default: 100_000, "most non-symbol words", nullable: true),
            ParameterSpec(
                "min_avg_word_length", .number(min: 0), default: 3,
                "lowest mean length of non-symbol words (code points)", nullable: true),
            ParameterSpec(
                "max_avg_word_length", .number(min: 0), default: 10, "highest mean word length", nullable: true),
            ParameterSpec(
                "max_symbol_word_ratio", .number(min: 0), default: 0.1, "most '#', and most '...'/'…', per word",
                nullable: true),
            ParameterSpec(
                "max_bullet_lines_ratio", .number(min: 0, max: 1), default: 0.9, "most lines starting with '•' or '-'",
                nullable: true),
            ParameterSpec(
                "max_ellipsis_lines_ratio", .number(min: 0, max: 1), default: 0.3,
                "most lines ending with '...' or '…'", nullable: true),
            ParameterSpec(
                "max_non_alpha_words_ratio", .number(min: 0, max: 1), default: 0.8,
                "fewest words with a letter, as a share (datatrove's name; it is a minimum)", nullable: true),
            ParameterSpec(
                "min_stop_words", .integer(min: 0), default: 2, "fewest distinct stop words present", nullable: true),
            ParameterSpec(
                "stop_words", .stringList, default: ["the", "be", "to", "of", "and", "that", "have", "with"],
                "the stop words (Gopher's English list)"),
            WordSplit.parameter,
        ] + LanguageOverrides.parameters

    static let descriptor = StepDescriptor(
        id: "gopher_quality", version: 1, levels: [.l2],
        summary: "Gopher quality rules: word count and length, symbol ratios, bullets, letters, stop words",
        reference: "Rae et al. 2021 (Gopher), appendix A; datatrove GopherQualityFilter defaults",
        kind: .streaming,
        parameters: parameterSpecs,
        histograms: [
            HistogramSpec(name: "words", lower: 1, upper: 1e7, bins: 28, scale: .log, summary: "non-symbol words"),
            HistogramSpec(
                name: "mean_word_length", lower: 0, upper: 20, bins: 40, scale: .linear, summary: "mean word length"),
            HistogramSpec(
                name: "alpha_words_ratio", lower: 0, upper: 1, bins: 20, scale: .linear,
                summary: "share of words with a letter"),
        ],
        examples: [
            StepExample(#"{"id":"a","text":"too short to be a document"}"#, expect: .drop(rule: "too_few_words")),
            StepExample(
                ##"{"id":"b","text":"# # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # # and the"}"##,
                parameters: ["min_doc_words": 1], expect: .drop(rule: "hash_ratio")),
            StepExample(ExampleText.document("c", ExampleText.english), expect: .keep),
        ],
        resources: LanguageOverrides.resources,
        make: { p in
            .streaming(GopherQualityFilter(settings: try PerLanguage(p, specs: parameterSpecs, make: Config.init)))
        })

    private static let hash: [UInt8] = Array("#".utf8)
    private static let dots: [UInt8] = Array("...".utf8)
    private static let ellipsis: [UInt8] = Array("…".utf8)
    private static let bullet: [UInt8] = Array("•".utf8)
    private static let dash: [UInt8] = Array("-".utf8)

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let (c, language) = settings.config(for: document)
        let analysis = TextAnalysis.of(document)
        let words = analysis.words(c.words, language: language)
        return analysis.bytes.withUnsafeBufferPointer { buf -> Decision in
            let t = PyText(buf)
            let nWords = words.count
            var nonSymbol = 0, nonSymbolChars = 0, withAlpha = 0
            for w in words {
                if w.flags & TokenFlag.allDatatrovePunctuation == 0 {
                    nonSymbol += 1
                    nonSymbolChars += Int(w.chars)
                }
                if w.flags & TokenFlag.hasAlpha != 0 { withAlpha += 1 }
            }
            let mean = nonSymbol > 0 ? Double(nonSymbolChars) / Double(nonSymbol) : Double.nan
            let alphaRatio = nWords > 0 ? Double(withAlpha) / Double(nWords) : 0
            context.observe("words", Double(nonSymbol))
            if mean.isFinite { context.observe("mean_word_length", mean) }
            context.observe("alpha_words_ratio", alphaRatio)
            func drop(_ rule: String, _ value: Double, _ limit: Double) -> Decision {
                .drop(
                    rule: rule, detail: ["value": .number(JSONNumber(value)), "threshold": .number(JSONNumber(limit))])
            }
            if let m = c.minWords, nonSymbol < m { return drop("too_few_words", Double(nonSymbol), Double(m)) }
            if let m = c.maxWords, nonSymbol > m { return drop("too_many_words", Double(nonSymbol), Double(m)) }
            // NaN (no non-symbol word) passes both, as numpy's mean of nothing does in datatrove.
            if let m = c.minMeanLength, mean < m { return drop("mean_word_length", mean, m) }
            if let m = c.maxMeanLength, mean > m { return drop("mean_word_length", mean, m) }
            let perWord = Double(max(nWords, 1))
            if let m = c.maxSymbolRatio {
                let hashes = Double(t.count(Self.hash, in: t.all)) / perWord
                if hashes > m { return drop("hash_ratio", hashes, m) }
                let ells = Double(t.count(Self.dots, in: t.all) + t.count(Self.ellipsis, in: t.all)) / perWord
                if ells > m { return drop("ellipsis_ratio", ells, m) }
            }
            if c.maxBulletLines != nil || c.maxEllipsisLines != nil {
                let lines = t.splitlines(t.all)
                let n = Double(max(lines.count, 1))
                func share(_ test: (Range<Int>) -> Bool) -> Double { Double(lines.count { test($0) }) / n }
                if let m = c.maxBulletLines {
                    let bullets = share { l in
                        let s = t.lstrip(l)
                        return t.hasPrefix(Self.bullet, s) || t.hasPrefix(Self.dash, s)
                    }
                    if bullets > m { return drop("bullet_lines", bullets, m) }
                }
                if let m = c.maxEllipsisLines {
                    let ending = share { l in
                        let s = t.rstrip(l)
                        return t.hasSuffix(Self.dots, s) || t.hasSuffix(Self.ellipsis, s)
                    }
                    if ending > m { return drop("ellipsis_lines", ending, m) }
                }
            }
            if let m = c.minAlphaWords, alphaRatio < m { return drop("alpha_words", alphaRatio, m) }
            if let m = c.minStopWords {
                var found = Set<Int>()
                let maxLen = c.stopWords.map(\.count).max() ?? 0
                for w in words where Int(w.end - w.start) <= maxLen {
                    let r = Int(w.start)..<Int(w.end)
                    for (i, s) in c.stopWords.enumerated() where s.count == r.count && !found.contains(i) {
                        if t.hasPrefix(s, r) {
                            found.insert(i)
                            break
                        }
                    }
                    if found.count >= m { break }
                }
                if found.count < m { return drop("stop_words", Double(found.count), Double(m)) }
            }
            return .keep
        }
    }
}
