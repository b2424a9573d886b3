import DarwinCore
import DarwinInference
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

/// A backend that answers from a script (unit tests only): the answer for each request's document text, by
/// the sampling seed, so retries can be told apart.
final class ScriptedBackend: InferenceBackend, @unchecked Sendable {
    let answer: @Sendable (_ text: String, _ sampling: Sampling) -> Result<Completion, InferenceFailure>
    private let lock = NSLock()
    private(set) var asked: [(text: String, seed: UInt64)] = []

    init(_ answer: @escaping @Sendable (_ text: String, _ sampling: Sampling) -> Result<Completion, InferenceFailure>) {
        self.answer = answer
    }

    var modelIdentity: String { "scripted" }
    var kind: String { "scripted" }

    func complete(_ requests: [CompletionRequest], sampling: Sampling) async -> (
        results: [Result<Completion, InferenceFailure>], statistics: CallStatistics
    ) {
        var stats = CallStatistics()
        stats.calls = requests.count
        let results = requests.map { r -> Result<Completion, InferenceFailure> in
            guard case .chat(let messages) = r.prompt, let last = messages.last else {
                return .failure(InferenceFailure(reason: "bad_request", message: "not a chat"))
            }
            // The document is what follows the shared part of the last message.
            let utf8 = Array(last.content.utf8)
            let text = String(decoding: utf8[r.sharedLength...], as: UTF8.self)
            lock.withLock { asked.append((text, sampling.seed)) }
            return answer(text, sampling)
        }
        return (results, stats)
    }

    func embed(_ texts: [String]) async -> (results: [Result<[Float], InferenceFailure>], statistics: CallStatistics) {
        (texts.map { _ in .failure(InferenceFailure(reason: "unsupported", message: "")) }, CallStatistics())
    }

    static func text(_ s: String, finish: FinishReason = .stop) -> Result<Completion, InferenceFailure> {
        .success(Completion(text: s, finishReason: finish, promptTokens: 10, completionTokens: 5))
    }
}

@Suite struct EditProgramTests {
    let lines: [Substring] = [
        "Home | About | Login", "The cell is the basic unit of life.", "Cli ck here to share",
        "Mitochondria make ATP.", "© 2024 Example Inc.",
    ]

