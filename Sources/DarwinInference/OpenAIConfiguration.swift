import Foundation

/// How to reach an OpenAI-compatible server (llama-server, vLLM, SGLang, Ollama) and how hard to try.
public struct OpenAIConfiguration: Sendable, Hashable {
    /// The kind of prompt the served model expects.
    public enum Endpoint: String, Sendable, Hashable, CaseIterable {
        /// `POST /chat/completions` with `messages`: instruct models, rendered with the server's chat template.
        case chat
        /// `POST /completions` with `prompt`: base models, prompts sent as they are.
        case completions
    }

    /// The API root, such as `http://127.0.0.1:8080/v1`; endpoint paths are appended to it.
    public var baseURL: String
    /// The `model` field of every request.
    public var model: String
    /// The environment variable holding the API key, sent as `Authorization: Bearer <key>`; `nil` sends none.
    public var apiKeyEnvironmentVariable: String?
    /// Which endpoint prompts of this model are meant for. A request's own prompt picks the path it is sent
    /// to: chat messages go to `/chat/completions` and plain text to `/completions`, whatever this says.
    public var endpoint: Endpoint
    /// The most requests this backend has open at once. Default 8.
    public var maxInFlight: Int
    /// Seconds allowed to open a connection. Default 10.
    public var connectTimeout: Double
    /// Seconds allowed for one attempt of a request, from sending it to the last byte of its answer. Default 120.
    public var requestTimeout: Double
    /// Attempts per request, the first included. Default 6.
    public var maxAttempts: Int
    /// Seconds of the first retry's backoff ceiling, doubled at each retry. Default 0.5.
    public var backoffBase: Double
    /// The most seconds a backoff ceiling grows to. Default 30.
    public var backoffCap: Double

    /// A configuration with the documented defaults.
    ///
    /// - Parameters:
    ///   - baseURL: The API root, such as `http://127.0.0.1:8080/v1`.
    ///   - model: The model name the server knows.
    ///   - apiKeyEnvironmentVariable: The variable holding the API key, if the server wants one.
    ///   - endpoint: The kind of prompt the model expects.
    public init(
        baseURL: String, model: String, apiKeyEnvironmentVariable: String? = nil, endpoint: Endpoint = .chat,
        maxInFlight: Int = 8, connectTimeout: Double = 10, requestTimeout: Double = 120, maxAttempts: Int = 6,
        backoffBase: Double = 0.5, backoffCap: Double = 30
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnvironmentVariable = apiKeyEnvironmentVariable
        self.endpoint = endpoint
        self.maxInFlight = maxInFlight
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxAttempts = maxAttempts
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
    }

    /// The base URL without a trailing slash.
    var normalizedBaseURL: String {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// Checks every field, naming the first bad one.
    func validate() throws(OpenAIConfigurationError) {
        let url = normalizedBaseURL
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty
        else { throw .invalid(baseURL: baseURL, field: "base_url", problem: "is not an http(s) URL with a host") }
        func check(_ ok: Bool, _ field: String, _ problem: String) throws(OpenAIConfigurationError) {
            if !ok { throw .invalid(baseURL: url, field: field, problem: problem) }
        }
        try check(!model.isEmpty, "model", "is empty")
        try check(maxInFlight >= 1, "max_in_flight", "must be at least 1, not \(maxInFlight)")
        try check(connectTimeout > 0, "connect_timeout", "must be positive, not \(connectTimeout)")
        try check(requestTimeout > 0, "request_timeout", "must be positive, not \(requestTimeout)")
        try check(maxAttempts >= 1, "max_attempts", "must be at least 1, not \(maxAttempts)")
        try check(backoffBase >= 0, "backoff_base", "must not be negative, not \(backoffBase)")
        try check(backoffCap >= backoffBase, "backoff_cap", "must be at least backoff_base, not \(backoffCap)")
    }

    /// The API key from the environment: `nil` when none is configured.
    ///
    /// - Throws: ``OpenAIConfigurationError/missingAPIKey(baseURL:variable:)`` when the variable is named but
    ///   unset or empty.
    func apiKey(from environment: [String: String]) throws(OpenAIConfigurationError) -> String? {
        guard let variable = apiKeyEnvironmentVariable else { return nil }
        guard let key = environment[variable], !key.isEmpty else {
            throw .missingAPIKey(baseURL: normalizedBaseURL, variable: variable)
        }
        return key
    }
}

/// Why an ``OpenAIBackend`` could not be made.
public enum OpenAIConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A field has an unusable value.
    case invalid(baseURL: String, field: String, problem: String)
    /// The API key variable is named but not set (or empty) in the environment.
    case missingAPIKey(baseURL: String, variable: String)

    public var description: String {
        switch self {
        case .invalid(let baseURL, let field, let problem):
            return "openai backend \(baseURL): \(field) \(problem)"
        case .missingAPIKey(let baseURL, let variable):
            return "openai backend \(baseURL): the API key variable \(variable) is not set in the environment"
        }
    }
}
