import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// A model served over the OpenAI-compatible HTTP API: llama-server, vLLM, SGLang, Ollama.
///
/// Requests of a call run concurrently, at most ``OpenAIConfiguration/maxInFlight`` at once for the whole
/// backend, and their answers come back in request order. Connection errors, timeouts, HTTP 408, 429 and 5xx
/// are retried (see ``OpenAIConfiguration``); the retries are counted by cause in
/// ``CallStatistics/retries`` and never change an answer. Call ``shutdown()`` when done.
public final class OpenAIBackend: InferenceBackend {
    /// The configuration the backend was made with.
    public let configuration: OpenAIConfiguration
    /// `openai:<base URL> model=<model>`.
    public let modelIdentity: String
    /// `openai`.
    public let kind = "openai"

    private let baseURL: String
    private let apiKey: String?
    private let client: HTTPClient
    private let policy: RetryPolicy
    private let limit: InFlightLimit
    private let isShutDown = Mutex(false)

    /// The largest answer body read, in bytes.
    static let maxBodyBytes = 64 << 20
    /// The most texts sent in one embeddings request.
    static let embeddingBatchSize = 64

    /// A backend for the server `configuration` names; the API key, if any, is read from `environment` now.
    ///
    /// - Throws: ``OpenAIConfigurationError`` when a field is unusable or the API key variable is unset.
    public init(
        _ configuration: OpenAIConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(OpenAIConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        baseURL = configuration.normalizedBaseURL
        apiKey = try configuration.apiKey(from: environment)
        modelIdentity = "openai:\(baseURL) model=\(configuration.model)"
        policy = RetryPolicy(
            maxAttempts: configuration.maxAttempts, backoffBase: configuration.backoffBase,
            backoffCap: configuration.backoffCap)
        limit = InFlightLimit(configuration.maxInFlight)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(configuration))
    }