    @Test func parsesCallsLenientlyAndCountsWhatItCannotRead() {
        let p = EditProgram.parse(
            """
            ```
            remove_lines(0, 0)
            remove_lines(line_start=4, line_end=4)
            normalize(2, "Cli ck", "Click")
            normalize(3, 'ATP')
            rewrite_everything()
            keep_doc()
            remove_lines(1, 1)
            ```
            """)
        #expect(
            p.calls == [
                .removeLines(0, 0), .removeLines(4, 4), .normalize(line: 2, old: "Cli ck", new: "Click"),
                .normalize(line: 3, old: "ATP", new: ""),
            ])
        #expect(p.malformed == ["rewrite_everything()"])
        #expect(p.terminated && !p.dropsChunk, "calls after keep_doc() are not read")
    }

    @Test func runsSubstitutionsThenDeletions() throws {
        let p = EditProgram.parse(
            "remove_lines(0, 0)\nnormalize(2, \"Cli ck\", \"Click\")\nremove_lines(4, 4)\nkeep_doc()")
        let r = p.run(on: lines)
        #expect(r.lines == ["The cell is the basic unit of life.", "Click here to share", "Mitochondria make ATP."])
        #expect(r.removedLines == 2 && r.substitutions == 1 && r.invalid.isEmpty)
    }

    @Test func oneInvalidCallIsSkippedTwoIgnoreTheProgram() {
        let one = EditProgram.parse("remove_lines(0, 0)\nremove_lines(3, 9)\nkeep_doc()").run(on: lines)
        #expect(one.lines?.count == 4 && one.invalid.count == 1)
        let two = EditProgram.parse("remove_lines(0, 0)\nremove_lines(3, 9)\nnormalize(1, \"absent\", \"\")").run(
            on: lines)
        #expect(two.lines == nil && two.invalid.count == 2)
        let garbage = EditProgram.parse("delete everything\nplease\nkeep_doc()").run(on: lines)
        #expect(garbage.lines == nil, "two lines that are not calls count as two invalid calls")
    }

    @Test func aSubstitutionMayOnlyRemoveCharacters() {
        #expect(EditProgram.onlyRemoves("Cli ck", "Click"))
        #expect(EditProgram.onlyRemoves("see http://x.org now", "see now"))
        #expect(EditProgram.onlyRemoves("abc", ""))
        #expect(!EditProgram.onlyRemoves("teh", "the"), "reordering adds a character where there was none")
        #expect(!EditProgram.onlyRemoves("cell", "cells"))
        let r = EditProgram.parse("normalize(1, \"cell\", \"neuron\")\nkeep_doc()").run(on: lines)
        #expect(r.lines?.count == lines.count && r.substitutions == 0 && r.invalid.count == 1)
    }

    @Test func dropDocDeletesTheChunk() {
        let r = EditProgram.parse("drop_doc()").run(on: lines)
        #expect(r.lines == [])
    }

    @Test func numbersLinesAndKeepsTrailingBreaks() {
        let (l, tail) = EditProgram.lines(of: "a\n\nb\n\n")
        #expect(l == ["a", "", "b"] && tail == "\n\n")
        #expect(EditProgram.numbered(l) == "[000] a\n[001] \n[002] b\n")
    }

    @Test func judgeKeepsTheOriginalWhenTheProgramIsRefused() {
        let chunk = lines.joined(separator: "\n") + "\n\n"
        #expect(
            Refiner.judgeEdit(chunk, "remove_lines(0, 0)\nremove_lines(4, 4)\nkeep_doc()")
                == .done(
                    "The cell is the basic unit of life.\nCli ck here to share\nMitochondria make ATP.\n\n",
                    outcome: "edited"))
        if case .guarded(let g, _) = Refiner.judgeEdit(chunk, "remove_lines(7, 9)\nremove_lines(8, 9)\nkeep_doc()") {
            #expect(g == "invalid_program")
        } else {
            Issue.record("two invalid calls must be refused")
        }
        #expect(Refiner.judgeEdit(chunk, "keep_doc()") == .done(chunk, outcome: "unchanged"))
        #expect(Refiner.judgeEdit(chunk, "drop_doc()") == .done("", outcome: "dropped"))
        if case .guarded(let g, _) = Refiner.judgeEdit(chunk, "I think this text is fine.") {
            #expect(g == "invalid_program" || g == "no_program")
        } else {
            Issue.record("prose is not a program")
        }
    }
}

@Suite struct RewriteGuardTests {
    let chunk = "Photosynthesis in C4 plants fixes CO2 twice [12]. See Fig. 3 and https://example.org/x.\n\n"

    func guardName(_ v: ChunkVerdict) -> String? {
        if case .guarded(let g, _) = v { return g }
        return nil
    }

    func judge(_ answer: String) -> ChunkVerdict {
        Refiner.judgeRewrite(chunk, answer, minRatio: 0.2, maxRatio: 1.3, maxDrift: 0)
    }

