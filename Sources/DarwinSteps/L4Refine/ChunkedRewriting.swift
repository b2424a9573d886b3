import DarwinCore
import DarwinInference
import Foundation

/// What a rewriting step made of one chunk's answer.
enum ChunkVerdict: Sendable, Equatable {
    /// The chunk's new text ("" deletes it) and what happened (`cleaned`, `unchanged`, `deleted`, `edited`,
    /// `expanded`, …).
    case done(String, outcome: String)
    /// A guard refused the answer: the chunk keeps its original text; `guard` names the guard, `detail` says why.
    case guarded(String, detail: String)

    var isDone: Bool {
        if case .done = self { return true }
        return false
    }
}

/// The model, prompt, chunking and document rules shared by the steps that rewrite documents chunk by chunk
/// (`refine`, `complete`).
///
/// A document is cut into chunks (by characters, or by the model's own tokens) at paragraph, line or sentence
/// boundaries, never inside a code block or a display formula (``ChunkSplitter``); every chunk is one request,
/// and the chunks of a batch's documents decode together. Each answer goes through the step's judge: a
/// verdict that the answer is good, or the guard that refused it (the chunk then keeps its original text). A
/// document whose share of good chunks is below `min_success` gets its refused chunks asked again, with the
/// next seed and at least `retry_temperature`, up to `retries` times; if it is still below, it is rejected
/// with the reasons. A model call that fails (not a guard) sends the document to `_errors/`.
///
/// The chunks are reassembled in order into the document; `darwin.<step>` records the chunk count, the
/// chunks that kept their original text and why, and the attempts.
struct ChunkedRewriting: Sendable {
    let step: String
    let settings: ModelSettings
    let template: PromptTemplate
    let sampling: Sampling
    let chunkChars: Int
    let chunkTokens: Int
    let minSuccess: Double
    let retries: Int
    let retryTemperature: Double
    /// A document left with at most this many words, or at most `minShareLeft` of its words, is dropped
    /// (nil: no such rule).
    let minWordsLeft: Int?
    let minShareLeft: Double
    let ratio: HistogramSpec

    /// The parameters every chunked rewriting step has.
    static func parameters(
        chunkChars: Int, chunkTokens: Int, maxTokens: Int, context: Int, temperature: Double, prompt: String,
        promptNote: String = ""
    ) -> [ParameterSpec] {
        ModelSettings.parameters(parallel: 8, context: context) + [
            BatchParameters.batchSize(default: 8), BatchParameters.inFlight(default: 2),
            ParameterSpec(
                "prompt", .string, default: .string(prompt),
                "prompt file (system, user with {{text}}; Mustache): a path, or a name in configs/prompts" + promptNote),
            ParameterSpec(
                "variables", .json, default: .null,
                "values for the prompt's other Mustache variables (a mapping); the document always goes to {{text}}"),
            ParameterSpec(
                "chunk_chars", .integer(min: 0, max: 1 << 30), default: .number(JSONNumber(chunkChars)),
                "most characters in a chunk (0: cut by chunk_tokens)"),
            ParameterSpec(
                "chunk_tokens", .integer(min: 0, max: 1 << 20), default: .number(JSONNumber(chunkTokens)),
                "most tokens (the model's own) in a chunk, when chunk_chars is 0; llama backend only"),
            ParameterSpec(
                "max_tokens", .integer(min: 1, max: 1 << 20), default: .number(JSONNumber(maxTokens)),
                "most tokens of one answer; an answer cut there is refused (guard: length)"),
        ] + ModelSettings.sampling(temperature: .number(JSONNumber(temperature))) + [
            ParameterSpec(
                "repeat_penalty", .number(min: 0.5, max: 3), default: 1.0,
                "penalty on tokens among the last 64 generated (1: none; about 1.2 keeps small models out of loops)"),
            ParameterSpec(
                "min_success", .number(min: 0, max: 1), default: 0.95,
                "share of a document's chunks that must pass the guards, or the document is retried, then rejected"),
            ParameterSpec(
                "retries", .integer(min: 0, max: 20), default: 2,
                "times a document below min_success has its refused chunks asked again, each with the next seed"),
            ParameterSpec(
                "retry_temperature", .number(min: 0, max: 5), default: 0.7,
                "lowest temperature of a retry (another seed changes nothing when decoding is greedy)"),
        ]
    }

