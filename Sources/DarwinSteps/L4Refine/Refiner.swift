import DarwinCore
import DarwinInference
import Foundation

/// L4 generative refinement: a model cleans each chunk of a document, in one of two modes.
///
/// - `rewrite` (the Darwin L4 contract): the model returns the cleaned chunk between `<CLEANED_TEXT>` tags
///   (empty tags delete it; an answer the model ended without the closing tag counts to its end). Guards refuse
///   an answer without the opening tag, one cut at `max_tokens`, one that
///   repeats itself, one whose length is outside `min_ratio`…`max_ratio` of the chunk's, and one that drifts —
///   numbers, URLs, citations, LaTeX commands or names that the chunk does not contain (`max_drift`).
/// - `edit` (ProX / RefineX): the model sees the chunk's lines numbered and writes an ``EditProgram``, held to
///   the language by a GBNF grammar (llama, and servers that accept one); darwin checks every call and runs the
///   program. It can only delete lines and characters, so it cannot invent text. A program with two or more
///   invalid calls is refused (the chunk stays); `drop_doc()` deletes the chunk.
///
/// A refused chunk keeps its original text. A document needs `min_success` of its chunks to pass (after
/// `retries` with other seeds), else it is rejected (`chunks_refused`); a document left with at most 10 words,
/// or at most 5 % of its words, is rejected (`too_little_left`).
struct Refiner: BatchStep {
    enum Mode: String { case rewrite, edit }

    let mode: Mode
    let rewriting: ChunkedRewriting
    let minRatio: Double
    let maxRatio: Double
    let maxDrift: Int

    static let kept = HistogramSpec(
        name: "kept_ratio", lower: 0, upper: 2, bins: 40, scale: .linear,
        summary: "characters of a document after refinement over before")