    @Test func acceptsACleanedChunkAndKeepsItsSpacing() {
        #expect(
            judge("<CLEANED_TEXT>\nPhotosynthesis in C4 plants fixes CO2 twice [12]. See Fig. 3.\n</CLEANED_TEXT>")
                == .done("Photosynthesis in C4 plants fixes CO2 twice [12]. See Fig. 3.\n\n", outcome: "cleaned"))
        #expect(judge("<CLEANED_TEXT></CLEANED_TEXT>") == .done("", outcome: "deleted"))
    }

    @Test func refusesMissingTagsDriftRatioAndLoops() {
        #expect(guardName(judge("Photosynthesis in C4 plants fixes CO2 twice.")) == "no_tag")
        #expect(
            judge("<CLEANED_TEXT>Photosynthesis in C4 plants fixes CO2 twice [12]. See Fig. 3.")
                == .done("Photosynthesis in C4 plants fixes CO2 twice [12]. See Fig. 3.\n\n", outcome: "cleaned"),
            "the model stopped without the closing tag: the answer counts to its end")
        #expect(RewriteGuards.tagged("<T>a", tag: "T") == nil)
        #expect(
            guardName(
                judge(
                    "<CLEANED_TEXT>Photosynthesis in C4 plants fixes CO2 twice [12], as Calvin showed in 1950.</CLEANED_TEXT>"
                ))
                == "drift")
        #expect(guardName(judge("<CLEANED_TEXT>Plants.</CLEANED_TEXT>")) == "ratio")
        let loop = String(repeating: "Photosynthesis in C4 plants fixes CO2 twice.\n", count: 4)
        #expect(
            guardName(
                Refiner.judgeRewrite(
                    chunk, "<CLEANED_TEXT>\(loop)</CLEANED_TEXT>", minRatio: 0, maxRatio: 9, maxDrift: 9))
                == "repetition")
    }

    @Test func driftFindsNumbersNamesURLsCitationsAndCommands() {
        let input = "The Krebs cycle yields 2 ATP per turn (see [4]). Energy E = mc^2."
        #expect(RewriteGuards.drift("The Krebs cycle yields 2 ATP per turn (see [4]).", input: input).isEmpty)
        #expect(
            RewriteGuards.drift("The Krebs cycle, found by Hans Krebs in 1937, yields 36 ATP [5].", input: input)
                == ["1937", "36", "5", "[5]", "Hans"])
        #expect(
            RewriteGuards.drift("Visit www.example.com for \\frac{E}{m}.", input: input) == [
                "www.example.com", "\\frac",
            ])
        #expect(
            RewriteGuards.drift("Energy matters. Krebs matters.", input: input).isEmpty, "sentence starts are not names"
        )
    }

    @Test func completionKeepsHeadersAndLabels() {
        let window = "## 2.1 Kinetics\nBy Eq. 4 the rate is k[A] (2.3)\nSee Table 1.\n"
        #expect(RewriteGuards.missingHeaders("Kinetics\nmore", input: window) == ["## 2.1 Kinetics"])
        #expect(RewriteGuards.missingLabels("## 2.1 Kinetics\nBy Eq. 4 … (2.3) Table 1", input: window).isEmpty)
        #expect(
            RewriteGuards.missingLabels("## 2.1 Kinetics\nthe rate", input: window) == ["Eq. 4", "Table 1", "(2.3)"])
        #expect(RewriteGuards.metaCommentary("Here is the rewritten passage: …") != nil)
        #expect(RewriteGuards.metaCommentary("The rate constant k measures how fast …") == nil)
    }
}

@Suite struct QAParsingTests {
    @Test func readsBlocksAndRefusesQuestionsThatPointAtTheText() {
        let answer = """
            ---BEGIN QA---
            Question: What is 6 times 7?
            Answer: Six sevens are 42, so the answer is \\boxed{42}.
            ---END QA---
            ---BEGIN QA---
            Question: What does the passage say about cells?
            Answer: It says they are small. \\boxed{small}
            ---END QA---
            """
        let (pairs, refused) = QASynthesizer.parse(answer)
        #expect(pairs.count == 1 && refused == 1)
        #expect(pairs.first?.question == "What is 6 times 7?")
        #expect(pairs.first?.final == "42")
        #expect(QASynthesizer.parse("[NO QA]").pairs.isEmpty)
    }

    @Test func aPairNamingWhatThePassageDoesNotHaveIsUngrounded() {
        let passage = "Elihu the son of Barachel was angry with Job and his three friends. He waited 7 days."
        let good = QASynthesizer.Pair(
            question: "Why was Elihu angry?", answer: "Job justified himself; 7 + 1 = \\boxed{8}.")
        #expect(QASynthesizer.ungrounded(good, in: passage).isEmpty, "numbers may be worked out")
        let bad = QASynthesizer.Pair(question: "What does the verse say?", answer: "The Lord hath mercy on all.")
        #expect(QASynthesizer.ungrounded(bad, in: passage) == ["Lord"])
    }

