import DarwinCore
import DarwinInference
import Foundation

/// Scores each document's perplexity under a local model, from batched log-probabilities (no generation).
///
/// The first `max_tokens` tokens are scored in windows of `context` tokens, each on its own (its first token as
/// context only); `metadata.<key>` gets the perplexity per token and `metadata.<key>_bpb` the bits per UTF-8
/// byte (comparable across tokenizers). Filters nothing: select with `score_filter`. A text of fewer than two
/// tokens gets no score (counted as `too_short`).
struct PerplexityScorer: BatchStep {
    let settings: ModelSettings
    let key: String
    let maxTokens: Int
    let perplexity: HistogramSpec
    let bitsPerByte: HistogramSpec

    static let descriptor = StepDescriptor(
        id: "perplexity_score", version: 1, levels: [.l3],
        summary: "perplexity and bits per byte of each document under a local model, under metadata.<key>",
        reference:
            "perplexity filtering with a reference LM (CCNet, Wenzek et al. 2020); seed talk: a small pilot model's perplexity as a cheap quality signal",
        kind: .batched,
        parameters: ModelSettings.parameters(parallel: 8, context: 512).filter {
            ModelSettings.localParameters.contains($0.name)
        } + [
            ParameterSpec(
                "backend", .choice(["llama"]), default: "llama", "llama only: scores need the model's logits"),
            BatchParameters.batchSize(default: 16), BatchParameters.inFlight(default: 1),
            ParameterSpec("key", .string, default: "perplexity", "metadata key (bits per byte go to <key>_bpb)"),
            ParameterSpec(
                "max_tokens", .integer(min: 2, max: 1 << 24), default: 1024,
                "tokens scored from the start of each document"),
        ],
        histograms: [
            InferenceCounters.latency,
            HistogramSpec(
                name: "perplexity", lower: 1, upper: 1e5, bins: 50, scale: .log, summary: "perplexity per token"),
            HistogramSpec(
                name: "bits_per_byte", lower: 0, upper: 4, bins: 40, scale: .linear, summary: "bits per UTF-8 byte"),
        ],
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english),
                parameters: [
                    "model": "SmolLM2-135M-Instruct.Q4_1.gguf", "parallel": 2, "context": 128, "cache": "none",
                ],
                expect: .keep)
        ],
        resources: { p in try ModelSettings.resources(p) },
        check: { p in try ModelSettings.check(p) },
        make: { p in .batched(try PerplexityScorer(p)) })

    init(_ p: Parameters) throws {
        settings = try ModelSettings(p, prefixTokens: 0)
        key = p.string("key")
        maxTokens = p.int("max_tokens")
        perplexity = Self.descriptor.histograms[1]
        bitsPerByte = Self.descriptor.histograms[2]
    }

    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome] {
        let calls = try settings.calls(context, templateHash: "")
        let (results, report) = try await calls.score(batch.map(\.text), maxTokens: maxTokens)
        var counted = report
        counted.failures["too_short"] = nil
        InferenceCounters.record(counted, documents: batch.count, into: &context)
        return zip(batch, results).map { document, result in
            var d = document
            switch result {
            case .failure(let f) where f.reason == "too_short":
                context.count("too_short")
                return .keep(d)
            case .failure(let f):
                return .failed(d, "perplexity_score: \(f.reason): \(f.message)")
            case .success(let score):
                d.setValue(.number(JSONNumber(lexeme: Self.lexeme(score.perplexity))), atPath: "metadata." + key)
                d.setValue(
                    .number(JSONNumber(lexeme: Self.lexeme(score.bitsPerByte))), atPath: "metadata." + key + "_bpb")
                context.observe(perplexity.name, score.perplexity)
                context.observe(bitsPerByte.name, score.bitsPerByte)
                return .keep(d)
            }
        }
    }

    /// Four decimals: stable text for a number computed in floating point.
    static func lexeme(_ value: Double) -> String { String(format: "%.4f", value) }
}
