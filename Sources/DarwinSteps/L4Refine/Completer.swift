import DarwinCore
import DarwinInference
import Foundation

/// L5 cognitive completion (the Darwin L5 contract): a model rewrites each window of a document making the
/// reasoning it skips explicit — steps behind "clearly", terms and variables explained — keeping every header,
/// label and equation number, without meta-commentary, and stopping where the window stops.
///
/// Guards refuse an answer cut at `max_tokens`, one that loops, one that speaks about the task ("Here is the
/// rewritten chunk"), one that loses a Markdown header or a figure, table, equation or theorem label of its
/// window, and one whose length is not above `min_expansion` × the window's (or is above `max_expansion` ×).
/// A refused window keeps its original text; the document rules are `refine`'s (`min_success`, `retries`).
struct Completer: BatchStep {
    let rewriting: ChunkedRewriting
    let minExpansion: Double
    let maxExpansion: Double

    static let expansion = HistogramSpec(
        name: "expansion_ratio", lower: 0, upper: 5, bins: 50, scale: .linear,
        summary: "characters of a document after completion over before")

    static let descriptor = StepDescriptor(
        id: "complete", version: 1, levels: [.l5],
        summary:
            "a model makes each window's implicit reasoning explicit (steps, terms, variables), keeping headers and labels; guarded",
        reference: "Data Darwinism L5 (1,024-token windows of L4 output; expert science communicator contract)",
        kind: .batched,
        parameters: ChunkedRewriting.parameters(
            chunkChars: 0, chunkTokens: 1024, maxTokens: 2560, context: 4096, temperature: 0,
            prompt: "complete.yaml") + [
                ParameterSpec(
                    "min_expansion", .number(min: 0, max: 100), default: 1.0,
                    "an answer must be longer than this many times its window (in characters)"),
                ParameterSpec(
                    "max_expansion", .number(min: 0, max: 100), default: 4.0,
                    "longest answer, in times its window's characters"),
            ],
        histograms: [expansion, InferenceCounters.latency],
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english),
                parameters: [
                    "model": "SmolLM2-135M-Instruct.Q4_1.gguf", "parallel": 2, "context": 1024, "cache": "none",
                    "chunk_tokens": 256, "max_tokens": 256, "min_success": 0, "retries": 0,
                ],
                expect: .keep)
        ],
        resources: { p in try ChunkedRewriting.resources(p) },
        check: { p in
            try ModelSettings.check(p)
            _ = try PromptTemplate.load(p)
            try ChunkedRewriting.check(p)
            guard p.double("min_expansion") < p.double("max_expansion") else {
                throw ParameterError("max_expansion", "max_expansion must be above min_expansion")
            }
        },
        make: { p in .batched(try Completer(p)) })

    init(_ p: Parameters) throws {
        rewriting = try ChunkedRewriting(step: "complete", p, minWordsLeft: nil, ratio: Self.expansion)
        minExpansion = p.double("min_expansion")
        maxExpansion = p.double("max_expansion")
    }

    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome] {
        try await rewriting.run(batch, context: &context, show: { $0 }, judge: judge)
    }

    func judge(_ window: String, _ answer: String) -> ChunkVerdict {
        let parts = window.trimmedParts
        let body = answer.trimmedParts.body
        guard !body.isEmpty else { return .guarded("empty", detail: "") }
        if let meta = RewriteGuards.metaCommentary(body) { return .guarded("meta", detail: meta) }
        if let r = RewriteGuards.repetition(body, input: window) { return .guarded("repetition", detail: r) }
        let headers = RewriteGuards.missingHeaders(body, input: window)
        if !headers.isEmpty {
            return .guarded("headers", detail: "missing: " + headers.prefix(3).joined(separator: " | "))
        }
        let labels = RewriteGuards.missingLabels(body, input: window)
        if !labels.isEmpty { return .guarded("labels", detail: "missing: " + labels.prefix(5).joined(separator: ", ")) }
        let ratio = Double(body.unicodeScalars.count) / Double(max(1, parts.body.unicodeScalars.count))
        if ratio <= minExpansion || ratio > maxExpansion {
            return .guarded("expansion", detail: String(format: "%.2f times the window", ratio))
        }
        return .done(String(parts.lead + body + parts.tail), outcome: "expanded")
    }
}