    @Test func boxedAnswersCompareAsWrittenOrAsNumbers() {
        #expect(QASynthesizer.boxed("so \\boxed{\\frac{1}{2}} and \\boxed{x^{2}}") == "x^{2}")
        #expect(QASynthesizer.boxed("no box") == nil)
        #expect(QASynthesizer.sameAnswer("42", " 42.0 "))
        #expect(QASynthesizer.sameAnswer("\\left( 1, 2 \\right)", "(1,2)"))
        #expect(QASynthesizer.sameAnswer("\\text{Paris}", "paris"))
        #expect(!QASynthesizer.sameAnswer("41", "42"))
    }
}

@Suite struct PromptTemplateTests {
    @Test func rendersMustacheVariablesButNeverTheDocument() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-prompt-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/p.yaml"
        try
            "system: Be brief & exact.\nuser: |\n  At most {{max_pairs}} pairs{{#lang}} in {{lang}}{{/lang}}.\n  {{text}}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let t = try PromptTemplate(path: path, parameter: "prompt", variables: ["max_pairs": 3, "lang": "<fr>"])
        #expect(t.system == "Be brief & exact.")
        #expect(t.lead == "At most 3 pairs in <fr>.\n", "plain text: no HTML escaping")
        let r = t.request(text: "{{max_pairs}} stays as written")
        guard case .chat(let m) = r.prompt else { return }
        #expect(m.last?.content == "At most 3 pairs in <fr>.\n{{max_pairs}} stays as written\n")
        #expect(r.sharedLength == t.lead.utf8.count)
        try "user: no slot\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ParameterError.self) { try PromptTemplate(path: path, parameter: "prompt") }
    }
}

@Suite struct ChunkedRewritingTests {
    /// A `refine` in edit mode against a scripted backend (an openai configuration that is never called).
    func rewriting(_ extra: [String: JSONValue] = [:]) throws -> ChunkedRewriting {
        var raw: [String: JSONValue] = [
            "backend": "openai", "url": "http://127.0.0.1:9/v1", "model": "m", "mode": "edit", "chunk_chars": 60,
            "cache": "none", "retries": 1, "min_success": 0.95,
        ]
        for (k, v) in extra { raw[k] = v }
        let p = try Parameters.validate(raw.map { ($0.key, $0.value) }, against: Refiner.descriptor.parameters).get()
        return try ChunkedRewriting(
            step: "refine", p, prompt: Refiner.prompt(p), minWordsLeft: 10, ratio: Refiner.kept)
    }

    func context() -> StepContext {
        StepContext(stage: "L4", step: "refine", shard: nil, seed: 0, histograms: [Refiner.kept])
    }

    let text = String(repeating: "Alpha beta gamma delta epsilon zeta eta theta.\n\n", count: 4)

    @Test func retriesRefusedChunksWithTheNextSeedThenPasses() async throws {
        // Seed 0: every chunk gets a program that does not parse; seed 1 (the retry): keep_doc().
        let backend = ScriptedBackend { _, s in ScriptedBackend.text(s.seed == 0 ? "no\nprogram" : "keep_doc()") }
        var ctx = context()
        let calls = CachedInference(backend: backend, cache: nil, templateHash: "t")
        let out = try await rewriting().run(
            [Document(id: "d", text: text)], calls: calls, context: &ctx,
            show: { EditProgram.numbered(EditProgram.lines(of: $0).lines) }, judge: Refiner.judgeEdit)
        #expect(out.count == 1 && out[0].decision == .keep && out[0].error == nil)
        #expect(out[0].document.text == text)
        #expect(out[0].document.value(atPath: "darwin.refine.attempts")?.intValue == 2)
        #expect(ctx.stats.counters["chunks"] == 4 && ctx.stats.counters["retried_chunks"] == 4)
        #expect(ctx.stats.counters["chunk.unchanged"] == 4 && ctx.stats.counters["documents_retried"] == 1)
        #expect(backend.asked.filter { $0.seed == 1 }.count == 4)
    }

