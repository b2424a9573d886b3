import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinInference

/// The llama backend on the real SmolLM2-135M-Instruct model.
@Suite(.serialized) struct LlamaBackendTests {
    static func backend(parallel: Int = 4, context: Int = 512, embeddings: Bool = false, prefixTokens: Int = 256)
        throws -> LlamaBackend
    {
        if let missing = SmallModel.missing { Issue.record(Comment(rawValue: missing)) }
        var configuration = LlamaConfiguration(modelPath: SmallModel.path)
        configuration.parallel = parallel
        configuration.context = context
        configuration.prefixTokens = prefixTokens
        configuration.threads = 2
        configuration.embeddings = embeddings
        return try LlamaBackend(configuration)
    }

    static let questions = [
        "What is the capital of France?", "Name a primary color.", "What is 2+2?", "Say hello.",
        "Name a fruit that is yellow.", "What do bees make?",
    ]

    static func requests(_ lead: String = "Answer briefly. ") -> [CompletionRequest] {
        questions.map {
            CompletionRequest(
                prompt: .chat([
                    ChatMessage(role: "system", content: "You are a concise assistant."),
                    ChatMessage(role: "user", content: lead + $0),
                ]), sharedLength: lead.utf8.count)
        }
    }

    @Test func greedyAnswersAreStableAndInOrder() async throws {
        let backend = try Self.backend()
        var sampling = Sampling()
        sampling.maxTokens = 24
        let (first, statistics) = await backend.complete(Self.requests(), sampling: sampling)
        let (second, _) = await backend.complete(Self.requests(), sampling: sampling)
        let a = try first.map { try $0.get() }
        let b = try second.map { try $0.get() }
        #expect(a == b)
        #expect(a[0].text.contains("Paris"), "\(a[0].text)")
        #expect(a.allSatisfy { $0.completionTokens > 0 && $0.completionTokens <= 24 })
        #expect(statistics.calls == 6 && statistics.completionTokens == a.reduce(0) { $0 + $1.completionTokens })
        // One request alone gives the answer it gave among the others (its seed is its own).
        let (alone, _) = await backend.complete([Self.requests()[0]], sampling: sampling)
        #expect(try alone[0].get().text == a[0].text)
    }

    @Test func finishReasonsGrammarAndStopStrings() async throws {
        let backend = try Self.backend()
        var sampling = Sampling()
        sampling.maxTokens = 3
        let (cut, _) = await backend.complete([Self.requests()[0]], sampling: sampling)
        #expect(try cut[0].get().finishReason == .length)

        sampling.maxTokens = 40
        sampling.grammar = #"root ::= "Score: " [0-5] "\nReason: " [a-zA-Z ,.]{1,20}"#
        let (constrained, _) = await backend.complete(Self.requests(), sampling: sampling)
        for result in constrained {
            let c = try result.get()
            #expect(c.finishReason == .grammar)
            #expect(c.text.wholeMatch(of: /Score: [0-5]\nReason: [a-zA-Z ,.]{1,20}/) != nil, "\(c.text)")
        }

        sampling = Sampling()
        sampling.maxTokens = 40
        sampling.stop = ["Paris"]
        let (stopped, _) = await backend.complete([Self.requests()[0]], sampling: sampling)
        let s = try stopped[0].get()
        #expect(s.finishReason == .stop && !s.text.contains("Paris"), "\(s.text)")
    }

    @Test func aSharedPromptLongerThanItsRoomGoesWithEachRequest() async throws {
        let backend = try Self.backend(prefixTokens: 4)
        var sampling = Sampling()
        sampling.maxTokens = 24
        let (results, _) = await backend.complete(Self.requests(), sampling: sampling)
        let answers = try results.map { try $0.get() }
        #expect(answers[0].text.contains("Paris"), "\(answers[0].text)")
        #expect(answers.allSatisfy { $0.promptTokens > 20 })
    }

    @Test func aPromptThatDoesNotFitFailsAloneAndABadGrammarIsReported() async throws {
        let backend = try Self.backend(context: 64)
        var sampling = Sampling()
        sampling.maxTokens = 8
        let long = CompletionRequest.text(String(repeating: "word ", count: 200))
        let (results, _) = await backend.complete([long, .text("Hello")], sampling: sampling)
        guard case .failure(let f) = results[0] else { Issue.record("a prompt too long was answered"); return }
        #expect(f.reason == "too_long" && f.message.contains("do not fit"), "\(f.message)")
        #expect((try? results[1].get()) != nil)
        #expect(backend.engine.grammarProblem("root ::= (") != nil)
        #expect(backend.engine.grammarProblem(#"root ::= "a""#) == nil)
    }

