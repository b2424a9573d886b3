import DarwinCore
import DarwinInference
import Foundation

/// Asks a model for an integer score of each document (FineWeb-Edu style) and stores it with the model's
/// one-line reason.
///
/// The answer is held to a grammar — `Reason: <one line>` then `Score: <integer in range>` — so it always
/// parses with the local backend (and with llama-server, which honours grammars); an answer that does not
/// parse, or is cut off, is an error of that document. Greedy decoding by default. Filters nothing: select
/// with `score_filter` on `metadata.<key>`.
struct LLMScorer: BatchStep {
    let settings: ModelSettings
    let template: PromptTemplate
    let sampling: Sampling
    let key: String
    let maxChars: Int
    let range: ClosedRange<Int>
    let histogram: HistogramSpec

    static let descriptor = StepDescriptor(
        id: "llm_score", version: 1, levels: [.l3],
        summary: "a model scores each document (integer and one-line reason under metadata.<key>)",
        reference:
            "FineWeb-Edu annotation prompt (Penedo et al. 2024); seed talk: a small pilot model's judgement as a cheap quality signal",
        kind: .batched,
        parameters: ModelSettings.parameters(parallel: 8, context: 2048) + [
            BatchParameters.batchSize(default: 16), BatchParameters.inFlight(default: 2),
            ParameterSpec(
                "prompt", .string, default: "edu-score.yaml",
                "prompt file (system, user with {{text}}): a path, or a name in configs/prompts"),
            ParameterSpec(
                "key", .string, default: "llm_score", "metadata key of the score (the reason goes to <key>_reason)"),
            ParameterSpec("min_score", .integer(min: 0, max: 1000), default: 0, "lowest score the model may give"),
            ParameterSpec("max_score", .integer(min: 0, max: 1000), default: 5, "highest score the model may give"),
            ParameterSpec(
                "max_chars", .integer(min: 0, max: 1 << 30), default: 3000,
                "characters of the document shown to the model (0: all)"),
            ParameterSpec(
                "reason_chars", .integer(min: 1, max: 2000), default: 160, "longest reason, in characters"),
            ParameterSpec(
                "grammar", .boolean, default: true,
                "hold the answer to its shape with a GBNF grammar (llama, llama-server); off for servers that refuse the field"
            ),
            ParameterSpec("temperature", .number(min: 0, max: 5), default: 0, "0: greedy"),
            ParameterSpec(
                "seed", .integer(min: 0, max: Int(UInt32.max)), default: 0, "sampling seed (temperature > 0)"),
        ],
        histograms: [InferenceCounters.latency],
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english),
                parameters: [
                    "model": "SmolLM2-135M-Instruct.Q4_1.gguf", "parallel": 2, "context": 1024, "cache": "none",
                ],
                expect: .keep)
        ],
        resources: { p in try ModelSettings.resources(p) + [PromptTemplate.resource(p)] },
        check: { p in
            try ModelSettings.check(p)
            _ = try PromptTemplate.load(p)
            try LLMScorer.checkRange(p)
        },
        make: { p in .batched(try LLMScorer(p)) })

    static func checkRange(_ p: Parameters) throws {
        guard p.int("min_score") <= p.int("max_score") else {
            throw ParameterError(
                "max_score", "max_score (\(p.int("max_score"))) is below min_score (\(p.int("min_score")))")
        }
    }

    /// The answer's shape: a one-line reason, then a score in range.
    static func grammar(range: ClosedRange<Int>, reasonChars: Int) -> String {
        let scores = range.map { "\"\($0)\"" }.joined(separator: " | ")
        return """
            root ::= "Reason: " reason "\\nScore: " score
            reason ::= [^\\n] [^\\n]{0,\(reasonChars - 1)}
            score ::= \(scores)
            """
    }

    init(_ p: Parameters) throws {
        try Self.checkRange(p)
        settings = try ModelSettings(p)
        template = try PromptTemplate.load(p)
        key = p.string("key")
        maxChars = p.int("max_chars")
        range = p.int("min_score")...p.int("max_score")
        var s = Sampling()
        s.temperature = p.double("temperature")
        s.seed = UInt64(p.int("seed"))
        s.maxTokens = p.int("reason_chars") + 16 + String(range.upperBound).count
        s.grammar = p.bool("grammar") ? Self.grammar(range: range, reasonChars: p.int("reason_chars")) : nil
        sampling = s
        histogram = HistogramSpec(
            name: key, lower: Double(range.lowerBound), upper: Double(range.upperBound) + 1,
            bins: min(100, range.count), scale: .linear, summary: "the model's score")
    }

    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome] {
        let calls = try settings.calls(context, templateHash: template.hash)
        let requests = batch.map { template.request(text: $0.text.prefixCharacters(maxChars)) }
        let (results, report) = try await calls.complete(requests, sampling: sampling)
        InferenceCounters.record(report, documents: batch.count, into: &context)
        return zip(batch, results).map { document, result in
            var d = document
            switch result {
            case .failure(let f):
                return .failed(d, "llm_score: \(f.reason): \(f.message)")
            case .success(let answer):
                guard let (score, reason) = Self.parse(answer.text), range.contains(score) else {
                    context.count("failures.unparsable")
                    return .failed(d, "llm_score: unparsable answer: \(answer.text.prefix(200))")
                }
                d.setValue(.number(JSONNumber(score)), atPath: "metadata." + key)
                d.setValue(.string(reason), atPath: "metadata." + key + "_reason")
                context.observe(histogram, Double(score))
                return .keep(d)
            }
        }
    }

    /// `Reason: …` and `Score: N` from an answer.
    static func parse(_ text: String) -> (Int, String)? {
        guard let m = text.firstMatch(of: /Reason:\s*(?<reason>[^\n]*)\n\s*Score:\s*(?<score>\d+)/),
            let score = Int(m.output.score)
        else { return nil }
        return (score, m.output.reason.trimmingCharacters(in: .whitespaces))
    }
}