    @Test func rejectsADocumentBelowMinSuccessWithItsReasons() async throws {
        let backend = ScriptedBackend { _, _ in ScriptedBackend.text("x\ny") }
        var ctx = context()
        let calls = CachedInference(backend: backend, cache: nil, templateHash: "t")
        let out = try await rewriting(["retries": 0]).run(
            [Document(id: "d", text: text)], calls: calls, context: &ctx,
            show: { EditProgram.numbered(EditProgram.lines(of: $0).lines) }, judge: Refiner.judgeEdit)
        guard case .drop(let rule, let detail) = out[0].decision else {
            Issue.record("expected a rejection, got \(out[0].decision)")
            return
        }
        #expect(rule == "chunks_refused")
        #expect(detail?.stringValue == "4 of 4 chunks refused after 1 attempt(s): no_program 4")
        #expect(ctx.stats.counters["guard.no_program"] == 4)
    }

    @Test func dropsADocumentLeftWithTooFewWordsAndSendsCallFailuresToErrors() async throws {
        let dropper = ScriptedBackend { _, _ in ScriptedBackend.text("drop_doc()") }
        var ctx = context()
        let out = try await rewriting().run(
            [Document(id: "d", text: text)], calls: CachedInference(backend: dropper, cache: nil, templateHash: "t"),
            context: &ctx, show: { $0 }, judge: Refiner.judgeEdit)
        #expect(out[0].decision == .drop(rule: "too_little_left", detail: .string("0 of 32 words left")))

        let failing = ScriptedBackend { t, _ in
            t.contains("theta")
                ? .failure(InferenceFailure(reason: "http_400", message: "bad")) : ScriptedBackend.text("keep_doc()")
        }
        var ctx2 = context()
        let out2 = try await rewriting().run(
            [Document(id: "d", text: text), Document(id: "e", text: "short")],
            calls: CachedInference(backend: failing, cache: nil, templateHash: "t"), context: &ctx2, show: { $0 },
            judge: Refiner.judgeEdit)
        #expect(out2[0].error?.hasPrefix("refine: chunk 0: http_400") == true)
        #expect(out2[1].error == nil, "one document's failed call does not fail its neighbours")
    }

    @Test func chunksMadeByChunkAreJudgedWhenJoined() async throws {
        // `chunk` made two chunk documents; the model refuses one of them (a program that does not parse).
        let text =
            String(repeating: "Alpha beta gamma delta epsilon zeta eta theta.\n\n", count: 2)
            + String(repeating: "Omega psi chi phi upsilon tau sigma rho.\n\n", count: 2)
        let parent = Document(id: "p", text: text)
        let pieces = ChunkSplitter.split(text, maxChars: 100)
        #expect(pieces.count == 2)
        let chunker = StepContext(stage: "L4", step: "chunk", shard: nil, seed: 0, histograms: [])
        let chunks = pieces.enumerated().map { i, piece in
            var c = Document.derived(from: parent, context: chunker, index: i, text: piece)
            c.setValue(
                .object(
                    JSONObject([
                        (key: "of", value: .string("p")), (key: "index", value: .number(JSONNumber(i))),
                        (key: "count", value: .number(JSONNumber(pieces.count))),
                    ])), atPath: "darwin.chunk")
            return c
        }
        let backend = ScriptedBackend { t, _ in ScriptedBackend.text(t.contains("Omega") ? "?\n?" : "keep_doc()") }
        var ctx = context()
        let out = try await rewriting(["retries": 0, "chunk_chars": 1000]).run(
            chunks, calls: CachedInference(backend: backend, cache: nil, templateHash: "t"), context: &ctx,
            show: { EditProgram.numbered(EditProgram.lines(of: $0).lines) }, judge: Refiner.judgeEdit)
        // Each chunk is kept (its refused part with its original text): the rules wait for the join.
        #expect(out.allSatisfy { $0.decision == .keep && $0.error == nil })
        let joined = ChunkJoiner.join(out.map(\.document), of: "p")
        #expect(joined.text == text)
        #expect(joined.value(atPath: "darwin.refine.chunks")?.intValue == 2)
        #expect(joined.value(atPath: "darwin.refine.words_before")?.intValue == 32)
        let rejection = ChunkJoiner.rejection(joined)
        #expect(rejection?.rule == "chunks_refused")
        #expect(rejection?.detail == "refine: 1 of 2 chunks refused after 1 attempt(s): no_program 1")
    }