    static let descriptor = StepDescriptor(
        id: "refine", version: 1, levels: [.l4],
        summary:
            "a model cleans each chunk (rewrite: cleaned text in tags; edit: a checked program of line deletions and substitutions), guarded against drift",
        reference:
            "Data Darwinism L4 (1,024-character chunks, <CLEANED_TEXT>, ≥95 % of chunks); ProX (Zhou et al. 2024) and RefineX (2025) programs",
        kind: .batched,
        parameters: ChunkedRewriting.parameters(
            chunkChars: 1024, chunkTokens: 0, maxTokens: 512, context: 2048, temperature: 0, prompt: "",
            promptNote: "; default refine-rewrite.yaml or refine-edit.yaml by mode") + [
                ParameterSpec(
                    "mode", .choice(["rewrite", "edit"]), default: "rewrite",
                    "rewrite: the model returns the cleaned chunk; edit: the model writes a program darwin checks and runs"
                ),
                ParameterSpec(
                    "min_ratio", .number(min: 0, max: 100), default: 0.2,
                    "rewrite: shortest answer, as a share of the chunk's characters (empty tags always delete)"),
                ParameterSpec(
                    "max_ratio", .number(min: 0, max: 100), default: 1.3,
                    "rewrite: longest answer, as a share of the chunk's characters"),
                ParameterSpec(
                    "max_drift", .integer(min: 0, max: 1000), default: 0,
                    "rewrite: numbers, URLs, citations, LaTeX commands and names not in the chunk that an answer may add"
                ),
                ParameterSpec(
                    "max_calls", .integer(min: 1, max: 256), default: 16, "edit: most calls in a program"),
                ParameterSpec(
                    "grammar", .boolean, default: true,
                    "hold the answer to its shape with a GBNF grammar (llama, llama-server): edit, the program's language; rewrite, one tagged text that ends at its closing tag (so the text cannot contain \"</\"); off for servers that refuse the field"
                ),
            ],
        histograms: [kept, InferenceCounters.latency],
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english),
                parameters: [
                    "model": "SmolLM2-135M-Instruct.Q4_1.gguf", "parallel": 2, "context": 1024, "cache": "none",
                    "mode": "edit", "min_success": 0, "retries": 0,
                ],
                expect: .keep)
        ],
        resources: { p in try ChunkedRewriting.resources(p, prompt: Refiner.prompt(p)) },
        check: { p in
            try ModelSettings.check(p)
            _ = try PromptTemplate.load(p, file: Refiner.prompt(p))
            try ChunkedRewriting.check(p)
        },
        make: { p in .batched(try Refiner(p)) })

    /// A rewrite answer's shape: the opening tag, then text that ends at the first `</` (the closing tag) or
    /// where the model stops — a grammar that required the closing tag would keep a model that never writes it
    /// from stopping at all.
    static let rewriteGrammar = """
        root ::= "<CLEANED_TEXT>" body ("</CLEANED_TEXT>")?
        body ::= ([^<] | "<" [^/])*
        """

    /// The prompt file: the recipe's, or the mode's own.
    static func prompt(_ p: Parameters) -> String {
        let given = p.string("prompt")
        return given.isEmpty ? "refine-\(p.string("mode")).yaml" : given
    }

    init(_ p: Parameters) throws {
        mode = Mode(rawValue: p.string("mode")) ?? .rewrite
        rewriting = try ChunkedRewriting(
            step: "refine", p, prompt: Self.prompt(p), minWordsLeft: 10, ratio: Self.kept,
            variables: ["max_calls": p.int("max_calls")],
            grammar: !p.bool("grammar")
                ? nil : mode == .edit ? EditProgram.grammar(maxCalls: p.int("max_calls")) : Self.rewriteGrammar)
        minRatio = p.double("min_ratio")
        maxRatio = p.double("max_ratio")
        maxDrift = p.int("max_drift")
    }

    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome] {
        switch mode {
        case .rewrite:
            return try await rewriting.run(batch, context: &context, show: { $0 }, judge: judgeRewrite)
        case .edit:
            return try await rewriting.run(
                batch, context: &context, show: { EditProgram.numbered(EditProgram.lines(of: $0).lines) },
                judge: Self.judgeEdit)
        }
    }

    func judgeRewrite(_ chunk: String, _ answer: String) -> ChunkVerdict {
        Self.judgeRewrite(chunk, answer, minRatio: minRatio, maxRatio: maxRatio, maxDrift: maxDrift)
    }

    /// A rewrite answer: the tagged text, if every guard lets it through.
    static func judgeRewrite(
        _ chunk: String, _ answer: String, minRatio: Double, maxRatio: Double, maxDrift: Int
    ) -> ChunkVerdict {
        guard let tagged = RewriteGuards.tagged(answer, tag: "CLEANED_TEXT", closeOptional: true) else {
            return .guarded("no_tag", detail: String(answer.prefix(80)))
        }
        let parts = chunk.trimmedParts
        let body = tagged.trimmedParts.body
        if body.isEmpty { return .done("", outcome: "deleted") }
        if body == parts.body { return .done(chunk, outcome: "unchanged") }
        if let r = RewriteGuards.repetition(body, input: chunk) { return .guarded("repetition", detail: r) }
        let ratio = Double(body.unicodeScalars.count) / Double(max(1, parts.body.unicodeScalars.count))
        if ratio < minRatio || ratio > maxRatio {
            return .guarded("ratio", detail: String(format: "%.2f of the chunk's length", ratio))
        }
        let drift = RewriteGuards.drift(body, input: chunk)
        if drift.count > maxDrift {
            return .guarded("drift", detail: "not in the chunk: " + drift.prefix(5).joined(separator: ", "))
        }
        return .done(String(parts.lead + body + parts.tail), outcome: "cleaned")
    }

    /// An edit answer: the program, checked and run on the chunk's lines.
    static func judgeEdit(_ chunk: String, _ answer: String) -> ChunkVerdict {
        let program = EditProgram.parse(answer)
        guard program.terminated || !program.calls.isEmpty else {
            return .guarded("no_program", detail: String(answer.prefix(80)))
        }
        let (lines, tail) = EditProgram.lines(of: chunk)
        let result = program.run(on: lines)
        guard let kept = result.lines else {
            return .guarded(
                "invalid_program", detail: result.invalid.prefix(3).joined(separator: "; "))
        }
        if kept.isEmpty || kept.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) {
            return .done("", outcome: program.dropsChunk ? "dropped" : "deleted")
        }
        if result.removedLines == 0 && result.substitutions == 0 { return .done(chunk, outcome: "unchanged") }
        return .done(kept.joined(separator: "\n") + tail, outcome: "edited")
    }
}
