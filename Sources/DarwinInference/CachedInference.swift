import Foundation

/// What one call of a model step did, for the step's statistics.
public struct InferenceReport: Sendable, Equatable {
    public var statistics = CallStatistics()
    public var cacheHits = 0
    public var cacheMisses = 0
    /// Failed requests by reason (`length` for an answer cut off at max_tokens).
    public var failures: [String: Int] = [:]
    /// Answers by finish reason (including replayed ones).
    public var finishes: [String: Int] = [:]

    public init() {}
}

/// A backend behind the response cache: hits are replayed, misses are asked and, when they succeed, stored in
/// one transaction per call.
public final class CachedInference: Sendable {
    public let backend: any InferenceBackend
    public let cache: ResponseCache?
    /// The hash of the prompt template the requests were made from.
    public let templateHash: String

    /// What a request is until it is answered from the cache or by the backend (never returned).
    private static let unanswered = InferenceFailure(reason: "unanswered", message: "not answered")

    public init(backend: any InferenceBackend, cache: ResponseCache?, templateHash: String) {
        self.backend = backend
        self.cache = cache
        self.templateHash = templateHash
    }

    /// Answers every request in order. An answer cut off at `maxTokens` is a failure (reason `length`), never
    /// kept in the cache.
    public func complete(_ requests: [CompletionRequest], sampling: Sampling) async throws
        -> (results: [Result<Completion, InferenceFailure>], report: InferenceReport)
    {
        let keys = requests.map {
            ResponseCache.key(
                operation: "complete", model: backend.modelIdentity, template: templateHash, prompt: $0.canonical,
                sampling: sampling.canonical)
        }
        let (results, replayed) = try await replayOrAsk(
            keys, operation: "complete", keep: { $0.finishReason != .length }
        ) { missing in
            await self.backend.complete(missing.map { requests[$0] }, sampling: sampling)
        }
        var report = replayed
        let final: [Result<Completion, InferenceFailure>] = results.map { result in
            switch result {
            case .success(let c) where c.finishReason == .length:
                return .failure(
                    InferenceFailure(
                        reason: "length",
                        message: "the answer was cut off at max_tokens (\(c.completionTokens) tokens)",
                        completionTokens: c.completionTokens))
            default: return result
            }
        }
        for (i, r) in results.enumerated() {
            if case .success(let c) = r { report.finishes[c.finishReason.rawValue, default: 0] += 1 }
            if case .failure(let f) = final[i] { report.failures[f.reason, default: 0] += 1 }
        }
        return (final, report)
    }

    /// Log-probabilities of texts (local models only).
    public func score(_ texts: [String], maxTokens: Int) async throws
        -> (results: [Result<TextScore, InferenceFailure>], report: InferenceReport)
    {
        guard let llama = backend as? LlamaBackend else {
            throw LlamaError("scores need the llama backend (servers do not return prompt log-probabilities alike)")
        }
        let keys = texts.map {
            ResponseCache.key(
                operation: "score", model: backend.modelIdentity, template: templateHash, prompt: $0,
                sampling: "max_tokens=\(maxTokens) window=\(llama.engine.configuration.context)")
        }
        let (results, replayed) = try await replayOrAsk(keys, operation: "score", keep: { _ in true }) { missing in
            await llama.score(missing.map { texts[$0] }, maxTokens: maxTokens)
        }
        var report = replayed
        for r in results {
            if case .failure(let f) = r { report.failures[f.reason, default: 0] += 1 }
        }
        return (results, report)
    }

    /// Replays the answers the cache has for `keys`, asks `ask` for the others (by index), and stores the
    /// fresh successes `keep` accepts in one transaction.
    private func replayOrAsk<Value: Codable & Sendable>(
        _ keys: [String], operation: String, keep: (Value) -> Bool,
        ask: ([Int]) async -> (results: [Result<Value, InferenceFailure>], statistics: CallStatistics)
    ) async throws -> ([Result<Value, InferenceFailure>], InferenceReport) {
        var report = InferenceReport()
        let hits = try cache?.lookup(keys, as: Value.self) ?? [:]
        var results = [Result<Value, InferenceFailure>](repeating: .failure(Self.unanswered), count: keys.count)
        var missing: [Int] = []
        for i in keys.indices {
            if let hit = hits[keys[i]] { results[i] = .success(hit) } else { missing.append(i) }
        }
        report.cacheHits = keys.count - missing.count
        report.cacheMisses = missing.count
        guard !missing.isEmpty else { return (results, report) }
        let (answers, statistics) = await ask(missing)
        report.statistics = statistics
        var fresh: [(key: String, value: Value)] = []
        for (k, i) in missing.enumerated() {
            results[i] = answers[k]
            if case .success(let value) = answers[k], keep(value) { fresh.append((keys[i], value)) }
        }
        try cache?.store(fresh, operation: operation, model: backend.modelIdentity)
        return (results, report)
    }
}
