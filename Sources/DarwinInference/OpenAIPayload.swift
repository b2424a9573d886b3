import Foundation

/// The JSON bodies of the OpenAI-compatible API: requests built, answers parsed.
///
/// Bodies are written with sorted keys, so the same request always gives the same bytes.
enum OpenAIPayload {
    /// The path, relative to the base URL, a prompt is sent to.
    static func path(for prompt: CompletionRequest.Prompt) -> String {
        switch prompt {
        case .chat: return "/chat/completions"
        case .text: return "/completions"
        }
    }

    /// The body of a completion request.
    static func completionBody(model: String, prompt: CompletionRequest.Prompt, sampling: Sampling) -> Data {
        var body: [String: Any] = ["model": model]
        switch prompt {
        case .chat(let messages):
            body["messages"] = messages.map { ["role": $0.role, "content": $0.content] }
        case .text(let text):
            body["prompt"] = text
        }
        body.merge(samplingFields(sampling)) { _, new in new }
        return encode(body)
    }

    /// The sampling fields of a request: the standard ones always, llama-server's own only when they differ
    /// from their neutral value (servers that don't know them then never see them).
    static func samplingFields(_ sampling: Sampling) -> [String: Any] {
        var fields: [String: Any] = [
            "temperature": sampling.temperature, "top_p": sampling.topP, "max_tokens": sampling.maxTokens,
            "seed": sampling.seed,
        ]
        if !sampling.stop.isEmpty { fields["stop"] = sampling.stop }
        if sampling.topK != 0 { fields["top_k"] = sampling.topK }
        if sampling.minP != 0 { fields["min_p"] = sampling.minP }
        if sampling.repeatPenalty != 1 { fields["repeat_penalty"] = sampling.repeatPenalty }
        if sampling.repeatLastN != Sampling().repeatLastN { fields["repeat_last_n"] = sampling.repeatLastN }
        if let grammar = sampling.grammar { fields["grammar"] = grammar }
        if sampling.ignoreEOS { fields["ignore_eos"] = true }
        return fields
    }

    /// The body of an embeddings request.
    static func embeddingBody(model: String, texts: [String]) -> Data {
        encode(["model": model, "input": texts])
    }

    private static func encode(_ object: [String: Any]) -> Data {
        // Only strings, numbers, arrays and dictionaries are put in, so serialization cannot fail.
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    // MARK: - Answers

    /// What an answer body says, or why it is unusable.
    ///
    /// - Parameters:
    ///   - data: The response body.
    ///   - prompt: The request's prompt, which tells where the text is (`message.content` or `text`).
    ///   - url: The request URL, for messages.
    static func completion(from data: Data, prompt: CompletionRequest.Prompt, url: String) -> Result<
        Completion, InferenceFailure
    > {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let choices = root["choices"] as? [Any], let choice = choices.first as? [String: Any]
        else { return .failure(badResponse(url, "no choices[0] object", data)) }
        guard let finish = choice["finish_reason"] as? String else {
            return .failure(badResponse(url, "choices[0].finish_reason is missing", data))
        }
        let reason: FinishReason
        switch finish {
        case "stop": reason = .stop
        case "length": reason = .length
        default:
            return .failure(
                InferenceFailure(reason: "finish_\(finish)", message: "\(url): the answer ended with \(finish)"))
        }
        guard let text = text(of: choice, prompt: prompt) else {
            return .failure(badResponse(url, "choices[0] has no answer text", data))
        }
        let usage = root["usage"] as? [String: Any]
        return .success(
            Completion(
                text: text, finishReason: reason, promptTokens: integer(usage?["prompt_tokens"]),
                completionTokens: integer(usage?["completion_tokens"])))
    }

    private static func text(of choice: [String: Any], prompt: CompletionRequest.Prompt) -> String? {
        switch prompt {
        case .chat: return (choice["message"] as? [String: Any])?["content"] as? String
        case .text: return choice["text"] as? String
        }
    }

    /// The vectors of an embeddings answer, in input order (`data[i].index`), with the prompt tokens counted.
    static func embeddings(from data: Data, count: Int, url: String) -> Result<
        (vectors: [[Float]], promptTokens: Int), InferenceFailure
    > {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let items = root["data"] as? [Any]
        else { return .failure(badResponse(url, "no data array", data)) }
        var vectors = [[Float]?](repeating: nil, count: count)
        for item in items {
            guard let object = item as? [String: Any], let index = object["index"] as? Int,
                vectors.indices.contains(index), vectors[index] == nil,
                let values = object["embedding"] as? [Any]
            else { return .failure(badResponse(url, "a data item lacks a new index or an embedding", data)) }
            let vector = values.compactMap { ($0 as? NSNumber)?.floatValue }
            guard vector.count == values.count else {
                return .failure(badResponse(url, "embedding \(index) holds a non-number", data))
            }
            vectors[index] = vector
        }
        let complete = vectors.compactMap { $0 }
        guard complete.count == count else {
            return .failure(badResponse(url, "\(complete.count) embeddings for \(count) inputs", data))
        }
        let usage = root["usage"] as? [String: Any]
        return .success((complete, integer(usage?["prompt_tokens"])))
    }

    private static func integer(_ value: Any?) -> Int {
        (value as? NSNumber)?.intValue ?? 0
    }

    /// A `bad_response` failure quoting the start of the body.
    static func badResponse(_ url: String, _ problem: String, _ data: Data) -> InferenceFailure {
        InferenceFailure(reason: "bad_response", message: "\(url): bad response (\(problem)): \(excerpt(data))")
    }

    /// The first 200 characters of a body, for messages.
    static func excerpt(_ data: Data) -> String {
        String(String(decoding: data.prefix(4096), as: UTF8.self).prefix(200))
    }
}
