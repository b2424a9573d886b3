import DarwinCore
import DarwinInference
import Foundation

/// L5 question–answer synthesis (daVinci's Darwin-Science-Book QA): a model reads each chunk of a document and
/// writes self-contained question–answer pairs whose full answer is in the text (answer first, no references
/// to "the text" or its figures, final answers in `\boxed{}`), or `[NO QA]`. A pair is refused when its question
/// points at the text instead of stating it, repeats an earlier question of the document, or names a name or
/// URL its passage does not have (the drift check of `refine`, numbers aside: an answer may work one out).
///
/// Each pair becomes a new document after its parent (`Question: …\nAnswer: …`, `metadata.qa` with the question,
/// the answer, the final answer and the chunk), id `PARENT#STAGE:qa_synthesis:N`; `keep_parent: false` puts the
/// pairs in its place. A pair whose question points at the text instead of stating it is refused. With
/// `verify: k`, rejection sampling: the question alone is answered k more times (`verify_temperature`, seeds
/// seed+1…seed+k) and the pair kept only if at least `min_agree` of those final answers equal its own; a pair
/// without a `\boxed{}` final answer cannot be checked and is refused.
struct QASynthesizer: BatchStep {
    let settings: ModelSettings
    let template: PromptTemplate
    let answerTemplate: PromptTemplate
    let sampling: Sampling
    let answerSampling: Sampling
    let chunkChars: Int
    let verify: Int
    let minAgree: Int
    let keepParent: Bool

    static let pairs = HistogramSpec(
        name: "pairs", lower: 0, upper: 32, bins: 32, scale: .linear, summary: "pairs kept per document")