    private static func clientConfiguration(_ configuration: OpenAIConfiguration) -> HTTPClient.Configuration {
        var client = HTTPClient.Configuration()
        client.timeout = .init(connect: timeAmount(configuration.connectTimeout))
        // The backend's own limit bounds open requests (HTTP/2 included); the pool keeps no more connections
        // than that, so no request waits in the pool, where its time would count against its timeout.
        client.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxInFlight)
        // A refused connection fails the attempt at once, so it is retried (and counted) here, with backoff,
        // instead of waiting out the connect timeout inside the client.
        client.connectionPool.retryConnectionEstablishment = false
        return client
    }

    /// Closes the connections. Requests made afterwards fail with reason `shutdown`.
    public func shutdown() async {
        guard markShutDown() else { return }
        try? await client.shutdown()
    }

    deinit {
        // A client dropped while running trips a debug assertion in AsyncHTTPClient; shutting it down in the
        // background keeps it alive until it is closed.
        if markShutDown() { client.shutdown { _ in } }
    }

    /// Marks the backend shut down; `true` for the first caller only.
    private func markShutDown() -> Bool {
        isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
    }

    // MARK: - Completions

    /// Answers every request, in order, at most `maxInFlight` at once.
    public func complete(_ requests: [CompletionRequest], sampling: Sampling) async
        -> (results: [Result<Completion, InferenceFailure>], statistics: CallStatistics)
    {
        let answers = await concurrentMap(requests, limit: configuration.maxInFlight) { request in
            await self.complete(request, sampling: sampling)
        }
        var statistics = CallStatistics()
        for (result, exchange) in answers {
            statistics.record(exchange)
            if case .success(let completion) = result {
                statistics.promptTokens += completion.promptTokens
                statistics.completionTokens += completion.completionTokens
            }
        }
        return (answers.map(\.0), statistics)
    }

    private func complete(_ request: CompletionRequest, sampling: Sampling) async -> (
        Result<Completion, InferenceFailure>, Exchange
    ) {
        let path = OpenAIPayload.path(for: request.prompt)
        let body = OpenAIPayload.completionBody(model: configuration.model, prompt: request.prompt, sampling: sampling)
        let exchange = await post(path: path, body: body)
        let result = exchange.result.flatMap {
            OpenAIPayload.completion(from: $0, prompt: request.prompt, url: self.baseURL + path)
        }
        return (result, exchange)
    }

    // MARK: - Embeddings

    /// Embeds the texts in requests of at most 64 inputs; a failed request fails each of its texts.
    public func embed(_ texts: [String]) async -> (
        results: [Result<[Float], InferenceFailure>], statistics: CallStatistics
    ) {
        let batches = stride(from: 0, to: texts.count, by: Self.embeddingBatchSize).map {
            Array(texts[$0..<min($0 + Self.embeddingBatchSize, texts.count)])
        }
        let answers = await concurrentMap(batches, limit: configuration.maxInFlight) { batch in
            await self.embedBatch(batch)
        }
        var statistics = CallStatistics()
        var results: [Result<[Float], InferenceFailure>] = []
        results.reserveCapacity(texts.count)
        for (batch, (result, exchange)) in zip(batches, answers) {
            statistics.record(exchange)
            switch result {
            case .success(let answer):
                statistics.promptTokens += answer.promptTokens
                results += answer.vectors.map { .success($0) }
            case .failure(let failure):
                results += Array(repeating: .failure(failure), count: batch.count)
            }
        }
        return (results, statistics)
    }

    private func embedBatch(_ texts: [String]) async -> (
        Result<(vectors: [[Float]], promptTokens: Int), InferenceFailure>, Exchange
    ) {
        let path = "/embeddings"
        let exchange = await post(
            path: path, body: OpenAIPayload.embeddingBody(model: configuration.model, texts: texts))
        let result = exchange.result.flatMap {
            OpenAIPayload.embeddings(from: $0, count: texts.count, url: self.baseURL + path)
        }
        return (result, exchange)
    }

    // MARK: - Sending with retries

    /// One request's life: its final answer body (or failure), its retries by cause, and its seconds.
    struct Exchange: Sendable {
        var result: Result<Data, InferenceFailure>
        var retries: [String: Int]
        var seconds: Double
    }

    /// POSTs `body` to `path` until it is answered, fails for good, or runs out of attempts.
    func post(path: String, body: Data) async -> Exchange {
        let url = baseURL + path
        let start = ContinuousClock.now
        var retries: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        func finish(_ result: Result<Data, InferenceFailure>) -> Exchange {
            Exchange(result: result, retries: retries, seconds: Self.seconds(since: start))
        }
        var attempts = 0
        while true {
            let outcome = await limit.withSlot { await self.attempt(url: url, body: body) }
            attempts += 1
            switch outcome {
            case .answered(let data):
                return finish(.success(data))
            case .final(let failure):
                return finish(.failure(failure))
            case .retryable(let cause, let retryAfter, let failure):
                guard attempts < policy.maxAttempts else {
                    return finish(.failure(Self.gaveUp(failure, attempts: attempts)))
                }
                retries[cause, default: 0] += 1
                let wait = policy.delay(retry: attempts - 1, retryAfter: retryAfter, using: &generator)
                do {
                    try await Task.sleep(for: .seconds(wait))
                } catch {
                    return finish(.failure(InferenceFailure(reason: "cancelled", message: "\(url): cancelled")))
                }
            }
        }
    }

    private static func gaveUp(_ failure: InferenceFailure, attempts: Int) -> InferenceFailure {
        InferenceFailure(reason: failure.reason, message: "\(failure.message) (gave up after \(attempts) attempts)")
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    // MARK: - One attempt

    /// How one attempt ended.
    enum AttemptOutcome: Sendable {
        /// A 2xx answer with its body.
        case answered(Data)
        /// Worth another attempt: `cause` names it in the statistics; `retryAfter` is the server's wish.
        case retryable(cause: String, retryAfter: Double?, failure: InferenceFailure)
        /// Not worth another attempt.
        case final(InferenceFailure)
    }

    /// What an attempt received before its body was judged.
    private struct RawAnswer: Sendable {
        var status: Int
        var retryAfter: String?
        var body: Data
    }

    private func attempt(url: String, body: Data) async -> AttemptOutcome {
        let request = makeRequest(url: url, body: body)
        let client = client
        let timeout = configuration.requestTimeout
        do {
            // The client's deadline covers the answer's head only; the time limit covers its body too.
            let answer = try await withTimeLimit(timeout) {
                let response = try await client.execute(request, timeout: Self.timeAmount(timeout))
                let bytes = try await response.body.collect(upTo: Self.maxBodyBytes)
                return RawAnswer(
                    status: Int(response.status.code), retryAfter: response.headers.first(name: "retry-after"),
                    body: Data(bytes.readableBytesView))
            }
            return Self.outcome(of: answer, url: url)
        } catch {
            return Self.outcome(of: error, url: url)
        }
    }

    private func makeRequest(url: String, body: Data) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(body)
        return request
    }

    private static func outcome(of answer: RawAnswer, url: String) -> AttemptOutcome {
        let status = answer.status
        if (200..<300).contains(status) { return .answered(answer.body) }
        let failure = InferenceFailure(
            reason: "http_\(status)", message: "\(url): HTTP \(status): \(OpenAIPayload.excerpt(answer.body))")
        guard RetryPolicy.isRetryable(status: status) else { return .final(failure) }
        let retryAfter = answer.retryAfter.flatMap { RetryPolicy.retryAfterSeconds($0) }
        return .retryable(cause: failure.reason, retryAfter: retryAfter, failure: failure)
    }

    private static func outcome(of error: any Error, url: String) -> AttemptOutcome {
        if error is NIOTooManyBytesError {
            return .final(
                InferenceFailure(reason: "bad_response", message: "\(url): answer larger than \(maxBodyBytes) bytes"))
        }
        let kind = RetryPolicy.classify(error)
        let failure = InferenceFailure(reason: kind.reason, message: "\(url): \(kind.reason): \(error)")
        return kind.isRetryable ? .retryable(cause: kind.reason, retryAfter: nil, failure: failure) : .final(failure)
    }

    private static func timeAmount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(min(seconds, 1e9) * 1e9))
    }
}

extension CallStatistics {
    /// Adds one request's life: a call, its retries and its latency.
    mutating func record(_ exchange: OpenAIBackend.Exchange) {
        calls += 1
        retries.merge(exchange.retries, uniquingKeysWith: +)
        latencies.append(exchange.seconds)
    }
}
