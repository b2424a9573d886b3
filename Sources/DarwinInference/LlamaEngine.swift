import CDarwinLlama
import Foundation

/// How a local model is opened: one context shared by `parallel` sequences.
public struct LlamaConfiguration: Sendable, Hashable {
    /// The GGUF file.
    public var modelPath: String
    /// Sequences decoded together.
    public var parallel: Int = 8
    /// Tokens of context per sequence (prompt and answer).
    public var context: Int = 2048
    /// Tokens reserved for the prompt prefix shared by every request.
    public var prefixTokens: Int = 1024
    /// Most tokens given to the model in one step.
    public var batchTokens: Int = 512
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Open the model for embeddings (mean-pooled hidden states) instead of logits.
    public var embeddings = false

    public init(modelPath: String) { self.modelPath = modelPath }
}

/// One failure of the engine as a whole (not of one request).
public struct LlamaError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A raw answer of the engine to one request.
struct EngineAnswer: Sendable {
    var text: String
    /// `nil` when the request failed (see `error`).
    var finish: FinishReason?
    var error: String
    var promptTokens: Int
    var completionTokens: Int
}

/// llama.cpp in the process, through darwin's engine library (loaded at run time).
///
/// Calls are serialized on one thread of their own: the context is not shared between threads, and a long
/// decode does not hold up Swift's cooperative threads.
public final class LlamaEngine: @unchecked Sendable {
    public let configuration: LlamaConfiguration
    private let api: UnsafePointer<dl_api>
    private let engine: OpaquePointer
    private let queue: DispatchQueue

    /// Loads the engine library and the model; fails with a message that says what to do.
    public init(_ configuration: LlamaConfiguration) throws {
        self.configuration = configuration
        let api = try Self.loadLibrary()
        self.api = api
        guard FileManager.default.isReadableFile(atPath: configuration.modelPath) else {
            throw LlamaError("\(configuration.modelPath): no such model file")
        }
        var error = [CChar](repeating: 0, count: 512)
        var params = dl_engine_params()
        params.n_seq = Int32(configuration.parallel)
        params.n_ctx_seq = Int32(configuration.context)
        params.n_prefix_max = Int32(configuration.prefixTokens)
        params.n_batch = Int32(max(configuration.batchTokens, configuration.parallel + 1))
        params.n_threads = Int32(max(1, configuration.threads))
        params.embeddings = configuration.embeddings ? 1 : 0
        let opened = configuration.modelPath.withCString { path -> OpaquePointer? in
            params.model_path = path
            return api.pointee.open(&params, &error, error.count)
        }
        guard let opened else { throw LlamaError(text(of: error)) }
        self.engine = opened
        self.queue = Self.compute
    }

    deinit { api.pointee.close(engine) }

    /// The llama.cpp version of the loaded library.
    public var llamaVersion: String { api.pointee.llama_version().map { String(cString: $0) } ?? "unknown" }

    /// Every engine of the process computes on this one queue: each uses every core it is given, so two at
    /// once would only take turns badly.
    private static let compute = DispatchQueue(label: "darwin.llama")

    private static let loaded = LockedValue<UnsafePointer<dl_api>?>(nil)

    private static func loadLibrary() throws -> UnsafePointer<dl_api> {
        try loaded.withLock { cached in
            if let cached { return cached }
            guard let library = LlamaInstallation.engineLibrary else {
                throw LlamaError(
                    "the llama backend needs darwin's llama.cpp engine, not built on this machine: run scripts/build-llama"
                )
            }
            var error = [CChar](repeating: 0, count: 512)
            guard let api = dl_load(library.path, &error, error.count) else {
                throw LlamaError("\(library.path): \(text(of: error))")
            }
            cached = api
            return api
        }
    }

    // MARK: - model facts

