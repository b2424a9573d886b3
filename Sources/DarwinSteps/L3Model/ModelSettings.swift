import DarwinCore
import DarwinIO
import DarwinInference
import Foundation

/// The parameters every model step shares: which backend and model, how it runs, where answers are cached.
struct ModelSettings: Sendable {
    enum Backend: String, Sendable { case llama, openai }

    let backend: Backend
    /// GGUF path (llama) or the server's model name (openai).
    let model: String
    let llama: LlamaConfiguration?
    let openai: OpenAIConfiguration?
    /// The cache file; `nil` means `<job>/_cache/responses.sqlite`.
    let cachePath: String?
    let cacheEnabled: Bool

    /// The parameters of a step that runs only local models (backend is given on its own).
    static let localParameters: Set<String> = ["model", "parallel", "context", "threads", "cache"]

    /// Parameters of every model step.
    /// `temperature` (with this default) and `seed`, for the steps that sample answers.
    static func sampling(temperature: JSONValue) -> [ParameterSpec] {
        [
            ParameterSpec("temperature", .number(min: 0, max: 5), default: temperature, "0: greedy"),
            ParameterSpec("seed", .integer(min: 0, max: Int(UInt32.max)), default: 0, "sampling seed"),
        ]
    }

    static func parameters(parallel: Int, context: Int) -> [ParameterSpec] {
        [
            ParameterSpec(
                "backend", .choice(["llama", "openai"]), default: "llama",
                "llama: a GGUF model run in the process; openai: any OpenAI-compatible server"),
            ParameterSpec(
                "model", .string, default: nil,
                "llama: a GGUF file (path, or a name looked up in $DARWIN_MODELS and .cache/models); openai: the server's model name"
            ),
            ParameterSpec(
                "parallel", .integer(min: 1, max: 256), default: .number(JSONNumber(parallel)),
                "llama: sequences decoded together in one batch"),
            ParameterSpec(
                "context", .integer(min: 32, max: 1 << 20), default: .number(JSONNumber(context)),
                "llama: tokens of context per sequence (prompt and answer)"),
            ParameterSpec(
                "threads", .integer(min: 0, max: 1024), default: 0, "llama: CPU threads (0: every core)"),
            ParameterSpec("url", .string, default: .null, "openai: the server's base URL (http://host:port/v1)"),
            ParameterSpec(
                "api_key_env", .string, default: .null,
                "openai: the environment variable that holds the API key (never the key itself)"),
            ParameterSpec(
                "requests_in_flight", .integer(min: 1, max: 4096), default: 8,
                "openai: requests sent at once by this process (does not change the output)"),
            ParameterSpec(
                "timeout", .number(min: 0.1, max: 86_400), default: 120,
                "openai: seconds one request may take before it is retried (does not change the output)"),
            ParameterSpec(
                "connect_timeout", .number(min: 0.1, max: 3600), default: 10,
                "openai: seconds to connect (does not change the output)"),
            ParameterSpec(
                "max_attempts", .integer(min: 1, max: 100), default: 6,
                "openai: attempts per request on connection errors, timeouts, 408, 429 and 5xx (does not change the output)"
            ),
            ParameterSpec(
                "cache", .string, default: .null,
                "response cache (SQLite) shared by every task: a path, or none; default <output>/_cache/responses.sqlite"
            ),
        ]
    }

    /// - Parameter prefixTokens: tokens of context kept for the prompt every request shares (0 for a step
    ///   whose requests share nothing); a longer shared prompt is decoded with each request instead.
    init(_ p: Parameters, prefixTokens: Int = 512) throws {
        backend = Backend(rawValue: p.string("backend")) ?? .llama
        let cache = p.optionalString("cache")
        cacheEnabled = cache != "none"
        cachePath = cache == "none" ? nil : cache
        switch backend {
        case .llama:
            let path = try ModelLocator.resolve(p.string("model"), parameter: "model")
            model = path
            var c = LlamaConfiguration(modelPath: path)
            c.parallel = p.int("parallel")
            c.context = p.int("context")
            c.prefixTokens = prefixTokens
            c.batchTokens = max(512, p.int("parallel") + 1)
            let threads = p.int("threads")
            c.threads = threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount
            llama = c
            openai = nil
        case .openai:
            guard let url = p.optionalString("url"), !url.isEmpty else {
                throw ParameterError(
                    "url", "the openai backend needs url: the server's base URL, e.g. http://127.0.0.1:8080/v1")
            }
            model = p.string("model")
            var c = OpenAIConfiguration(baseURL: url, model: model)
            c.apiKeyEnvironmentVariable = p.optionalString("api_key_env")
            c.maxInFlight = p.int("requests_in_flight")
            c.requestTimeout = p.double("timeout")
            c.connectTimeout = p.double("connect_timeout")
            c.maxAttempts = p.int("max_attempts")
            openai = c
            llama = nil
        }
    }