    @Test func scoresRankNaturalTextAboveNoise() async throws {
        let backend = try Self.backend(parallel: 2, context: 64)
        let natural = "The cat sat on the mat. It was a sunny day, and the children played in the garden."
        let noise = "zq xv qqj wkz plm vbt rrx qjz kkw xqv zzp mnb vcx lkj hgf dsa poi uyt rew qaz"
        let long = Array(repeating: natural, count: 6).joined(separator: " ")
        let (scores, _) = await backend.score([natural, noise, long], maxTokens: 4096)
        let s = try scores.map { try $0.get() }
        #expect(s[0].perplexity < s[1].perplexity)
        #expect(s[0].bitsPerByte > 0 && s[0].bitsPerByte < s[1].bitsPerByte)
        #expect(s[0].bytes > 0 && s[0].tokens > 10)
        // A text longer than the window is scored window by window.
        #expect(s[2].tokens > 64)
        // The same call gives the same numbers; alone, a text gets nearly the same (other batches, other sums).
        let (same, _) = await backend.score([natural, noise, long], maxTokens: 4096)
        #expect(try same.map { try $0.get() } == s)
        let (alone, _) = await backend.score([natural], maxTokens: 4096)
        let a = try alone[0].get()
        #expect(
            a.tokens == s[0].tokens && abs(a.logprobSum - s[0].logprobSum) < 1e-2 * abs(s[0].logprobSum), "\(a) \(s[0])"
        )
    }

    @Test func perTokenLogprobsAddUpToTheScore() async throws {
        let backend = try Self.backend(parallel: 2, context: 64)
        let text = "The cat sat on the mat. It was a sunny day."
        let results = await backend.tokenLogprobs([text, "Paris is the capital of France."])
        let (tokens, logprobs) = try results[0].get()
        #expect(logprobs.count == tokens.count - 1 && logprobs.allSatisfy { $0 <= 0 && $0.isFinite })
        let (scores, _) = await backend.score([text, "Paris is the capital of France."], maxTokens: 64)
        let total = try scores[0].get().logprobSum
        #expect(abs(Double(logprobs.reduce(0, +)) - total) < 1e-3 * abs(total))
        // "France" after "Paris is the capital of" is likely (the last value is the full stop).
        let (_, paris) = try results[1].get()
        #expect(paris.count >= 5 && paris[paris.count - 2] > -3, "\(paris)")
    }

    @Test func embeddingsArePooledPerText() async throws {
        let backend = try Self.backend(parallel: 4, context: 128, embeddings: true)
        let (vectors, _) = await backend.embed(["a cat on a mat", "a cat on a mat", "quantum chromodynamics"])
        let v = try vectors.map { try $0.get() }
        #expect(v[0].count == backend.engine.embeddingSize && v[0].count > 0)
        #expect(v[0] == v[1])
        #expect(v[0] != v[2])
    }

    @Test func cacheReplaysSuccessesAndNeverKeepsCutAnswers() async throws {
        let backend = try Self.backend()
        let dir = TemporaryDirectory()
        let cache = try ResponseCache(path: dir.file("cache/responses.sqlite"))
        let calls = CachedInference(backend: backend, cache: cache, templateHash: "t1")
        var sampling = Sampling()
        sampling.maxTokens = 24
        let (first, r1) = try await calls.complete(Self.requests(), sampling: sampling)
        #expect(r1.cacheHits == 0 && r1.cacheMisses == 6)
        let answered = first.filter { (try? $0.get()) != nil }.count
        #expect(answered >= 3 && r1.failures["length", default: 0] == 6 - answered)
        let (second, r2) = try await calls.complete(Self.requests(), sampling: sampling)
        #expect(r2.cacheHits == answered && r2.cacheMisses == 6 - answered && r2.statistics.calls == 6 - answered)
        #expect(first.map { try? $0.get() } == second.map { try? $0.get() })
        // Another template hash, seed or max_tokens is another key.
        let other = CachedInference(backend: backend, cache: cache, templateHash: "t2")
        #expect(try await other.complete([Self.requests()[0]], sampling: sampling).report.cacheMisses == 1)
        sampling.maxTokens = 2
        let (cut, r3) = try await calls.complete([Self.requests()[0]], sampling: sampling)
        guard case .failure(let f) = cut[0] else { Issue.record("a cut answer was a success"); return }
        #expect(f.reason == "length" && r3.failures["length"] == 1)
        #expect(try await calls.complete([Self.requests()[0]], sampling: sampling).report.cacheMisses == 1)
        #expect(try cache.count() == answered + 1)
    }
}
