import CDarwinText
import DarwinCore

/// C4's cleaning rules (Raffel et al. 2020, §2.2), with datatrove's `C4QualityFilter` semantics.
///
/// Works line by line: drops lines with a word over `max_word_length` characters, without terminal
/// punctuation (switch), with fewer than `min_words_per_line` words, mentioning "javascript" or cookie and
/// policy phrases; removes Wikipedia citation marks; drops the whole document on "lorem ipsum", a curly
/// bracket, or fewer than `min_num_sentences` sentences (spaCy's sentencizer) in the kept lines. The
/// document keeps only the kept lines: this is the published rule that changes text at L2.
struct C4QualityFilter: StreamingStep {
    let splitParagraph, removeCitations, filterNoTerminalPunct, filterLoremIpsum, filterJavascript: Bool
    let filterCurlyBracket, filterPolicy: Bool
    let minSentences, minWordsPerLine, maxWordLength: Int

    static let descriptor = StepDescriptor(
        id: "c4", version: 1, levels: [.l2],
        summary:
            "C4 line cleaning and document rules (terminal punctuation, javascript, policy lines, lorem ipsum, '{', sentences)",
        reference: "Raffel et al. 2020 (C4), §2.2; tensorflow_datasets c4_utils; datatrove C4QualityFilter",
        kind: .streaming,
        parameters: [
            ParameterSpec("split_paragraph", .boolean, default: true, "work on lines (true, as C4) or on sentences"),
            ParameterSpec("remove_citations", .boolean, default: true, "remove [1], [edit], [citation needed]"),
            ParameterSpec(
                "filter_no_terminal_punct", .boolean, default: true,
                "drop lines not ending in . ? ! \" ' (FineWeb turns this off)"),
            ParameterSpec(
                "min_num_sentences", .integer(min: -1), default: 5, "fewest sentences in the kept lines (-1: off)"),
            ParameterSpec("min_words_per_line", .integer(min: -1), default: 3, "drop lines with fewer words (-1: off)"),
            ParameterSpec(
                "max_word_length", .integer(min: -1), default: 1000, "drop lines with a longer word (-1: off)"),
            ParameterSpec("filter_lorem_ipsum", .boolean, default: true, "drop documents containing \"lorem ipsum\""),
            ParameterSpec("filter_javascript", .boolean, default: true, "drop lines mentioning javascript"),
            ParameterSpec("filter_curly_bracket", .boolean, default: true, "drop documents with '{' in a kept line"),
            ParameterSpec("filter_policy", .boolean, default: true, "drop lines with terms-of-use and cookie phrases"),
        ],
        histograms: [],
        examples: [
            StepExample(
                #"{"id":"a","text":"Lorem ipsum dolor sit amet. This is a sentence."}"#,
                expect: .drop(rule: "lorem_ipsum")),
            StepExample(
                #"{"id":"b","text":"One sentence here. Two sentences here."}"#, expect: .drop(rule: "too_few_sentences")
            ),
            StepExample(
                #"{"id":"c","text":"First one is here. Second one is here. Third one is here. Fourth one is here. Fifth one is here."}"#,
                expect: .keep),
            // Kept with its menu, cookie and javascript lines cut and its citation marks removed.
            StepExample(
                ExampleText.document(
                    "d",
                    """
                    Skip to main content
                    Home | Exhibitions | Visit
                    The museum opened its new wing in May.[1] It holds paintings from the early modern period. \
                    Visitors can book a guided tour at the front desk.[citation needed] Tours run every hour from ten \
                    until four. Entry to the new wing is free for children.
                    This website uses cookies to improve your experience.
                    Please enable JavaScript to see the map of the galleries.
                    """),
                expect: .keep),
            StepExample(
                ExampleText.document("e", "Short menu line\n" + ExampleText.english),
                parameters: ["filter_no_terminal_punct": false, "min_words_per_line": 4], expect: .keep),
        ],
        make: { p in
            .streaming(
                C4QualityFilter(
                    splitParagraph: p.bool("split_paragraph"), removeCitations: p.bool("remove_citations"),
                    filterNoTerminalPunct: p.bool("filter_no_terminal_punct"),
                    filterLoremIpsum: p.bool("filter_lorem_ipsum"),
                    filterJavascript: p.bool("filter_javascript"), filterCurlyBracket: p.bool("filter_curly_bracket"),
                    filterPolicy: p.bool("filter_policy"), minSentences: p.int("min_num_sentences"),
                    minWordsPerLine: p.int("min_words_per_line"), maxWordLength: p.int("max_word_length")))
        })

