import DarwinCore

/// Drops documents whose text is shorter than a minimum (or longer than a maximum), in characters,
/// UTF-8 bytes or whitespace-separated words.
///
/// Length filters are the first rule of most published pipelines: Darwin-Science drops documents
/// under 8 KB at L2 (Data Darwinism Part I, §3.3); Gopher keeps 50 to 100,000 words (Rae et al. 2021).
/// Characters are Unicode code points. Words are runs of non-whitespace, which undercounts text
/// written without spaces (Chinese, Japanese, Thai): prefer `chars` or `bytes` for such text.
struct MinLengthFilter: StreamingStep {
    enum Unit: String { case chars, bytes, words }

    let minimum: Int
    let maximum: Int?
    let unit: Unit

    static let descriptor = StepDescriptor(
        id: "min_length", version: 1, levels: [.l2],
        summary: "drop documents shorter than `min` (or longer than `max`) characters, bytes or words",
        reference: "length rules of Gopher (Rae et al. 2021) and Darwin-Science's 8 KB minimum (DD §3.3)",
        kind: .streaming,
        parameters: [
            ParameterSpec("min", .integer(min: 0), default: 1, "shortest length kept"),
            ParameterSpec("max", .integer(min: 0), default: .null, "longest length kept (none by default)"),
            ParameterSpec(
                "unit", .choice(["chars", "bytes", "words"]), default: "chars",
                "what is counted: Unicode code points, UTF-8 bytes, or whitespace-separated words"),
        ],
        histograms: [
            HistogramSpec(
                name: "length", lower: 1, upper: 1e8, bins: 32, scale: .log,
                summary: "document length in the chosen unit")
        ],
        examples: [
            StepExample(#"{"id":"a","text":"hello world"}"#, parameters: ["min": 5], expect: .keep),
            StepExample(#"{"id":"b","text":"hi"}"#, parameters: ["min": 5], expect: .drop(rule: "too_short")),
            StepExample(
                #"{"id":"c","text":"one two three"}"#, parameters: ["min": 1, "max": 2, "unit": "words"],
                expect: .drop(rule: "too_long")),
            StepExample(#"{"id":"d","text":"日本語の文章"}"#, parameters: ["min": 6, "unit": "chars"], expect: .keep),
            StepExample(
                #"{"id":"e","text":"日本語"}"#, parameters: ["min": 10, "unit": "bytes"],
                expect: .drop(rule: "too_short")),
        ],
        make: { p in
            let maximum = p.optionalInt("max")
            if let maximum, maximum < p.int("min") {
                throw ParameterError("max", "max (\(maximum)) is below min (\(p.int("min")))")
            }
            return .streaming(
                MinLengthFilter(
                    minimum: p.int("min"), maximum: maximum, unit: Unit(rawValue: p.string("unit")) ?? .chars))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let length: Int
        switch unit {
        case .bytes: length = document.textUTF8Count
        case .chars: length = document.text.unicodeScalars.count
        case .words: length = Self.wordCount(document.text)
        }
        context.observe("length", Double(length))
        if length < minimum {
            return .drop(
                rule: "too_short", detail: ["length": .number(JSONNumber(length)), "min": .number(JSONNumber(minimum))])
        }
        if let maximum, length > maximum {
            return .drop(
                rule: "too_long", detail: ["length": .number(JSONNumber(length)), "max": .number(JSONNumber(maximum))])
        }
        return .keep
    }

    /// Runs of non-whitespace code points.
    static func wordCount(_ text: String) -> Int {
        var count = 0
        var inWord = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                inWord = false
            } else if !inWord {
                inWord = true
                count += 1
            }
        }
        return count
    }
}
