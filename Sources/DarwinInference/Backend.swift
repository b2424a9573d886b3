import Foundation

/// A chat message given to a model.
public struct ChatMessage: Sendable, Hashable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// How answers are drawn: the same for every request of a call, and part of the response cache key.
public struct Sampling: Sendable, Hashable, Codable {
    /// 0 means greedy decoding.
    public var temperature: Double = 0
    public var topK: Int = 0
    public var topP: Double = 1
    public var minP: Double = 0
    public var repeatPenalty: Double = 1
    public var repeatLastN: Int = 64
    public var seed: UInt64 = 0
    public var maxTokens: Int = 256
    public var stop: [String] = []
    /// A GBNF grammar the answer must follow (local models and llama-server).
    public var grammar: String? = nil
    /// Generate `maxTokens` whatever the model says (benchmarks).
    public var ignoreEOS = false

    public init() {}

    /// The parameters as one canonical line, for cache keys and provenance.
    public var canonical: String {
        var parts = [
            "temperature=\(temperature)", "top_k=\(topK)", "top_p=\(topP)", "min_p=\(minP)",
            "repeat_penalty=\(repeatPenalty)", "repeat_last_n=\(repeatLastN)", "seed=\(seed)",
            "max_tokens=\(maxTokens)",
        ]
        let stopCodes = stop.map { $0.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: ".") }
        parts.append("stop=" + stopCodes.joined(separator: ","))
        if let grammar { parts.append("grammar=\(grammar)") }
        if ignoreEOS { parts.append("ignore_eos") }
        return parts.joined(separator: " ")
    }
}

/// Why a generation ended.
public enum FinishReason: String, Sendable, Codable, CaseIterable {
    /// The model ended its answer, or a stop string was reached (and cut off).
    case stop
    /// `max_tokens` was reached: the answer is cut off, and darwin treats it as a failure of that request.
    case length
    /// A grammar-constrained answer was complete.
    case grammar
}

/// One generation request: chat messages rendered with the model's own template, or a plain prompt.
public struct CompletionRequest: Sendable, Hashable {
    public enum Prompt: Sendable, Hashable {
        /// Messages; the last one's content may be long (the document). For the local backend the messages
        /// before the last, and the last one's `sharedLead`, form a prefix shared by every request of a call.
        case chat([ChatMessage])
        /// A raw prompt (`/v1/completions`, base models).
        case text(String)
    }

    public var prompt: Prompt
    /// UTF-8 bytes at the start of the last message that every request of a step shares (its instructions):
    /// the local backend decodes them once per call with the messages before. It never changes the prompt.
    public var sharedLength: Int = 0

    public init(prompt: Prompt, sharedLength: Int = 0) {
        self.prompt = prompt
        self.sharedLength = sharedLength
    }

    public static func chat(_ messages: [ChatMessage]) -> CompletionRequest { .init(prompt: .chat(messages)) }
    public static func text(_ text: String) -> CompletionRequest { .init(prompt: .text(text)) }
}

/// A successful answer.
public struct Completion: Sendable, Hashable, Codable {
    public var text: String
    public var finishReason: FinishReason
    public var promptTokens: Int
    public var completionTokens: Int

    public init(text: String, finishReason: FinishReason, promptTokens: Int, completionTokens: Int) {
        self.text = text
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// Why a request failed. Failures are counted by `reason` and never cached.
public struct InferenceFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// A short stable word for statistics: `http_400`, `timeout`, `connection`, `length`, `too_long`,
    /// `engine`, `unparsable`, …
    public var reason: String
    public var message: String
    /// Tokens the model wrote before the failure (an answer cut off at `max_tokens`), else 0.
    public var completionTokens = 0

    public init(reason: String, message: String, completionTokens: Int = 0) {
        self.reason = reason
        self.message = message
        self.completionTokens = completionTokens
    }

    public var description: String { message }
}

/// What a backend did during one call, added to the step's statistics.
public struct CallStatistics: Sendable, Equatable {
    public var calls = 0
    public var promptTokens = 0
    public var completionTokens = 0
    /// Retries by cause: `connection`, `timeout`, `http_408`, `http_429`, `http_500`, …
    public var retries: [String: Int] = [:]
    /// Seconds each request took, from first attempt to answer (HTTP) or for the whole call (local).
    public var latencies: [Double] = []

    public init() {}

    public mutating func merge(_ other: CallStatistics) {
        calls += other.calls
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        retries.merge(other.retries, uniquingKeysWith: +)
        latencies += other.latencies
    }
}

/// A model that answers prompts: llama.cpp in the process, or an OpenAI-compatible server.
public protocol InferenceBackend: Sendable {
    /// What identifies the model in cache keys and provenance: the GGUF file's content hash, or the server
    /// URL and model name.
    var modelIdentity: String { get }
    /// `llama` or `openai`.
    var kind: String { get }

    /// Answers every request, in order; a failed request does not fail the others.
    func complete(_ requests: [CompletionRequest], sampling: Sampling) async
        -> (results: [Result<Completion, InferenceFailure>], statistics: CallStatistics)

    /// Embeddings of texts (one vector each).
    func embed(_ texts: [String]) async -> (results: [Result<[Float], InferenceFailure>], statistics: CallStatistics)

    /// The model's own tokenizer, when the backend has it in the process (a server's is out of reach).
    var tokenizer: (any TokenCounting)? { get }
}

extension InferenceBackend {
    public var tokenizer: (any TokenCounting)? { nil }
}

/// Counts tokens as a model does.
public protocol TokenCounting: Sendable {
    /// Tokens of a document's text (no start token).
    func tokenCount(_ text: String) -> Int
    /// UTF-8 bytes of `text` its first `n` tokens stand for; nil when it has no more than `n` tokens.
    func prefixBytes(_ text: String, tokens n: Int) -> Int?
}