    /// Checks what can be checked without loading the model: the GGUF file's magic, the API key's variable.
    static func check(_ p: Parameters) throws {
        let settings = try ModelSettings(p)
        switch settings.backend {
        case .llama:
            try GGUFHeader.check(settings.model, parameter: "model")
        case .openai:
            if let name = p.optionalString("api_key_env"), ProcessInfo.processInfo.environment[name] == nil {
                throw ParameterError("api_key_env", "the environment variable \(name) is not set")
            }
        }
    }

    /// The model file, for the stage's fingerprint (a replaced model is a recipe change).
    static func resources(_ p: Parameters) throws -> [ResourceReference] {
        guard p.string("backend") != "openai" else { return [] }
        return [
            ResourceReference(parameter: "model", path: try ModelLocator.resolve(p.string("model"), parameter: "model"))
        ]
    }

    /// The backend, opened once per process and shared by every task and step that names the same settings.
    func openBackend() throws -> any InferenceBackend {
        if let c = llama {
            let key = "\(c.modelPath)|\(c.parallel)|\(c.context)|\(c.prefixTokens)|\(c.batchTokens)|\(c.threads)"
            return try ResourceRegistry.shared.resource("llama backend", key) { try LlamaBackend(c) }
        }
        guard let c = openai else { throw ParameterError("backend", "no backend configured") }
        return try ResourceRegistry.shared.resource("openai backend", "\(c)") { try OpenAIBackend(c) }
    }

    /// The backend behind this job's response cache, for one batch.
    func calls(_ context: StepContext, templateHash: String) throws -> CachedInference {
        CachedInference(backend: try openBackend(), cache: try openCache(context), templateHash: templateHash)
    }

    /// The response cache of this step in this job, opened once per process.
    func openCache(_ context: StepContext) throws -> ResponseCache? {
        guard cacheEnabled else { return nil }
        guard let path = cachePath ?? context.jobFolder.map({ $0 + "/_cache/responses.sqlite" }) else { return nil }
        return try ResourceRegistry.shared.resource("response cache", path) { try ResponseCache(path: path) }
    }
}

/// The first bytes of a GGUF file, read to refuse a wrong or truncated model before anything runs.
enum GGUFHeader {
    static func check(_ path: String, parameter: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ParameterError(parameter, "\(path): no such model file")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 24)) ?? Data()
        guard head.count >= 24, head.prefix(4) == Data("GGUF".utf8) else {
            throw ParameterError(parameter, "\(path): not a GGUF model (it does not start with GGUF)")
        }
        let version = head[4..<8].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        guard (2...3).contains(version) else {
            throw ParameterError(parameter, "\(path): GGUF version \(version), llama.cpp reads versions 2 and 3")
        }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        guard size > 1 << 20 else {
            throw ParameterError(parameter, "\(path): \(size) bytes, too small for a model (truncated?)")
        }
    }
}

/// Adds what a model call did to the step's statistics: requests, cache hits and misses, model calls, tokens,
/// retries by cause, failures by reason, finish reasons and latencies.
enum InferenceCounters {
    static let latency = HistogramSpec(
        name: "latency_ms", lower: 1, upper: 1e7, bins: 70, scale: .log,
        summary: "milliseconds from a request's first attempt to its answer (a local call answers a batch at once)")

    static func record(_ report: InferenceReport, documents: Int, into context: inout StepContext) {
        context.count("requests", by: documents)
        context.count("cache_hits", by: report.cacheHits)
        context.count("cache_misses", by: report.cacheMisses)
        context.count("model_calls", by: report.statistics.calls)
        context.count("prompt_tokens", by: report.statistics.promptTokens)
        context.count("completion_tokens", by: report.statistics.completionTokens)
        for (cause, n) in report.statistics.retries { context.count("retries." + cause, by: n) }
        for (reason, n) in report.failures { context.count("failures." + reason, by: n) }
        for (reason, n) in report.finishes { context.count("finish." + reason, by: n) }
        for seconds in report.statistics.latencies { context.observe(latency.name, seconds * 1000) }
    }
}