    static let policy = [
        "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    ]
    .map { Array($0.utf8) }
    static let lorem = Array("lorem ipsum".utf8)
    static let javascript = Array("javascript".utf8)
    static let ellipsis = Array("...".utf8)

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let analysis = TextAnalysis.of(document)
        var kept: [[UInt8]] = []
        var sentences = 0
        let verdict: Decision? = analysis.bytes.withUnsafeBufferPointer { buf -> Decision? in
            let t = PyText(buf)
            let pieces = splitParagraph ? t.splitlines(t.all) : Self.sentencePieces(t)
            for piece in pieces {
                let stripped = t.strip(piece)
                let words = t.whitespaceSplit(stripped)
                if maxWordLength != -1, words.contains(where: { t.length($0) > maxWordLength }) {
                    context.count("line_too_long_word")
                    continue
                }
                var line = Array(buf[stripped])
                if removeCitations { line = Self.removingCitations(line) }
                if filterNoTerminalPunct {
                    let last = line.last
                    let terminal = last == 0x2E || last == 0x3F || last == 0x21 || last == 0x22 || last == 0x27
                    if !terminal || line.count >= 3 && line.suffix(3).elementsEqual(Self.ellipsis) {
                        context.count("line_no_terminal_punct")
                        continue
                    }
                }
                if words.count < minWordsPerLine {
                    context.count("line_too_few_words")
                    continue
                }
                let lower = Self.lowercasedForSearch(line)
                if filterLoremIpsum && Self.contains(lower, Self.lorem) { return .drop(rule: "lorem_ipsum") }
                if filterJavascript && Self.contains(lower, Self.javascript) {
                    context.count("line_javascript")
                    continue
                }
                if filterCurlyBracket && line.contains(0x7B) { return .drop(rule: "curly_bracket") }
                if filterPolicy && Self.policy.contains(where: { Self.contains(lower, $0) }) {
                    context.count("line_policy")
                    continue
                }
                if minSentences != -1 { sentences += splitParagraph ? Self.sentenceCount(line) : 1 }
                kept.append(line)
                context.count("line_kept")
            }
            return nil
        }
        if let verdict { return verdict }
        if sentences < minSentences {
            return .drop(rule: "too_few_sentences", detail: ["sentences": .number(JSONNumber(sentences))])
        }
        var joined: [UInt8] = []
        for (i, l) in kept.enumerated() {
            if i > 0 { joined.append(splitParagraph ? 0x0A : 0x20) }
            joined += l
        }
        let newText = joined.withUnsafeBufferPointer { b -> String in
            let t = PyText(b)
            return String(decoding: b[t.strip(t.all)], as: UTF8.self)
        }
        if newText != document.text { document.text = newText }
        return .keep
    }

    /// `\[\d*]|\[edit]|\[citation needed]` removed (Unicode digits, as Python's `\d`).
    static func removingCitations(_ line: [UInt8]) -> [UInt8] {
        guard line.contains(0x5B) else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var i = 0
        let edit = Array("edit]".utf8), needed = Array("citation needed]".utf8)
        while i < line.count {
            if line[i] == 0x5B {
                // [digits]
                var j = i + 1
                while j < line.count {
                    if line[j] < 0x80 {
                        if line[j] >= 0x30 && line[j] <= 0x39 {
                            j += 1
                            continue
                        }
                        break
                    }
                    let (cp, n) = line.withUnsafeBufferPointer { PyText($0).decode(j) }
                    if dt_has_prop(DT_PROP_DECIMAL, cp) == 0 { break }
                    j += n
                }
                if j < line.count && line[j] == 0x5D {
                    i = j + 1
                    continue
                }
                if line[(i + 1)...].starts(with: edit) {
                    i += 1 + edit.count
                    continue
                }
                if line[(i + 1)...].starts(with: needed) {
                    i += 1 + needed.count
                    continue
                }
            }
            out.append(line[i])
            i += 1
        }
        return out
    }

    /// ASCII lower-casing plus the one non-ASCII character whose lower case is ASCII (U+212A KELVIN SIGN → k),
    /// enough to search for ASCII phrases as Python's `str.lower()` would find them.
    static func lowercasedForSearch(_ line: [UInt8]) -> [UInt8] {
        var out = line
        var i = 0
        while i < out.count {
            let c = out[i]
            if c >= 0x41 && c <= 0x5A { out[i] = c + 32 }
            i += 1
        }
        // U+212A is E2 84 AA.
        if let _ = out.firstIndex(of: 0xE2) {
            var r: [UInt8] = []
            var j = 0
            while j < out.count {
                if j + 2 < out.count && out[j] == 0xE2 && out[j + 1] == 0x84 && out[j + 2] == 0xAA {
                    r.append(0x6B)
                    j += 3
                } else {
                    r.append(out[j])
                    j += 1
                }
            }
            out = r
        }
        return out
    }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        hay.withUnsafeBufferPointer { PyText($0).contains(needle, in: 0..<hay.count) }
    }

    /// Sentences in a line by spaCy's sentencizer: a sentence ends after a run of sentence-final
    /// punctuation, at the next token that is not punctuation. An empty line is one piece.
    static func sentenceCount(_ line: [UInt8]) -> Int {
        max(1, sentenceStarts(TextAnalysis.tokenize(line, withSpace: true)).count)
    }

    /// Indices of the tokens that start sentences.
    static func sentenceStarts(_ tokens: [dt_token]) -> [Int] {
        guard !tokens.isEmpty else { return [] }
        var starts = [0]
        var seenPeriod = false
        for (i, tok) in tokens.enumerated() {
            let inPunct = tok.flags & TokenFlag.sentencePunctuation != 0
            let isPunct = tok.flags & TokenFlag.allPunctuation != 0
            if seenPeriod && !isPunct && !inPunct {
                if i != starts.last { starts.append(i) }
                seenPeriod = false
            } else if inPunct {
                seenPeriod = true
            }
        }
        return starts
    }

    /// The document cut into sentences as datatrove's `split_into_sentences` does: each piece runs to the
    /// end of a sentence's last token (the last piece to the end of the text).
    static func sentencePieces(_ t: PyText) -> [Range<Int>] {
        let tokens = TextAnalysis.tokenize(t.b, withSpace: true)
        let starts = sentenceStarts(tokens)
        guard !starts.isEmpty else { return [t.all] }
        var ends: [Int] = []
        for (k, s) in starts.enumerated() {
            let lastToken = (k + 1 < starts.count ? starts[k + 1] : tokens.count) - 1
            _ = s
            ends.append(Int(tokens[lastToken].end))
        }
        var pieces: [Range<Int>] = []
        var start = 0
        for (k, e) in ends.enumerated() {
            let end = k == ends.count - 1 ? t.b.count : e
            pieces.append(start..<max(start, end))
            start = end
        }
        return pieces
    }
}
