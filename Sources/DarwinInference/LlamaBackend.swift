import DarwinCore
import DarwinIO
import Foundation

/// Log-probability of a text under a model, from which perplexity and bits per byte follow.
public struct TextScore: Sendable, Hashable, Codable {
    /// Sum of natural-log probabilities of the scored tokens.
    public var logprobSum: Double
    /// Tokens scored (every token of a window but its first).
    public var tokens: Int
    /// UTF-8 bytes the scored tokens stand for.
    public var bytes: Int

    public init(logprobSum: Double, tokens: Int, bytes: Int) {
        self.logprobSum = logprobSum
        self.tokens = tokens
        self.bytes = bytes
    }

    /// exp of the mean negative log-likelihood per token.
    public var perplexity: Double { tokens > 0 ? exp(-logprobSum / Double(tokens)) : .nan }
    /// Negative log-likelihood in bits per UTF-8 byte (comparable across tokenizers).
    public var bitsPerByte: Double { bytes > 0 ? -logprobSum / log(2) / Double(bytes) : .nan }
}

/// A GGUF model run by llama.cpp inside the process.
///
/// The documents of a call decode together (`parallel` sequences at a time, a finished one making room for the
/// next at once); the part of the prompt every request shares — the messages before the last and the first
/// ``CompletionRequest/sharedLength`` bytes of the last — is decoded once per call and its cache entries shared
/// by every sequence.
public final class LlamaBackend: InferenceBackend {
    public let engine: LlamaEngine
    public let modelIdentity: String
    public var kind: String { "llama" }

    /// Opens the model; its identity is the XXH3-128 of the GGUF file's bytes.
    public init(_ configuration: LlamaConfiguration) throws {
        engine = try LlamaEngine(configuration)
        let hash = try ContentHashes.hash(of: configuration.modelPath)
        modelIdentity = "llama:\(hash) \((configuration.modelPath as NSString).lastPathComponent)"
    }

    public var tokenizer: (any TokenCounting)? { self }

    /// Marks where the document goes when the template is applied; never seen by the model.
    private static let slot = "\u{E000}darwin-slot\u{E001}"

    /// A request turned into tokens: the shared part as text, the rest as tokens.
    private struct Prepared {
        var shared: String
        var own: [Int32]
    }

    private func prepare(_ request: CompletionRequest) throws -> Prepared {
        switch request.prompt {
        case .text(let text):
            return Prepared(shared: "", own: engine.tokenize(text, addBOS: true, special: false))
        case .chat(let messages):
            guard let last = messages.last else { throw LlamaError("a chat request without messages") }
            var withSlot = messages
            withSlot[withSlot.count - 1].content = Self.slot
            let rendered = try engine.applyTemplate(withSlot)
            guard let range = rendered.range(of: Self.slot) else {
                throw LlamaError("the chat template dropped the last message")
            }
            let head = String(rendered[..<range.lowerBound])
            let tail = String(rendered[range.upperBound...])
            let content = Array(last.content.utf8)
            let cut = min(max(0, request.sharedLength), content.count)
            let lead = String(decoding: content[..<cut], as: UTF8.self)
            let rest = String(decoding: content[cut...], as: UTF8.self)
            let own =
                engine.tokenize(rest, addBOS: false, special: false)
                + engine.tokenize(tail, addBOS: false, special: true)
            return Prepared(shared: head + lead, own: own)
        }
    }

    /// A request's own seed: the call's seed and its prompt, so that an answer never depends on its batch.
    private static func seed(_ request: CompletionRequest, _ sampling: Sampling) -> UInt32 {
        UInt32(truncatingIfNeeded: Hashing.xxh64(request.canonical, seed: sampling.seed))
    }

    public func complete(_ requests: [CompletionRequest], sampling: Sampling) async
        -> (results: [Result<Completion, InferenceFailure>], statistics: CallStatistics)
    {
        var statistics = CallStatistics()
        guard !requests.isEmpty else { return ([], statistics) }
        let started = Date()
        var valid: [(index: Int, prepared: Prepared)] = []
        var results = [Result<Completion, InferenceFailure>](
            repeating: .failure(InferenceFailure(reason: "engine", message: "not answered")), count: requests.count)
        for (i, request) in requests.enumerated() {
            do {
                valid.append((i, try prepare(request)))
            } catch {
                results[i] = .failure(InferenceFailure(reason: "prompt", message: "\(error)"))
            }
        }
        let sharedTexts = Set(valid.map(\.prepared.shared))
        let prefix: [Int32]
        var calls: [(tokens: [Int32], seed: UInt32)] = []
        let shared = sharedTexts.count == 1 ? sharedTexts.first : nil
        let sharedTokens = shared.map { engine.tokenize($0, addBOS: true, special: true) }
        if let sharedTokens, sharedTokens.count <= engine.configuration.prefixTokens {
            prefix = sharedTokens
            calls = valid.map { ($0.prepared.own, Self.seed(requests[$0.index], sampling)) }
        } else {
            // Requests that share nothing, or a shared part longer than the room kept for it: each request
            // carries its whole prompt.
            prefix = []
            calls = valid.map {
                (
                    engine.tokenize($0.prepared.shared, addBOS: true, special: true) + $0.prepared.own,
                    Self.seed(requests[$0.index], sampling)
                )
            }
        }
        do {
            let (answers, _) = try await engine.generate(prefix: prefix, requests: calls, sampling: sampling)
            for (k, i) in valid.map(\.index).enumerated() {
                let a = answers[k]
                statistics.promptTokens += a.promptTokens
                statistics.completionTokens += a.completionTokens
                if let finish = a.finish {
                    results[i] = .success(
                        Completion(
                            text: a.text, finishReason: finish, promptTokens: a.promptTokens,
                            completionTokens: a.completionTokens))
                } else {
                    let reason = a.error.contains("do not fit") ? "too_long" : "engine"
                    results[i] = .failure(InferenceFailure(reason: reason, message: a.error))
                }
            }
        } catch {
            for (i, _) in valid { results[i] = .failure(InferenceFailure(reason: "engine", message: "\(error)")) }
        }
        statistics.calls = requests.count
        let seconds = Date().timeIntervalSince(started)
        statistics.latencies = Array(repeating: seconds, count: requests.count)
        return (results, statistics)
    }