    /// Checks the chunking parameters against the backend.
    static func check(_ p: Parameters) throws {
        guard p.int("chunk_chars") > 0 || p.int("chunk_tokens") > 0 else {
            throw ParameterError("chunk_chars", "chunk_chars and chunk_tokens are both 0: set one")
        }
        if p.int("chunk_chars") == 0 && p.string("backend") == "openai" {
            throw ParameterError(
                "chunk_tokens",
                "chunk_tokens needs the model's tokenizer, which only the llama backend has in the process; use chunk_chars"
            )
        }
    }

    /// - Parameter prompt: the prompt file when the step picks it (refine, by mode), else the `prompt` parameter's.
    init(
        step: String, _ p: Parameters, prompt: String? = nil, prefixTokens: Int = 1024, minWordsLeft: Int?,
        ratio: HistogramSpec, variables: [String: Any] = [:], grammar: String? = nil
    ) throws {
        try Self.check(p)
        self.step = step
        settings = try ModelSettings(p, prefixTokens: prefixTokens)
        template = try PromptTemplate.load(p, file: prompt, variables: variables)
        var s = Sampling()
        s.temperature = p.double("temperature")
        s.seed = UInt64(p.int("seed"))
        s.maxTokens = p.int("max_tokens")
        s.repeatPenalty = p.double("repeat_penalty")
        s.grammar = grammar
        sampling = s
        chunkChars = p.int("chunk_chars")
        chunkTokens = p.int("chunk_tokens")
        minSuccess = p.double("min_success")
        retries = p.int("retries")
        retryTemperature = p.double("retry_temperature")
        self.minWordsLeft = minWordsLeft
        minShareLeft = 0.05
        self.ratio = ratio
    }

    /// The prompt file and the model, the resources of the stage.
    static func resources(_ p: Parameters, prompt: String? = nil) throws -> [ResourceReference] {
        try ModelSettings.resources(p) + [PromptTemplate.resource(p, file: prompt)]
    }

    /// A text cut into chunks.
    func chunks(_ text: String, tokenizer: (any TokenCounting)?) -> [String] {
        if chunkChars > 0 { return ChunkSplitter.split(text, maxChars: chunkChars) }
        guard let tokenizer else { return ChunkSplitter.split(text, maxChars: chunkTokens * 4) }
        return ChunkSplitter.split(text, maxTokens: chunkTokens) { tokenizer.prefixBytes($0, tokens: $1) }
    }

    /// Rewrites a batch: `show` turns a chunk into what the model reads, `judge` an answer into a verdict.
    func run(
        _ batch: [Document], context: inout StepContext, show: (String) -> String,
        judge: (_ chunk: String, _ answer: String) -> ChunkVerdict
    ) async throws -> [BatchOutcome] {
        let calls = try settings.calls(context, templateHash: template.hash)
        return try await run(batch, calls: calls, context: &context, show: show, judge: judge)
    }