    static let descriptor = StepDescriptor(
        id: "qa_synthesis", version: 1, levels: [.l5],
        summary:
            "a model writes self-contained question-answer pairs from each chunk (new documents); optional rejection sampling keeps pairs whose final answer is reproduced",
        reference:
            "daVinci-LLM L5 QA (answer first, \\boxed{} final answers, [NO QA]); rejection sampling of the -RS sources",
        kind: .batched,
        parameters: ModelSettings.parameters(parallel: 8, context: 2048) + [
            BatchParameters.batchSize(default: 8), BatchParameters.inFlight(default: 2),
            ParameterSpec(
                "prompt", .string, default: "qa-synthesis.yaml",
                "prompt file for the pairs (system, user with {{text}}; Mustache variables max_pairs and those given)"),
            ParameterSpec(
                "answer_prompt", .string, default: "qa-answer.yaml",
                "prompt file that answers a question alone (rejection sampling)"),
            ParameterSpec(
                "variables", .json, default: .null, "values for the prompts' other Mustache variables (a mapping)"),
            ParameterSpec(
                "chunk_chars", .integer(min: 64, max: 1 << 30), default: 2048,
                "most characters of a document shown at once (each chunk gets its own pairs)"),
            ParameterSpec("max_pairs", .integer(min: 1, max: 16), default: 3, "most pairs per chunk"),
            ParameterSpec(
                "max_tokens", .integer(min: 16, max: 1 << 20), default: 768, "most tokens of the pairs of a chunk"),
            ParameterSpec(
                "grammar", .boolean, default: true,
                "hold the answer to the block format with a GBNF grammar (llama, llama-server)"),
        ] + ModelSettings.sampling(temperature: 0) + [
            ParameterSpec(
                "verify", .integer(min: 0, max: 16), default: 0,
                "rejection sampling: answers generated for each question alone (0: off)"),
            ParameterSpec(
                "min_agree", .integer(min: 0, max: 16), default: 0,
                "answers that must give the pair's final answer (0: all of them)"),
            ParameterSpec(
                "verify_temperature", .number(min: 0, max: 5), default: 0.7, "temperature of the regenerated answers"),
            ParameterSpec(
                "answer_tokens", .integer(min: 16, max: 1 << 20), default: 512, "most tokens of a regenerated answer"),
            ParameterSpec(
                "keep_parent", .boolean, default: true,
                "keep the document and add its pairs after it (false: the pairs replace it)"),
        ],
        histograms: [pairs, InferenceCounters.latency],
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english),
                parameters: [
                    "model": "SmolLM2-135M-Instruct.Q4_1.gguf", "parallel": 2, "context": 1024, "cache": "none",
                    "max_pairs": 1, "max_tokens": 160,
                ],
                expect: .add)
        ],
        resources: { p in
            try ModelSettings.resources(p) + [PromptTemplate.resource(p), PromptTemplate.resource(p, "answer_prompt")]
        },
        check: { p in
            try ModelSettings.check(p)
            _ = try QASynthesizer.templates(p)
            guard p.int("min_agree") <= p.int("verify") else {
                throw ParameterError(
                    "min_agree", "min_agree (\(p.int("min_agree"))) is above verify (\(p.int("verify")))")
            }
        },
        make: { p in .batched(try QASynthesizer(p)) })

    static func templates(_ p: Parameters) throws -> (PromptTemplate, PromptTemplate) {
        let variables: [String: Any] = ["max_pairs": p.int("max_pairs")]
        return (
            try PromptTemplate.load(p, variables: variables),
            try PromptTemplate.load(p, "answer_prompt", variables: variables)
        )
    }

    /// The answer's shape: `[NO QA]`, or 1 to `maxPairs` blocks.
    static func grammar(maxPairs: Int) -> String {
        """
        root ::= "[NO QA]" | qa{1,\(maxPairs)}
        qa ::= "---BEGIN QA---\\nQuestion: " line "\\nAnswer: " line ("\\n" cont?)* "\\n---END QA---\\n"
        line ::= [^\\n]+
        cont ::= ([^-\\n] | "-" [^-\\n]) [^\\n]*
        """
    }

    init(_ p: Parameters) throws {
        settings = try ModelSettings(p, prefixTokens: 1024)
        (template, answerTemplate) = try Self.templates(p)
        var s = Sampling()
        s.temperature = p.double("temperature")
        s.seed = UInt64(p.int("seed"))
        s.maxTokens = p.int("max_tokens")
        s.grammar = p.bool("grammar") ? Self.grammar(maxPairs: p.int("max_pairs")) : nil
        sampling = s
        var a = Sampling()
        a.temperature = p.double("verify_temperature")
        a.seed = UInt64(p.int("seed"))
        a.maxTokens = p.int("answer_tokens")
        answerSampling = a
        chunkChars = p.int("chunk_chars")
        verify = p.int("verify")
        minAgree = p.int("min_agree") == 0 ? p.int("verify") : p.int("min_agree")
        keepParent = p.bool("keep_parent")
    }

    /// One pair read from an answer.
    struct Pair: Sendable, Equatable {
        var question: String
        var answer: String
        var chunk = 0
        var final: String? { QASynthesizer.boxed(answer) }
    }

    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome] {
        let calls = try settings.calls(context, templateHash: template.hash)
        var items: [(doc: Int, chunk: Int, text: String)] = []
        for (d, document) in batch.enumerated() {
            for (c, piece) in ChunkSplitter.split(document.text, maxChars: chunkChars).enumerated() {
                items.append((d, c, piece))
            }
        }
        let (results, report) = try await calls.complete(
            items.map { template.request(text: $0.text) }, sampling: sampling)
        InferenceCounters.record(report, documents: items.count, into: &context)
        var pairs = Array(repeating: [Pair](), count: batch.count)
        var errors = Array(repeating: String?.none, count: batch.count)
        for (item, result) in zip(items, results) {
            switch result {
            case .success(let answer):
                context.count("answer_tokens", by: answer.completionTokens)
                let (found, refused) = Self.parse(answer.text)
                context.count("qa.made", by: found.count + refused)
                if refused > 0 { context.count("qa.refused_references", by: refused) }
                if found.isEmpty && refused == 0 { context.count("qa.none") }
                for var pair in found {
                    pair.chunk = item.chunk
                    if pairs[item.doc].contains(where: { $0.question.lowercased() == pair.question.lowercased() }) {
                        context.count("qa.refused_duplicate")
                    } else if !Self.ungrounded(pair, in: item.text).isEmpty {
                        context.count("qa.refused_drift")
                    } else {
                        pairs[item.doc].append(pair)
                    }
                }
            case .failure(let f) where f.reason == "length":
                context.count("answer_tokens", by: f.completionTokens)
                context.count("qa.cut_off")
            case .failure(let f):
                if errors[item.doc] == nil { errors[item.doc] = "chunk \(item.chunk): \(f.reason): \(f.message)" }
            }
        }
        var agreement = pairs.map { Array(repeating: Int?.none, count: $0.count) }
        if verify > 0 {
            try await checkAnswers(&pairs, &agreement, context: &context)
        }
        var outcomes: [BatchOutcome] = []
        for (d, document) in batch.enumerated() {
            if let e = errors[d] {
                outcomes.append(.failed(document, "qa_synthesis: \(e)"))
                continue
            }
            var made: [Document] = []
            for (i, pair) in pairs[d].enumerated() {
                if verify > 0 && (agreement[d][i] ?? 0) < minAgree { continue }
                var qa = Document.derived(
                    from: document, context: context, index: made.count,
                    text: "Question: \(pair.question)\nAnswer: \(pair.answer)")
                var info = JSONObject([
                    (key: "question", value: .string(pair.question)), (key: "answer", value: .string(pair.answer)),
                ])
                if let f = pair.final { info["final_answer"] = .string(f) }
                info["chunk"] = .number(JSONNumber(pair.chunk))
                if let a = agreement[d][i] { info["agreement"] = .string("\(a)/\(verify)") }
                qa.setValue(.object(info), atPath: "metadata.qa")
                made.append(qa)
            }
            context.count("qa.kept", by: made.count)
            context.observe(Self.pairs, Double(made.count))
            outcomes.append(
                BatchOutcome(document: document, decision: keepParent ? .add(made) : .replace(made)))
        }
        return outcomes
    }

    /// Rejection sampling: each question with a final answer is answered `verify` more times.
    private func checkAnswers(
        _ pairs: inout [[Pair]], _ agreement: inout [[Int?]], context: inout StepContext
    ) async throws {
        var asked: [(doc: Int, pair: Int)] = []
        for (d, list) in pairs.enumerated() {
            for (i, p) in list.enumerated() {
                if p.final == nil {
                    context.count("qa.unverifiable")
                    agreement[d][i] = nil
                } else {
                    asked.append((d, i))
                    agreement[d][i] = 0
                }
            }
        }
        guard !asked.isEmpty else { return }
        let calls = try settings.calls(context, templateHash: answerTemplate.hash)
        let requests = asked.map { answerTemplate.request(text: pairs[$0.doc][$0.pair].question) }
        for k in 1...verify {
            var s = answerSampling
            s.seed = answerSampling.seed &+ UInt64(k)
            let (results, report) = try await calls.complete(requests, sampling: s)
            InferenceCounters.record(report, documents: requests.count, into: &context)
            for (item, result) in zip(asked, results) {
                guard case .success(let answer) = result, let mine = pairs[item.doc][item.pair].final,
                    let theirs = Self.boxed(answer.text)
                else { continue }
                if Self.sameAnswer(mine, theirs) {
                    agreement[item.doc][item.pair] = (agreement[item.doc][item.pair] ?? 0) + 1
                }
            }
        }
        for (d, i) in asked {
            if (agreement[d][i] ?? 0) >= minAgree {
                context.count("qa.verified")
            } else {
                context.count("qa.disagreed")
            }
        }
    }

    // MARK: - Reading answers

    /// The pairs in an answer, and how many were refused because the question points at the text.
    static func parse(_ text: String) -> (pairs: [Pair], refused: Int) {
        var pairs: [Pair] = []
        var refused = 0
        let pattern = /---BEGIN QA---\s*Question:\s*(?<q>.+?)\s*\n\s*Answer:\s*(?<a>.+?)\s*---END QA---/
            .dotMatchesNewlines()
        for m in text.matches(of: pattern) {
            let q = String(m.output.q).trimmingCharacters(in: .whitespacesAndNewlines)
            let a = String(m.output.a).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !q.isEmpty, !a.isEmpty else { continue }
            if pointsAtText(q) {
                refused += 1
                continue
            }
            pairs.append(Pair(question: q, answer: a))
        }
        return (pairs, refused)
    }

    /// Names and URLs of a pair that its passage does not have (numbers may be worked out; names may not be
    /// made up): a pair whose answer is not in the passage.
    static func ungrounded(_ pair: Pair, in passage: String) -> [String] {
        RewriteGuards.drift(Substring(pair.question + "\n" + pair.answer), input: passage).filter { item in
            !(item.first?.isNumber ?? false) && !item.hasPrefix("\\") && !item.hasPrefix("[")
        }
    }

    /// A question that is not self-contained: it speaks of "the text", "the passage", a numbered figure…
    static func pointsAtText(_ question: String) -> Bool {
        let q = question.lowercased()
        let phrases = [
            "the text", "the passage", "the article", "the document", "the excerpt", "the author", "this text",
            "this passage", "above", "the given",
        ]
        if phrases.contains(where: { q.contains($0) }) { return true }
        return q.firstMatch(of: /\b(?:figure|fig\.|table|theorem|equation|eq\.)\s*\d/) != nil
    }

    /// The contents of the last `\boxed{…}` (braces balanced), if any.
    static func boxed(_ text: String) -> String? {
        guard let start = text.ranges(of: "\\boxed{").last else { return nil }
        var depth = 1
        var i = start.upperBound
        while i < text.endIndex {
            let c = text[i]
            if c == "{" { depth += 1 }
            if c == "}" {
                depth -= 1
                if depth == 0 { return String(text[start.upperBound..<i]) }
            }
            i = text.index(after: i)
        }
        return nil
    }

    /// Two final answers agree: equal without spaces, `$`, `\left`/`\right`, `\,` and a trailing period, or
    /// equal as numbers.
    static func sameAnswer(_ a: String, _ b: String) -> Bool {
        func norm(_ s: String) -> String {
            var t = s.replacingOccurrences(of: "\\left", with: "").replacingOccurrences(of: "\\right", with: "")
            t = t.replacingOccurrences(of: "\\,", with: "").replacingOccurrences(of: "\\!", with: "")
            t = t.replacingOccurrences(of: "\\text", with: "").replacingOccurrences(of: "\\mathrm", with: "")
            t = String(t.filter { !$0.isWhitespace && $0 != "$" && $0 != "{" && $0 != "}" })
            while t.hasSuffix(".") { t.removeLast() }
            return t.lowercased()
        }
        let x = norm(a)
        let y = norm(b)
        if x == y { return true }
        if let u = Double(x.replacingOccurrences(of: ",", with: "")),
            let v = Double(y.replacingOccurrences(of: ",", with: ""))
        {
            return abs(u - v) <= 1e-9 * max(1, abs(u), abs(v))
        }
        return false
    }
}