    public func embed(_ texts: [String]) async -> (
        results: [Result<[Float], InferenceFailure>], statistics: CallStatistics
    ) {
        var statistics = CallStatistics()
        let context = engine.configuration.context
        let sequences = texts.map { Array(engine.tokenize($0, addBOS: true, special: false).prefix(context)) }
        statistics.calls = texts.count
        statistics.promptTokens = sequences.reduce(0) { $0 + $1.count }
        do {
            let (vectors, _) = try await engine.embed(sequences)
            return (vectors.map { .success($0) }, statistics)
        } catch {
            let failure = InferenceFailure(reason: "engine", message: "\(error)")
            return (texts.map { _ in .failure(failure) }, statistics)
        }
    }

    /// Log-probabilities of the first `maxTokens` tokens of each text, scored in windows of the context size
    /// (each window on its own, its first token as context only).
    public func score(_ texts: [String], maxTokens: Int) async -> (
        results: [Result<TextScore, InferenceFailure>], statistics: CallStatistics
    ) {
        var statistics = CallStatistics()
        let window = engine.configuration.context
        var windows: [[Int32]] = []
        var owner: [Int] = []
        var bytes = [Int](repeating: 0, count: texts.count)
        for (i, text) in texts.enumerated() {
            let tokens = Array(engine.tokenize(text, addBOS: true, special: false).prefix(maxTokens))
            var start = 0
            while start < tokens.count {
                let piece = Array(tokens[start..<min(tokens.count, start + window)])
                if piece.count >= 2 {
                    windows.append(piece)
                    owner.append(i)
                    bytes[i] += engine.byteCount(of: Array(piece.dropFirst()))
                }
                start += window
            }
            statistics.promptTokens += tokens.count
        }
        statistics.calls = texts.count
        let started = Date()
        do {
            let (scores, _, _) = try await engine.score(windows)
            var sums = [Double](repeating: 0, count: texts.count)
            var counts = [Int](repeating: 0, count: texts.count)
            var errors = [String?](repeating: nil, count: texts.count)
            for (k, s) in scores.enumerated() {
                if !s.error.isEmpty { errors[owner[k]] = s.error }
                sums[owner[k]] += s.logprob
                counts[owner[k]] += s.tokens
            }
            statistics.latencies = Array(repeating: Date().timeIntervalSince(started), count: texts.count)
            let results: [Result<TextScore, InferenceFailure>] = texts.indices.map { i in
                if let e = errors[i] { return .failure(InferenceFailure(reason: "engine", message: e)) }
                if counts[i] == 0 {
                    return .failure(InferenceFailure(reason: "too_short", message: "fewer than 2 tokens to score"))
                }
                return .success(TextScore(logprobSum: sums[i], tokens: counts[i], bytes: bytes[i]))
            }
            return (results, statistics)
        } catch {
            let failure = InferenceFailure(reason: "engine", message: "\(error)")
            return (texts.map { _ in .failure(failure) }, statistics)
        }
    }
}

extension LlamaBackend {
    /// The tokens of each text (its first `context` tokens, the first one the model's start token) and the
    /// log-probability of each token after the first given those before it, decoded together.
    public func tokenLogprobs(_ texts: [String]) async -> [Result<
        (tokens: [Int32], logprobs: [Float]), InferenceFailure
    >] {
        let context = engine.configuration.context
        let sequences = texts.map { Array(engine.tokenize($0, addBOS: true, special: false).prefix(context)) }
        do {
            let (scores, perToken, _) = try await engine.score(sequences, perToken: true)
            return sequences.indices.map { i in
                if !scores[i].error.isEmpty {
                    return .failure(InferenceFailure(reason: "too_long", message: scores[i].error))
                }
                return .success((sequences[i], perToken[i]))
            }
        } catch {
            return texts.map { _ in .failure(InferenceFailure(reason: "engine", message: "\(error)")) }
        }
    }
}

extension CompletionRequest {
    /// The prompt as one stable line of text (messages with their roles), for cache keys and seeds.
    public var canonical: String {
        switch prompt {
        case .text(let text): return "text\u{1}" + text
        case .chat(let messages):
            return "chat" + messages.map { "\u{1}\($0.role)\u{2}\($0.content)" }.joined()
        }
    }
}

extension LlamaBackend: TokenCounting {
    public func tokenCount(_ text: String) -> Int { engine.tokenize(text, addBOS: false, special: false).count }

    public func prefixBytes(_ text: String, tokens n: Int) -> Int? {
        let tokens = engine.tokenize(text, addBOS: false, special: false)
        guard tokens.count > n else { return nil }
        return engine.byteCount(of: Array(tokens.prefix(n)))
    }
}