    /// ``run(_:context:show:judge:)`` with the model calls given.
    func run(
        _ batch: [Document], calls: CachedInference, context: inout StepContext, show: (String) -> String,
        judge: (_ chunk: String, _ answer: String) -> ChunkVerdict
    ) async throws -> [BatchOutcome] {
        let tokenizer = calls.backend.tokenizer
        let pieces = batch.map { chunks($0.text, tokenizer: tokenizer) }
        var verdicts = pieces.map { Array(repeating: ChunkVerdict?.none, count: $0.count) }
        var errors = Array(repeating: String?.none, count: batch.count)
        var attempts = Array(repeating: 1, count: batch.count)

        if let tokenizer {
            context.count("text_tokens", by: pieces.joined().reduce(0) { $0 + tokenizer.tokenCount($1) })
        }
        context.count("chunks", by: pieces.reduce(0) { $0 + $1.count })

        func ask(_ items: [(doc: Int, chunk: Int)], _ sampling: Sampling, _ context: inout StepContext) async throws {
            guard !items.isEmpty else { return }
            let requests = items.map { template.request(text: show(pieces[$0.doc][$0.chunk])) }
            let (results, report) = try await calls.complete(requests, sampling: sampling)
            InferenceCounters.record(report, documents: requests.count, into: &context)
            for (item, result) in zip(items, results) {
                let chunk = pieces[item.doc][item.chunk]
                switch result {
                case .success(let answer):
                    context.count("answer_tokens", by: answer.completionTokens)
                    verdicts[item.doc][item.chunk] = judge(chunk, answer.text)
                case .failure(let f) where f.reason == "length":
                    context.count("answer_tokens", by: f.completionTokens)
                    verdicts[item.doc][item.chunk] = .guarded("length", detail: "cut at max_tokens")
                case .failure(let f):
                    if errors[item.doc] == nil { errors[item.doc] = "chunk \(item.chunk): \(f.reason): \(f.message)" }
                }
            }
        }

        var all: [(doc: Int, chunk: Int)] = []
        for (d, list) in pieces.enumerated() { for c in list.indices { all.append((d, c)) } }
        try await ask(all, sampling, &context)

        func passes(_ d: Int) -> Bool {
            let good = verdicts[d].filter { $0?.isDone == true }.count
            return Self.enough(good, of: verdicts[d].count, minSuccess: minSuccess)
        }
        if retries > 0 {
            for attempt in 1...retries {
                let again = batch.indices.filter { errors[$0] == nil && !passes($0) }
                guard !again.isEmpty else { break }
                var items: [(doc: Int, chunk: Int)] = []
                for d in again {
                    attempts[d] += 1
                    for (c, v) in verdicts[d].enumerated() where v?.isDone != true { items.append((d, c)) }
                }
                context.count("retried_chunks", by: items.count)
                var s = sampling
                s.seed = sampling.seed &+ UInt64(attempt)
                s.temperature = max(sampling.temperature, retryTemperature)
                try await ask(items, s, &context)
            }
        }

        var outcomes: [BatchOutcome] = []
        outcomes.reserveCapacity(batch.count)
        for (d, document) in batch.enumerated() {
            if let error = errors[d] {
                outcomes.append(.failed(document, "\(step): \(error)"))
                continue
            }
            outcomes.append(
                decide(
                    document, pieces[d], verdicts[d].map { $0 ?? .guarded("error", detail: "") },
                    attempts: attempts[d], context: &context))
        }
        return outcomes
    }

