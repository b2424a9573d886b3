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
        var report = InferenceReport()
        let keys = requests.map {
            ResponseCache.key(
                operation: "complete", model: backend.modelIdentity, template: templateHash, prompt: $0.canonical,
                sampling: sampling.canonical)
        }
        let hits = try cache?.lookup(keys, as: Completion.self) ?? [:]
        var results = [Result<Completion, InferenceFailure>](
            repeating: .failure(Self.unanswered), count: requests.count)
        var missing: [Int] = []
        for i in requests.indices {
            if let hit = hits[keys[i]] { results[i] = .success(hit) } else { missing.append(i) }
        }
        report.cacheHits = requests.count - missing.count
        report.cacheMisses = missing.count
        if !missing.isEmpty {
            let (answers, statistics) = await backend.complete(missing.map { requests[$0] }, sampling: sampling)
            report.statistics = statistics
            var fresh: [(key: String, value: Completion)] = []
            for (k, i) in missing.enumerated() {
                results[i] = answers[k]
                if case .success(let c) = answers[k], c.finishReason != .length { fresh.append((keys[i], c)) }
            }
            try cache?.store(fresh, operation: "complete", model: backend.modelIdentity)
        }
        let final: [Result<Completion, InferenceFailure>] = results.map { result in
            switch result {
            case .success(let c) where c.finishReason == .length:
                return .failure(
                    InferenceFailure(
                        reason: "length", message: "the answer was cut off at max_tokens (\(c.completionTokens) tokens)"
                    ))
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
        var report = InferenceReport()
        let keys = texts.map {
            ResponseCache.key(
                operation: "score", model: backend.modelIdentity, template: templateHash, prompt: $0,
                sampling: "max_tokens=\(maxTokens) window=\(llama.engine.configuration.context)")
        }
        let hits = try cache?.lookup(keys, as: TextScore.self) ?? [:]
        var results = [Result<TextScore, InferenceFailure>](repeating: .failure(Self.unanswered), count: texts.count)
        var missing: [Int] = []
        for i in texts.indices {
            if let hit = hits[keys[i]] { results[i] = .success(hit) } else { missing.append(i) }
        }
        report.cacheHits = texts.count - missing.count
        report.cacheMisses = missing.count
        if !missing.isEmpty {
            let (scores, statistics) = await llama.score(missing.map { texts[$0] }, maxTokens: maxTokens)
            report.statistics = statistics
            var fresh: [(key: String, value: TextScore)] = []
            for (k, i) in missing.enumerated() {
                results[i] = scores[k]
                if case .success(let s) = scores[k] { fresh.append((keys[i], s)) }
            }
            try cache?.store(fresh, operation: "score", model: backend.modelIdentity)
        }
        for r in results {
            if case .failure(let f) = r { report.failures[f.reason, default: 0] += 1 }
        }
        return (results, report)
    }
}
