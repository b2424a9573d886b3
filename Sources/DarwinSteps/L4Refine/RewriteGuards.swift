import Foundation

/// The checks an answer of a rewriting model must pass before it replaces a chunk; each returns nil when the
/// answer passes, else what it found.
enum RewriteGuards {
    // MARK: - Answer tags

    /// The text between `<TAG>` and `</TAG>`, or nil when a tag is missing; with `closeOptional`, an answer
    /// that ends without the closing tag counts to its end (the model stopped there: an answer cut off at
    /// `max_tokens` never reaches a judge).
    static func tagged(_ answer: String, tag: String, closeOptional: Bool = false) -> Substring? {
        guard let open = answer.range(of: "<\(tag)>") else { return nil }
        guard let close = answer.range(of: "</\(tag)>", range: open.upperBound..<answer.endIndex) else {
            return closeOptional ? answer[open.upperBound...] : nil
        }
        return answer[open.upperBound..<close.lowerBound]
    }

    // MARK: - Runaway repetition

    /// A line or an 8-word sequence that the answer repeats (at least 3 times) more often than the input does:
    /// the loop a model falls into before it reaches its length limit.
    static func repetition(_ output: Substring, input: String) -> String? {
        func lines(_ s: Substring) -> [Substring: Int] {
            var counts: [Substring: Int] = [:]
            for l in s.split(separator: "\n") {
                let t = l.trimmingCharacters(in: .whitespaces)
                if t.count >= 12 { counts[Substring(t), default: 0] += 1 }
            }
            return counts
        }
        let inputLines = lines(Substring(input))
        for (line, n) in lines(output) where n >= 3 && n > (inputLines[line] ?? 0) {
            return "a line \(n) times: \(line.prefix(60))"
        }
        func grams(_ s: Substring) -> [String: Int] {
            let w = s.split(whereSeparator: { $0.isWhitespace })
            var counts: [String: Int] = [:]
            guard w.count >= 8 else { return counts }
            for i in 0...(w.count - 8) { counts[w[i..<(i + 8)].joined(separator: " "), default: 0] += 1 }
            return counts
        }
        let inputGrams = grams(Substring(input))
        if let (gram, n) = grams(output).filter({ $0.value >= 3 && $0.value > (inputGrams[$0.key] ?? 0) })
            .max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })
        {
            return "8 words \(n) times: \(gram.prefix(60))"
        }
        return nil
    }

    // MARK: - Drift

    /// What the answer states that the input does not: numbers, URLs, citations, LaTeX commands and names
    /// (capitalised words that do not start a sentence, acronyms). A faithful clean-up only removes and
    /// repairs, so every such item of its output is somewhere in its input.
    static func drift(_ output: Substring, input: String) -> [String] {
        var found: [String] = []
        func add(_ item: String) {
            if !found.contains(item) { found.append(item) }
        }
        let squeezedInput = input.filter { !$0.isWhitespace }
        let lowerInput = input.lowercased()
        let text = String(output)
        for m in text.matches(of: /(?:https?:\/\/|www\.)[^\s)\]>"]+/) where !input.contains(m.output) {
            add(String(m.output))
        }
        for m in text.matches(of: /\d+(?:[.,]\d+)*/) {
            let number = String(m.output)
            if !input.contains(number) && !squeezedInput.contains(number) { add(number) }
        }
        for m in text.matches(of: /\[\d+(?:\s*[,–-]\s*\d+)*\]/) {
            let citation = String(m.output).filter { !$0.isWhitespace }
            if !squeezedInput.contains(citation) { add(String(m.output)) }
        }
        for m in text.matches(of: /\\[A-Za-z]+/) where !input.contains(m.output) { add(String(m.output)) }
        // Names: a capitalised word not at the start of a sentence or line, or an acronym.
        for line in text.split(separator: "\n") {
            var sentenceStart = true
            for token in line.split(whereSeparator: { $0.isWhitespace }) {
                let word = token.trimmingCharacters(in: .punctuationCharacters.union(.symbols))
                let startsSentence = sentenceStart
                sentenceStart = token.last.map { ".!?:;".contains($0) } ?? false
                guard let first = word.unicodeScalars.first, word.count >= 2,
                    first.properties.isUppercase, !word.contains(where: \.isNumber)
                else { continue }
                let acronym = word.allSatisfy { $0.isUppercase }
                if startsSentence && !acronym { continue }
                if !lowerInput.contains(word.lowercased()) { add(word) }
            }
        }
        return found
    }

    // MARK: - Structure kept (complete)

    /// Markdown headers of the input missing from the output (as lines, compared without surrounding spaces).
    static func missingHeaders(_ output: Substring, input: String) -> [String] {
        let outLines = Set(output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        return input.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.firstMatch(of: /^#{1,6}\s+\S/) != nil && !outLines.contains($0) }
    }

    /// Figure, table, equation and theorem labels, `\label{…}`, `\tag{…}` and trailing equation numbers of the
    /// input missing from the output.
    static func missingLabels(_ output: Substring, input: String) -> [String] {
        var labels: [String] = []
        let patterns: [Regex<Substring>] = [
            /(?:Figure|Fig\.|Table|Equation|Eq\.|Theorem|Lemma|Definition|Proposition|Corollary)\s*\d+(?:\.\d+)*/,
            /\\(?:label|tag|ref|eqref)\{[^}]*\}/,
        ]
        for p in patterns { for m in input.matches(of: p) { labels.append(String(m.output)) } }
        for line in input.split(separator: "\n") {
            if let m = line.firstMatch(of: /\(\d+(?:\.\d+)*[a-z]?\)\s*$/) {
                labels.append(m.output.trimmingCharacters(in: .whitespaces))
            }
        }
        let squeezed = output.filter { !$0.isWhitespace }
        var missing: [String] = []
        for l in labels where !squeezed.contains(l.filter { !$0.isWhitespace }) && !missing.contains(l) {
            missing.append(l)
        }
        return missing
    }

    /// Words of an answer that speaks about the task instead of doing it ("Here is the rewritten chunk").
    static func metaCommentary(_ output: Substring) -> String? {
        let head = output.prefix(200).lowercased()
        let openers = [
            "here is", "here's", "sure", "certainly", "below is", "i have", "i've", "okay,", "in this chunk",
            "this chunk", "the following is", "rewritten",
        ]
        if let o = openers.first(where: { head.hasPrefix($0) }) { return "opens with \"\(o)\"" }
        let lower = output.lowercased()
        let phrases = [
            "the original text", "the original chunk", "the original paper", "this chunk", "the chunk above",
        ]
        if let p = phrases.first(where: { lower.contains($0) }) { return "mentions \"\(p)\"" }
        return nil
    }
}