    private func decide(
        _ document: Document, _ chunks: [String], _ verdicts: [ChunkVerdict], attempts: Int,
        context: inout StepContext
    ) -> BatchOutcome {
        var d = document
        if attempts > 1 { context.count("documents_retried") }
        var refused: [(Int, String, String)] = []
        var text = ""
        for (i, (chunk, verdict)) in zip(chunks, verdicts).enumerated() {
            switch verdict {
            case .done(let out, let outcome):
                context.count("chunk." + outcome)
                text += out
            case .guarded(let name, let detail):
                context.count("chunk.kept_original")
                context.count("guard." + name)
                refused.append((i, name, detail))
                text += chunk
            }
        }
        var info = JSONObject([(key: "chunks", value: .number(JSONNumber(chunks.count)))])
        if attempts > 1 { info["attempts"] = .number(JSONNumber(attempts)) }
        if !refused.isEmpty {
            info["kept_original"] = .array(
                refused.map { i, name, detail in
                    var o = JSONObject([
                        (key: "chunk", value: .number(JSONNumber(i))), (key: "guard", value: .string(name)),
                    ])
                    if !detail.isEmpty { o["detail"] = .string(String(detail.prefix(200))) }
                    return .object(o)
                })
        }
        // A chunk made by `chunk`: its document is judged when join_chunks puts it back together, by the rules
        // recorded here.
        let isChunk = ChunkJoiner.chunkInfo(document) != nil
        let wordsBefore = MinLengthFilter.wordCount(document.text)
        let wordsAfter = MinLengthFilter.wordCount(text)
        if isChunk {
            info["words_before"] = .number(JSONNumber(wordsBefore))
            info["words_after"] = .number(JSONNumber(wordsAfter))
            var rules = JSONObject([(key: "min_success", value: .number(JSONNumber(minSuccess)))])
            if let minWordsLeft {
                rules["min_words_left"] = .number(JSONNumber(minWordsLeft))
                rules["min_share_left"] = .number(JSONNumber(minShareLeft))
            }
            info["rules"] = .object(rules)
        }
        d.setValue(.object(info), atPath: "darwin." + step)
        let verdict =
            isChunk
            ? nil
            : Self.verdict(
                chunks: chunks.count, refused: refused.map { ($0.1) }, attempts: attempts, minSuccess: minSuccess,
                wordsBefore: wordsBefore, wordsAfter: wordsAfter,
                minWordsLeft: minWordsLeft, minShareLeft: minShareLeft)
        if let (rule, detail) = verdict {
            return BatchOutcome(document: d, decision: .drop(rule: rule, detail: .string(detail)))
        }
        let inChars = document.text.unicodeScalars.count
        if inChars > 0 { context.observe(ratio, Double(text.unicodeScalars.count) / Double(inChars)) }
        d.text = text
        return BatchOutcome(document: d, decision: .keep)
    }

    /// The document rules: the rule and detail of a rejection, or nil when the document passes. Applied here,
    /// or by join_chunks to a document whose chunks came through one by one.
    static func verdict(
        chunks: Int, refused: [String], attempts: Int, minSuccess: Double, wordsBefore: Int, wordsAfter: Int,
        minWordsLeft: Int?, minShareLeft: Double
    ) -> (rule: String, detail: String)? {
        if !enough(chunks - refused.count, of: chunks, minSuccess: minSuccess) {
            let reasons = Dictionary(grouping: refused, by: { $0 }).map { "\($0.key) \($0.value.count)" }.sorted()
            return (
                "chunks_refused",
                "\(refused.count) of \(chunks) chunks refused after \(attempts) attempt(s): "
                    + reasons.joined(separator: ", ")
            )
        }
        if let minWordsLeft, wordsAfter <= minWordsLeft || Double(wordsAfter) <= minShareLeft * Double(wordsBefore) {
            return ("too_little_left", "\(wordsAfter) of \(wordsBefore) words left")
        }
        return nil
    }

    /// Whether `good` of `chunks` chunks reach the share `minSuccess`.
    static func enough(_ good: Int, of chunks: Int, minSuccess: Double) -> Bool {
        Double(good) >= minSuccess * Double(chunks) - 1e-9
    }
}

extension StringProtocol where SubSequence == Substring {
    /// The text without its leading and trailing white space, and that white space.
    var trimmedParts: (lead: Substring, body: Substring, tail: Substring) {
        let scalars = unicodeScalars
        var start = scalars.startIndex
        while start < scalars.endIndex && scalars[start].properties.isWhitespace { start = scalars.index(after: start) }
        var end = scalars.endIndex
        while end > start && scalars[scalars.index(before: end)].properties.isWhitespace {
            end = scalars.index(before: end)
        }
        return (self[scalars.startIndex..<start], self[start..<end], self[end..<scalars.endIndex])
    }
}