    @Test func cutsByTheModelsTokensAtBoundaries() {
        // A tokenizer double: one token per word.
        let text = "one two three four five.\nsix seven eight nine ten.\neleven twelve."
        let pieces = ChunkSplitter.split(text, maxTokens: 6) { window, n in
            let words = window.split(whereSeparator: \.isWhitespace)
            guard words.count > n else { return nil }
            return window.utf8.distance(from: window.startIndex, to: words[n].startIndex)
        }
        #expect(pieces == ["one two three four five.\n", "six seven eight nine ten.\n", "eleven twelve."])
        #expect(pieces.joined() == text)
    }
}

/// Edit mode's promise, as a property over real documents: whatever program the model writes — valid calls,
/// calls on wrong lines, substitutions that would add text, garbage — the chunk that comes out is its input's
/// lines, in order, with at most characters removed.
@Suite struct EditPropertyTests {
    /// SplitMix64, so the programs are the same in every run.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    static func quoted(_ s: String) -> String {
        "\""
            + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    /// A program of 0 to 7 calls over a chunk of `lines`: mostly plausible, some out of range, some adding text.
    static func program(_ lines: [Substring], _ r: inout Random) -> String {
        var calls: [String] = []
        for _ in 0..<r.below(8) {
            switch r.below(6) {
            case 0, 1:
                let a = r.below(lines.count + 2)
                calls.append("remove_lines(\(a), \(a + r.below(4)))")
            case 2, 3:
                let n = r.below(lines.count)
                let line = Array(lines[n])
                guard !line.isEmpty else { continue }
                let start = r.below(line.count)
                let old = String(line[start..<min(line.count, start + 1 + r.below(12))])
                // The new text: a subsequence of the old one, or something else altogether.
                let new =
                    r.below(3) == 0
                    ? "inserted words" : String(old.enumerated().filter { _ in r.below(2) == 0 }.map(\.element))
                calls.append("normalize(\(n), \(quoted(old)), \(quoted(new)))")
            case 4: calls.append("normalize(\(r.below(lines.count)), \"not there at all\", \"\")")
            default: calls.append(["print(1)", "remove_lines(3)", "keep it"][r.below(3)])
            }
        }
        calls.append(r.below(10) == 0 ? "drop_doc()" : "keep_doc()")
        return calls.joined(separator: "\n")
    }

    @Test func noProgramAddsText() throws {
        var r = Random(state: 42)
        var edited = 0
        var refused = 0
        let documents = try Shards.documents(Repository.sampleShards[0]).prefix(150)
        for d in documents {
            for chunk in ChunkSplitter.split(d.text, maxChars: 1024) {
                let (lines, _) = EditProgram.lines(of: chunk)
                switch Refiner.judgeEdit(chunk, Self.program(lines, &r)) {
                case .done(let out, let outcome):
                    if outcome == "edited" { edited += 1 }
                    #expect(EditCheck.isEdit(out, of: chunk), "\(d.id): \(out.prefix(200))")
                case .guarded: refused += 1
                }
            }
        }
        #expect(edited > 100 && refused > 20, "the programs exercised both paths: \(edited) edited, \(refused) refused")
    }
}
