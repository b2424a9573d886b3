import CDarwinText
import DarwinCore

/// FineWeb's own quality rules (Penedo et al. 2024), with datatrove's `FineWebQualityFilter` semantics:
/// share of lines ending in terminal punctuation, share of short lines, characters in duplicate lines,
/// and newlines per word. Lines are split on "\n" only and blank lines ignored, as datatrove does.
struct FineWebQualityFilter: StreamingStep {
    struct Config {
        var linePunct: Double
        var linePunctExcludeZero: Bool
        var stopChars: Set<UInt32>?  // nil: datatrove's TERMINAL_PUNCTUATION
        var shortLineRatio: Double
        var shortLineLength: Int
        var charDuplicates: Double
        var newLineRatio: Double
        var words: WordSplit

        init(_ p: Parameters) throws {
            linePunct = p.double("line_punct_thr")
            linePunctExcludeZero = p.bool("line_punct_exclude_zero")
            let chars = p.strings("stop_chars")
            if chars.isEmpty {
                stopChars = nil
            } else {
                guard chars.allSatisfy({ $0.unicodeScalars.count == 1 }) else {
                    throw ParameterError("stop_chars", "stop_chars are single characters")
                }
                stopChars = Set(chars.compactMap { $0.unicodeScalars.first?.value })
            }
            shortLineRatio = p.double("short_line_thr")
            shortLineLength = p.int("short_line_length")
            charDuplicates = p.double("char_duplicates_ratio")
            newLineRatio = p.double("new_line_ratio")
            words = WordSplit(rawValue: p.string("words")) ?? .auto
        }
    }

    let settings: PerLanguage<Config>

    static let parameterSpecs: [ParameterSpec] =
        [
            ParameterSpec(
                "line_punct_thr", .number(min: 0, max: 1), default: 0.12, "fewest lines ending in terminal punctuation"),
            ParameterSpec(
                "line_punct_exclude_zero", .boolean, default: false, "keep documents where no line ends in punctuation"),
            ParameterSpec(
                "stop_chars", .stringList, default: [],
                "terminal characters (default: datatrove's TERMINAL_PUNCTUATION)"),
            ParameterSpec(
                "short_line_thr", .number(min: 0, max: 1), default: 0.67, "most lines of at most short_line_length"),
            ParameterSpec(
                "short_line_length", .integer(min: 0), default: 30, "a short line has at most this many characters"),
            ParameterSpec(
                "char_duplicates_ratio", .number(min: 0, max: 1), default: 0.01,
                "most characters in duplicate lines (FineWeb2: 0.1)"),
            ParameterSpec("new_line_ratio", .number(min: 0), default: 0.3, "most newlines per word"),
            WordSplit.parameter,
        ] + LanguageOverrides.parameters

    static let descriptor = StepDescriptor(
        id: "fineweb_quality", version: 1, levels: [.l2],
        summary: "FineWeb rules: terminal-punctuation lines, short lines, duplicate-line characters, newlines per word",
        reference: "Penedo et al. 2024 (FineWeb), §3.3; datatrove FineWebQualityFilter",
        kind: .streaming,
        parameters: parameterSpecs,
        histograms: [
            HistogramSpec(
                name: "line_punct_ratio", lower: 0, upper: 1, bins: 20, scale: .linear,
                summary: "share of lines ending in terminal punctuation")
        ],
        examples: [
            StepExample(
                #"{"id":"a","text":"no punctuation at all\nnone here either\nstill none"}"#,
                expect: .drop(rule: "line_punct_ratio")),
            StepExample(#"{"id":"b","text":"   \n\n"}"#, expect: .drop(rule: "empty")),
            StepExample(
                #"{"id":"c","text":"The press changed how ideas travelled, and books became cheap."}"#, expect: .keep),
            StepExample(
                #"{"id":"d","text":"Menu\nHome\nNews\nThe press changed how ideas travelled, and books became cheap."}"#,
                expect: .drop(rule: "short_line_ratio")),
        ],
        resources: LanguageOverrides.resources,
        make: { p in
            .streaming(FineWebQualityFilter(settings: try PerLanguage(p, specs: parameterSpecs, make: Config.init)))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let (c, language) = settings.config(for: document)
        let analysis = TextAnalysis.of(document)
        return analysis.bytes.withUnsafeBufferPointer { buf -> Decision in
            let t = PyText(buf)
            func drop(_ rule: String, _ value: Double, _ limit: Double) -> Decision {
                .drop(
                    rule: rule, detail: ["value": .number(JSONNumber(value)), "threshold": .number(JSONNumber(limit))])
            }
            let lines = t.split(t.all, byte: 0x0A).filter { !t.strip($0).isEmpty }
            if lines.isEmpty { return .drop(rule: "empty") }
            let n = Double(lines.count)
            var ending = 0
            for l in lines {
                guard let last = t.last(l) else { continue }
                let terminal = c.stopChars.map { $0.contains(last) } ?? (dt_has_prop(DT_PROP_DT_TERMINAL, last) != 0)
                if terminal { ending += 1 }
            }
            let punct = Double(ending) / n
            context.observe("line_punct_ratio", punct)
            if punct < c.linePunct && !(punct == 0 && c.linePunctExcludeZero) {
                return drop("line_punct_ratio", punct, c.linePunct)
            }
            let short = Double(lines.filter { t.length($0) <= c.shortLineLength }.count) / n
            if short > c.shortLineRatio { return drop("short_line_ratio", short, c.shortLineRatio) }
            let (_, dupChars) = GopherRepetitionFilter.duplicates(t, lines)
            let newlines = t.count(byte: 0x0A, in: t.all)
            let dup = Double(dupChars) / Double(analysis.characterCount - newlines)
            if dup > c.charDuplicates { return drop("char_dup_ratio", dup, c.charDuplicates) }
            let words = analysis.words(c.words, language: language)
            let ratio = Double(newlines) / Double(max(words.count, 1))
            if ratio > c.newLineRatio { return drop("list_ratio", ratio, c.newLineRatio) }
            return .keep
        }
    }
}