    /// A GGUF metadata value (`general.name`, `tokenizer.chat_template`, …).
    public func metadata(_ key: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 1 << 16)
        let n = api.pointee.meta(engine, key, &buffer, buffer.count)
        return n < 0 ? nil : text(of: buffer)
    }

    public var vocabularySize: Int { Int(api.pointee.n_vocab(engine)) }
    public var embeddingSize: Int { Int(api.pointee.n_embd(engine)) }
    public var trainedContext: Int { Int(api.pointee.n_ctx_train(engine)) }

    /// Tokens of `text`; `special` lets control tokens in the text be read as such (template text only,
    /// never document text).
    public func tokenize(_ text: String, addBOS: Bool, special: Bool) -> [Int32] {
        let utf8 = Array(text.utf8)
        // Every token stands for at least one byte; the start token and a few special ones need room too.
        var tokens = [Int32](repeating: 0, count: utf8.count + 8)
        let n = utf8.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                api.pointee.tokenize(
                    engine, chars.baseAddress, Int32(chars.count), &tokens, Int32(tokens.count), addBOS ? 1 : 0,
                    special ? 1 : 0)
            }
        }
        precondition(n >= 0, "llama_tokenize needed \(-n) tokens for \(utf8.count) bytes")
        return Array(tokens.prefix(Int(n)))
    }

    /// UTF-8 bytes of the text the tokens stand for.
    public func byteCount(of tokens: [Int32]) -> Int {
        Int(tokens.withUnsafeBufferPointer { api.pointee.token_bytes(engine, $0.baseAddress, Int32($0.count)) })
    }

    /// The model's own chat template applied to `messages`, ending with the assistant's turn opened.
    public func applyTemplate(_ messages: [ChatMessage]) throws -> String {
        let roles = messages.map { strdup($0.role) }
        let contents = messages.map { strdup($0.content) }
        defer { (roles + contents).forEach { free($0) } }
        let rolePointers = roles.map { UnsafePointer($0) }
        let contentPointers = contents.map { UnsafePointer($0) }
        var capacity = 2 * messages.reduce(256) { $0 + $1.content.utf8.count + $1.role.utf8.count }
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let n = api.pointee.chat_template(
                engine, rolePointers, contentPointers, Int32(messages.count), 1, &buffer, Int32(capacity))
            if n < 0 { throw LlamaError("the model has no chat template llama.cpp knows") }
            if Int(n) < capacity {
                return String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity = Int(n) + 1
        }
    }

    /// Nil when the GBNF grammar parses, otherwise why not.
    public func grammarProblem(_ grammar: String) -> String? {
        api.pointee.check_grammar(engine, grammar) == 0 ? nil : "the grammar does not parse (GBNF, root rule `root`)"
    }

    // MARK: - calls

    /// Generates an answer for every request; `prefix` is decoded once and shared.
    func generate(prefix: [Int32], requests: [(tokens: [Int32], seed: UInt32)], sampling: Sampling) async throws
        -> (answers: [EngineAnswer], stats: dl_call_stats)
    {
        try await onQueue { [self] in
            try generateNow(prefix: prefix, requests: requests, sampling: sampling)
        }
    }

    /// Generates for prompts given as tokens, without a shared prefix (benchmarks): each answer's text and
    /// the tokens generated for it.
    public func generate(tokens prompts: [[Int32]], sampling: Sampling) async throws -> [(text: String, tokens: Int)] {
        let requests = prompts.map { (tokens: $0, seed: UInt32(truncatingIfNeeded: sampling.seed)) }
        let (answers, _) = try await generate(prefix: [], requests: requests, sampling: sampling)
        return answers.map { ($0.text, $0.completionTokens) }
    }

    /// Sum of log-probabilities of every token but the first, and how many were scored, per sequence.
    func score(_ sequences: [[Int32]], perToken: Bool = false) async throws -> (
        scores: [(logprob: Double, tokens: Int, error: String)], perToken: [[Float]], stats: dl_call_stats
    ) {
        try await onQueue { [self] in
            try scoreNow(sequences, perToken: perToken)
        }
    }

    /// Mean-pooled embeddings of token sequences.
    func embed(_ sequences: [[Int32]]) async throws -> (vectors: [[Float]], stats: dl_call_stats) {
        try await onQueue { [self] in
            try embedNow(sequences)
        }
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func generateNow(prefix: [Int32], requests: [(tokens: [Int32], seed: UInt32)], sampling: Sampling) throws
        -> (answers: [EngineAnswer], stats: dl_call_stats)
    {
        var results = [dl_result](repeating: dl_result(), count: requests.count)
        var stats = dl_call_stats()
        var error = [CChar](repeating: 0, count: 512)
        let stops = sampling.stop.map { strdup($0) }
        defer { stops.forEach { free($0) } }
        let stopPointers = stops.map { UnsafePointer($0) }
        let status: Int32 = withCRequests(requests.map(\.tokens), seeds: requests.map(\.seed)) { cRequests in
            stopPointers.withUnsafeBufferPointer { stopBuffer in
                withOptionalCString(sampling.grammar) { grammar in
                    var s = dl_sampling()
                    s.temperature = Float(sampling.temperature)
                    s.top_k = Int32(sampling.topK)
                    s.top_p = Float(sampling.topP)
                    s.min_p = Float(sampling.minP)
                    s.repeat_penalty = Float(sampling.repeatPenalty)
                    s.repeat_last_n = Int32(sampling.repeatLastN)
                    s.max_tokens = Int32(sampling.maxTokens)
                    s.ignore_eos = sampling.ignoreEOS ? 1 : 0
                    s.grammar = grammar
                    s.stop = stopBuffer.baseAddress
                    s.n_stop = Int32(stopBuffer.count)
                    return api.pointee.generate(
                        engine, prefix, Int32(prefix.count), &cRequests, Int32(cRequests.count), &s, &results, &stats,
                        &error, error.count)
                }
            }
        }
        var answers: [EngineAnswer] = []
        answers.reserveCapacity(results.count)
        for i in results.indices {
            let r = results[i]
            let text =
                r.text.map {
                    String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(r.text_len)), as: UTF8.self)
                }
                ?? ""
            let message = fixedText(r.error)
            let finish: FinishReason? =
                switch r.finish {
                case Int32(DL_FINISH_STOP.rawValue): .stop
                case Int32(DL_FINISH_LENGTH.rawValue): .length
                case Int32(DL_FINISH_GRAMMAR.rawValue): .grammar
                default: nil
                }
            answers.append(
                EngineAnswer(
                    text: text, finish: finish, error: message, promptTokens: Int(r.prompt_tokens),
                    completionTokens: Int(r.completion_tokens)))
            api.pointee.free_result(&results[i])
        }
        if status != 0 { throw LlamaError(text(of: error)) }
        return (answers, stats)
    }

    private func scoreNow(_ sequences: [[Int32]], perToken: Bool) throws -> (
        scores: [(logprob: Double, tokens: Int, error: String)], perToken: [[Float]], stats: dl_call_stats
    ) {
        var scores = [dl_score](repeating: dl_score(), count: sequences.count)
        var stats = dl_call_stats()
        var error = [CChar](repeating: 0, count: 512)
        let counts = sequences.map { max(0, $0.count - 1) }
        var values = [Float](repeating: .nan, count: perToken ? max(1, counts.reduce(0, +)) : 0)
        let status = withCRequests(sequences) { requests in
            values.withUnsafeMutableBufferPointer { out in
                api.pointee.score(
                    engine, &requests, Int32(requests.count), &scores, perToken ? out.baseAddress : nil, &stats,
                    &error, error.count)
            }
        }
        if status != 0 { throw LlamaError(text(of: error)) }
        let out = scores.map { s in
            (
                logprob: s.logprob_sum, tokens: Int(s.scored_tokens),
                error: fixedText(s.error)
            )
        }
        var split: [[Float]] = []
        if perToken {
            var offset = 0
            for n in counts {
                split.append(Array(values[offset..<offset + n]))
                offset += n
            }
        }
        return (out, split, stats)
    }

    private func embedNow(_ sequences: [[Int32]]) throws -> (vectors: [[Float]], stats: dl_call_stats) {
        let dim = embeddingSize
        var out = [Float](repeating: 0, count: dim * sequences.count)
        var stats = dl_call_stats()
        var error = [CChar](repeating: 0, count: 512)
        let status = withCRequests(sequences) { requests in
            api.pointee.embed(engine, &requests, Int32(requests.count), &out, &stats, &error, error.count)
        }
        if status != 0 { throw LlamaError(text(of: error)) }
        return ((0..<sequences.count).map { Array(out[($0 * dim)..<(($0 + 1) * dim)]) }, stats)
    }
}

/// Requests as the engine takes them, their tokens copied to memory that lives while `body` runs.
private func withCRequests<T>(
    _ sequences: [[Int32]], seeds: [UInt32]? = nil, _ body: (inout [dl_request]) throws -> T
) rethrows -> T {
    let buffers = sequences.map { UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(1, $0.count)) }
    defer { buffers.forEach { $0.deallocate() } }
    var requests = sequences.indices.map { i in
        _ = buffers[i].initialize(from: sequences[i])
        return dl_request(
            tokens: UnsafePointer(buffers[i].baseAddress), n_tokens: Int32(sequences[i].count), seed: seeds?[i] ?? 0)
    }
    return try body(&requests)
}

/// The text of a fixed-size C character array (a tuple in Swift), up to its NUL.
private func fixedText<T>(_ array: T) -> String {
    withUnsafeBytes(of: array) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// The text of a NUL-terminated C buffer.
private func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// A value behind a lock.
final class LockedValue<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
