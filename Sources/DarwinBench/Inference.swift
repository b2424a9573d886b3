import DarwinCore
import DarwinIO
import DarwinInference
import Foundation

/// `darwin-bench inference MODE [options]`: darwin's inference backends on real documents.
///
/// - `generate`: the llama backend on prompts of exactly `--prompt-tokens` tokens (the start of each document),
///   `--gen` tokens generated for each whatever the model says; what llama-batched-bench measures.
/// - `chat`: chat requests with a shared system prompt and instructions, the document after them, greedy,
///   through `--backend llama` (in the process) or `--backend openai --url U` (a server); `--out` writes the
///   answers, `--requests` the messages (for a plain load generator).
///
/// Prints one JSON object: requests, prompt and generated tokens, seconds, generated tokens per second.
func benchInference(_ args: [String]) async throws {
    var options: [String: String] = [:]
    var flags: Set<String> = []
    var i = 1
    while i < args.count {
        let a = args[i]
        if a == "--ignore-eos" {
            flags.insert(a)
        } else if a.hasPrefix("--"), i + 1 < args.count {
            options[String(a.dropFirst(2))] = args[i + 1]
            i += 1
        }
        i += 1
    }
    func int(_ name: String, _ value: Int) -> Int { options[name].flatMap(Int.init) ?? value }
    let texts = try benchDocuments(options["docs"] ?? "", count: int("count", 64), minChars: 2000)
    var sampling = Sampling()
    sampling.maxTokens = int("gen", 128)
    sampling.ignoreEOS = flags.contains("--ignore-eos")
    let started: Date
    var generated = 0
    var prompted = 0
    var retries: [String: Int] = [:]
    var failures = 0
    switch args.first {
    case "generate":
        let backend = try LlamaBackend(llamaConfiguration(options, parallel: int("parallel", 16)))
        let promptTokens = int("prompt-tokens", 128)
        let prompts = texts.map {
            Array(backend.engine.tokenize($0, addBOS: true, special: false).prefix(promptTokens))
        }
        sampling.ignoreEOS = true
        // A warm-up, as llama-batched-bench does: the first decode allocates the compute graph.
        var warm = sampling
        warm.maxTokens = 4
        _ = try await backend.engine.generate(tokens: Array(prompts.prefix(2)), sampling: warm)
        started = Date()
        let answers = try await backend.engine.generate(tokens: prompts, sampling: sampling)
        generated = answers.reduce(0) { $0 + $1.tokens }
        prompted = prompts.reduce(0) { $0 + $1.count }
    case "chat":
        let requests = texts.map { chatRequest(document: String($0.prefix(int("doc-chars", 600)))) }
        if let path = options["requests"] { try writeRequests(requests, to: path) }
        let backend: any InferenceBackend
        if options["backend"] == "openai" {
            var c = OpenAIConfiguration(baseURL: options["url"] ?? "", model: options["model"] ?? "model")
            c.maxInFlight = int("concurrency", 8)
            backend = try OpenAIBackend(c)
        } else {
            backend = try LlamaBackend(llamaConfiguration(options, parallel: int("parallel", 16)))
        }
        started = Date()
        var answers: [Result<Completion, InferenceFailure>] = []
        // The in-process backend answers a batch of `parallel` documents per call, as a model step does.
        let batch = options["backend"] == "openai" ? requests.count : int("batch", requests.count)
        for start in stride(from: 0, to: requests.count, by: batch) {
            let (results, statistics) = await backend.complete(
                Array(requests[start..<min(requests.count, start + batch)]), sampling: sampling)
            answers += results
            retries.merge(statistics.retries, uniquingKeysWith: +)
        }
        for a in answers {
            switch a {
            case .success(let c):
                generated += c.completionTokens
                prompted += c.promptTokens
            case .failure: failures += 1
            }
        }
        if let path = options["out"] {
            let lines = answers.map { a -> String in
                let text = (try? a.get().text) ?? "<failed>"
                return JSONWriter.string(.string(text)) + "\n"
            }
            try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path))
        }
        if let openai = backend as? OpenAIBackend { await openai.shutdown() }
    default:
        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "modes: generate, chat"])
    }
    let seconds = Date().timeIntervalSince(started)
    let report: [(String, JSONValue)] = [
        ("requests", .number(JSONNumber(texts.count))), ("failures", .number(JSONNumber(failures))),
        ("prompt_tokens", .number(JSONNumber(prompted))), ("generated_tokens", .number(JSONNumber(generated))),
        ("seconds", .number(JSONNumber(lexeme: String(format: "%.3f", seconds)))),
        ("generated_per_second", .number(JSONNumber(lexeme: String(format: "%.2f", Double(generated) / seconds)))),
        (
            "retries",
            .object(JSONObject(retries.sorted { $0.key < $1.key }.map { ($0.key, .number(JSONNumber($0.value))) }))
        ),
    ]
    print(JSONWriter.string(.object(JSONObject(report.map { (key: $0.0, value: $0.1) }))))
}

/// The instructions every chat request shares (about 150 tokens), as a model step's prompt file would give.
let benchSystem = "You are a careful editor who summarises technical documentation for a training-data team."
let benchLead = """
    Read the extract below. Then write a short summary of what it explains, who would need it, and whether it is \
    complete enough to learn from on its own. Keep to plain sentences, no lists, no headings, no quotes from the \
    extract. If the extract is mostly navigation, licence text or boilerplate, say so in one sentence instead.

    Extract:

    """

func chatRequest(document: String) -> CompletionRequest {
    CompletionRequest(
        prompt: .chat([
            ChatMessage(role: "system", content: benchSystem), ChatMessage(role: "user", content: benchLead + document),
        ]), sharedLength: benchLead.utf8.count)
}

func writeRequests(_ requests: [CompletionRequest], to path: String) throws {
    var lines = ""
    for r in requests {
        guard case .chat(let messages) = r.prompt else { continue }
        let array = JSONValue.array(
            messages.map {
                .object(
                    JSONObject([(key: "role", value: .string($0.role)), (key: "content", value: .string($0.content))]))
            })
        lines += JSONWriter.string(array) + "\n"
    }
    try Data(lines.utf8).write(to: URL(fileURLWithPath: path))
}

func llamaConfiguration(_ options: [String: String], parallel: Int) -> LlamaConfiguration {
    var c = LlamaConfiguration(modelPath: options["model"] ?? "")
    c.parallel = parallel
    c.context = options["context"].flatMap(Int.init) ?? 1024
    c.threads = options["threads"].flatMap(Int.init) ?? 2
    c.batchTokens = options["batch-tokens"].flatMap(Int.init) ?? 2048
    c.prefixTokens = options["prefix-tokens"].flatMap(Int.init) ?? 1024
    return c
}

/// The first `count` documents of at least `minChars` characters from a shard, in order.
func benchDocuments(_ path: String, count: Int, minChars: Int) throws -> [String] {
    let reader = try ShardReader(path: path)
    var texts: [String] = []
    while texts.count < count, let item = try reader.next() {
        if case .document(let d) = item, d.text.count >= minChars { texts.append(d.text) }
    }
    return texts
}
