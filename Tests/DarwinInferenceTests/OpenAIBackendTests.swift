import Foundation
import Testing

@testable import DarwinInference

/// The openai backend against a canned server (``FaultProxy`` answering by itself).
@Suite struct OpenAIBackendTests {
    // MARK: - Retries

    @Test func retryAfterIsWaitedOut() async throws {
        let server = try FaultProxy { request in
            request.number == 0
                ? .respond(status: 429, headers: ["Retry-After": "1"], body: #"{"error":"slow down"}"#)
                : .respond(status: 200, body: chatAnswer("ok"))
        }
        defer { server.stop() }
        let backend = try testBackend(server)
        let start = Date()
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        let elapsed = Date().timeIntervalSince(start)
        await backend.shutdown()

        #expect(try results[0].get().text == "ok")
        #expect(elapsed >= 1.0, "retried after \(elapsed) s, before the 1 s Retry-After")
        #expect(statistics.retries == ["http_429": 1])
        #expect(statistics.latencies.count == 1 && statistics.latencies[0] >= 1.0)
        #expect(server.requests.count == 2)
    }

    @Test(arguments: [500, 502, 503, 408])
    func serverErrorsAreRetried(status: Int) async throws {
        let server = try FaultProxy { request in
            request.number == 0
                ? .respond(status: status, body: "busy") : .respond(status: 200, body: chatAnswer("ok"))
        }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        #expect(try results[0].get().text == "ok")
        #expect(statistics.retries == ["http_\(status)": 1])
        #expect(statistics.calls == 1)
    }

    @Test(arguments: [400, 401, 404, 422])
    func clientErrorsFailAtOnce(status: Int) async throws {
        let body = "model 'test-model' not found " + String(repeating: "x", count: 300)
        let server = try FaultProxy { _ in .respond(status: status, body: body) }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        let failure = try #require(inferenceFailure(results[0]))
        let url = "http://127.0.0.1:\(server.port)/v1/chat/completions"
        #expect(failure.reason == "http_\(status)")
        #expect(failure.message == "\(url): HTTP \(status): \(body.prefix(200))")
        #expect(server.requests.count == 1)
        #expect(statistics.retries.isEmpty)
    }

    @Test func hangIsRetriedAsTimeout() async throws {
        let server = try FaultProxy { request in
            request.number == 0 ? .hang : .respond(status: 200, body: chatAnswer("ok"))
        }
        defer { server.stop() }
        let backend = try testBackend(server) { $0.requestTimeout = 0.5 }
        let start = Date()
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        let elapsed = Date().timeIntervalSince(start)
        await backend.shutdown()

        #expect(try results[0].get().text == "ok")
        #expect(statistics.retries == ["timeout": 1])
        #expect(elapsed >= 0.5 && elapsed < 3, "took \(elapsed) s with a 0.5 s request timeout")
    }

    @Test func slowBodyIsRetriedAsTimeout() async throws {
        // The head comes at once, the body after the timeout: the time limit covers the whole answer.
        let server = try FaultProxy { request in
            request.number == 0
                ? .respond(status: 200, body: chatAnswer("late"), bodyDelay: 2)
                : .respond(status: 200, body: chatAnswer("ok"))
        }
        defer { server.stop() }
        let backend = try testBackend(server) { $0.requestTimeout = 0.5 }
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        #expect(try results[0].get().text == "ok")
        #expect(statistics.retries == ["timeout": 1])
    }

    @Test func resetIsRetriedAsConnection() async throws {
        let server = try FaultProxy { request in
            request.number == 0 ? .reset : .respond(status: 200, body: chatAnswer("ok"))
        }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        #expect(try results[0].get().text == "ok")
        #expect(statistics.retries == ["connection": 1])
    }

    @Test func refusedConnectionIsRetriedAsConnectionWithoutWaitingForTheConnectTimeout() async throws {
        let port = try freeLoopbackPort()
        let backend = try OpenAIBackend(
            OpenAIConfiguration(
                baseURL: "http://127.0.0.1:\(port)/v1", model: "m", connectTimeout: 5, maxAttempts: 3,
                backoffBase: 0.01, backoffCap: 0.02))
        let start = Date()
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        let elapsed = Date().timeIntervalSince(start)
        await backend.shutdown()

        let failure = try #require(inferenceFailure(results[0]))
        #expect(failure.reason == "connection")
        #expect(failure.message.hasPrefix("http://127.0.0.1:\(port)/v1/chat/completions: "))
        #expect(failure.message.hasSuffix("(gave up after 3 attempts)"))
        #expect(statistics.retries == ["connection": 2])
        #expect(elapsed < 2.5, "a refused connection took \(elapsed) s")
    }

    @Test func retriesAreCountedByCause() async throws {
        let server = try FaultProxy { request in
            switch request.number {
            case 0: return .respond(status: 500, body: "")
            case 1: return .respond(status: 503, body: "")
            case 2: return .reset
            case 3: return .respond(status: 429, headers: ["Retry-After": "0"], body: "")
            case 4: return .respond(status: 503, body: "")
            default: return .respond(status: 200, body: chatAnswer("ok"))
            }
        }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        #expect(try results[0].get().text == "ok")
        #expect(statistics.retries == ["http_500": 1, "http_503": 2, "connection": 1, "http_429": 1])
        #expect(statistics.calls == 1)
    }

    @Test func theLastAttemptsCauseNamesTheFailure() async throws {
        let server = try FaultProxy { _ in .respond(status: 503, body: "loading model") }
        defer { server.stop() }
        let backend = try testBackend(server) { $0.maxAttempts = 3 }
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        let failure = try #require(inferenceFailure(results[0]))
        #expect(failure.reason == "http_503")
        #expect(failure.message.contains("HTTP 503: loading model (gave up after 3 attempts)"))
        #expect(statistics.retries == ["http_503": 2])
        #expect(server.requests.count == 3)
    }

    // MARK: - Answers

    @Test func lengthIsAnAnswerNotARetry() async throws {
        let server = try FaultProxy { _ in .respond(status: 200, body: chatAnswer("cut o", finish: "length")) }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        #expect(
            try results[0].get()
                == Completion(text: "cut o", finishReason: .length, promptTokens: 5, completionTokens: 3)
        )
        #expect(statistics.retries.isEmpty && server.requests.count == 1)
        #expect(statistics.promptTokens == 5 && statistics.completionTokens == 3)
    }

    @Test(arguments: [
        (chatAnswer("x", finish: "tool_calls"), "finish_tool_calls"),
        ("not json", "bad_response"),
        (#"{"choices":[]}"#, "bad_response"),
        (#"{"choices":[{"finish_reason":"stop","message":{"content":null}}]}"#, "bad_response"),
        (#"{"choices":[{"message":{"content":"no finish reason"}}]}"#, "bad_response"),
    ])
    func unusableAnswersFailWithoutRetry(body: String, reason: String) async throws {
        let server = try FaultProxy { _ in .respond(status: 200, body: body) }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        let failure = try #require(inferenceFailure(results[0]))
        #expect(failure.reason == reason)
        #expect(failure.message.hasPrefix("http://127.0.0.1:\(server.port)/v1/chat/completions: "))
        #expect(statistics.retries.isEmpty && server.requests.count == 1)
    }

    @Test func textPromptsGoToCompletions() async throws {
        let server = try FaultProxy { _ in
            .respond(status: 200, body: #"{"choices":[{"text":" upon a time","finish_reason":"stop"}]}"#)
        }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, _) = await backend.complete([.text("Once")], sampling: Sampling())
        await backend.shutdown()

        #expect(try results[0].get().text == " upon a time")
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/completions")
        #expect(request.json?["prompt"] as? String == "Once")
        #expect(request.json?["messages"] == nil)
    }

    // MARK: - Requests

    @Test func requestBodyIsSortedAndCarriesOnlySetExtras() async throws {
        let server = try FaultProxy { _ in .respond(status: 200, body: chatAnswer("ok")) }
        defer { server.stop() }
        let backend = try testBackend(server)
        var sampling = Sampling()
        sampling.maxTokens = 24
        sampling.seed = 7
        _ = await backend.complete(
            [.chat([ChatMessage(role: "system", content: "be brief"), user("hi")])], sampling: sampling)
        sampling.temperature = 0.5
        sampling.topP = 0.25
        sampling.stop = ["\n"]
        sampling.topK = 40
        sampling.minP = 0.125
        sampling.repeatPenalty = 1.5
        sampling.grammar = #"root ::= "a""#
        sampling.ignoreEOS = true
        _ = await backend.complete([.chat([user("hi")])], sampling: sampling)
        await backend.shutdown()

        let bodies = server.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(
            bodies == [
                #"{"max_tokens":24,"messages":[{"content":"be brief","role":"system"},{"content":"hi","role":"user"}],"#
                    + #""model":"test-model","seed":7,"temperature":0,"top_p":1}"#,
                #"{"grammar":"root ::= \"a\"","ignore_eos":true,"max_tokens":24,"#
                    + #""messages":[{"content":"hi","role":"user"}],"min_p":0.125,"model":"test-model","#
                    + #""repeat_penalty":1.5,"seed":7,"stop":["\n"],"temperature":0.5,"top_k":40,"top_p":0.25}"#,
            ])
        #expect(server.requests.allSatisfy { $0.path == "/v1/chat/completions" && $0.method == "POST" })
        #expect(server.requests.allSatisfy { $0.headers["content-type"] == "application/json" })
        #expect(server.requests.allSatisfy { $0.headers["authorization"] == nil })
    }

    @Test func resultsKeepRequestOrderWithBoundedConcurrency() async throws {
        // Later requests are answered sooner, so answers arrive out of order.
        let server = try FaultProxy { request in
            let prompt = request.promptText ?? ""
            let number = Int(prompt) ?? 0
            return .respond(
                status: 200, body: chatAnswer("answer \(prompt)"), delay: 0.05 + Double(7 - number % 8) * 0.01)
        }
        defer { server.stop() }
        let backend = try testBackend(server) { $0.maxInFlight = 3 }
        let requests = (0..<24).map { CompletionRequest.chat([user(String($0))]) }
        let (results, statistics) = await backend.complete(requests, sampling: Sampling())
        await backend.shutdown()

        #expect(results.map { try? $0.get().text } == (0..<24).map { "answer \($0)" })
        #expect(server.maxInFlight == 3, "the server saw \(server.maxInFlight) requests at once, not 3")
        #expect(statistics.calls == 24 && statistics.latencies.count == 24)
        #expect(statistics.promptTokens == 24 * 5 && statistics.completionTokens == 24 * 3)
    }

    @Test func concurrentCallsShareTheBackendsBound() async throws {
        let server = try FaultProxy { _ in .respond(status: 200, body: chatAnswer("ok"), delay: 0.05) }
        defer { server.stop() }
        let backend = try testBackend(server) { $0.maxInFlight = 3 }
        let requests = (0..<6).map { CompletionRequest.chat([user(String($0))]) }
        async let first = backend.complete(requests, sampling: Sampling())
        async let second = backend.complete(requests, sampling: Sampling())
        let answered = await [first, second].flatMap(\.results).filter { (try? $0.get()) != nil }.count
        await backend.shutdown()

        #expect(answered == 12)
        #expect(server.maxInFlight == 3, "two calls together had \(server.maxInFlight) requests open, not 3")
    }

    @Test func aBackendReleasedWithoutShutdownClosesItsClient() async throws {
        // AsyncHTTPClient traps (in debug builds) when a running client is released: getting past the release
        // means the backend shut its client down.
        let server = try FaultProxy { _ in .respond(status: 200, body: chatAnswer("ok")) }
        defer { server.stop() }
        var backend: OpenAIBackend? = try testBackend(server)
        let answer = await backend?.complete([.chat([user("hi")])], sampling: Sampling()).results.first
        backend = nil
        try await Task.sleep(for: .milliseconds(50))

        #expect(try answer?.get().text == "ok")
    }

    // MARK: - Embeddings

    @Test func embeddingsAreBatchedAndOrderedByIndex() async throws {
        // Each vector is [n, n/2] for input "tn"; the server lists them in reverse order.
        let server = try FaultProxy { request in
            let inputs = request.json?["input"] as? [String] ?? []
            let data = inputs.enumerated().reversed().map { index, text -> [String: Any] in
                let n = Double(text.dropFirst()) ?? -1
                return ["index": index, "embedding": [n, n / 2], "object": "embedding"]
            }
            return .respond(status: 200, body: json(["data": data, "usage": ["prompt_tokens": inputs.count]]))
        }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, statistics) = await backend.embed((0..<70).map { "t\($0)" })
        await backend.shutdown()

        #expect(results.map { try? $0.get() } == (0..<70).map { [Float($0), Float($0) / 2] })
        let sizes = server.requests.map { ($0.json?["input"] as? [String])?.count ?? 0 }.sorted()
        #expect(sizes == [6, 64])
        #expect(server.requests.allSatisfy { $0.path == "/v1/embeddings" })
        #expect(statistics.calls == 2 && statistics.promptTokens == 70)
    }

    @Test func aFailedEmbeddingBatchFailsEachOfItsTexts() async throws {
        let server = try FaultProxy { _ in .respond(status: 501, body: "embeddings are off") }
        defer { server.stop() }
        let backend = try testBackend(server)
        let (results, _) = await backend.embed(["a", "b", "c"])
        await backend.shutdown()

        #expect(results.map { inferenceFailure($0)?.reason } == ["http_501", "http_501", "http_501"])
    }

    // MARK: - Configuration

    @Test func apiKeyIsReadFromTheNamedVariable() async throws {
        let server = try FaultProxy { _ in .respond(status: 200, body: chatAnswer("ok")) }
        defer { server.stop() }
        let configuration = OpenAIConfiguration(
            baseURL: "http://127.0.0.1:\(server.port)/v1", model: "test-model",
            apiKeyEnvironmentVariable: "DARWIN_TEST_KEY")
        #expect(
            throws: OpenAIConfigurationError.missingAPIKey(baseURL: configuration.baseURL, variable: "DARWIN_TEST_KEY")
        ) {
            try OpenAIBackend(configuration, environment: [:])
        }
        let backend = try OpenAIBackend(configuration, environment: ["DARWIN_TEST_KEY": "sk-test"])
        _ = await backend.complete([.chat([user("hi")])], sampling: Sampling())
        await backend.shutdown()

        #expect(server.requests.first?.headers["authorization"] == "Bearer sk-test")
    }

    @Test func missingKeyMessageNamesTheVariableAndServer() {
        let error = OpenAIConfigurationError.missingAPIKey(baseURL: "http://h:1/v1", variable: "MY_KEY")
        #expect(
            error.description
                == "openai backend http://h:1/v1: the API key variable MY_KEY is not set in the environment")
    }

    @Test func identityNamesServerAndModel() throws {
        let backend = try OpenAIBackend(OpenAIConfiguration(baseURL: "http://127.0.0.1:8080/v1/", model: "smol"))
        #expect(backend.modelIdentity == "openai:http://127.0.0.1:8080/v1 model=smol")
        #expect(backend.kind == "openai")
    }

    @Test(arguments: [
        (OpenAIConfiguration(baseURL: "127.0.0.1:8080", model: "m"), "base_url"),
        (OpenAIConfiguration(baseURL: "ftp://h/v1", model: "m"), "base_url"),
        (OpenAIConfiguration(baseURL: "http://h/v1", model: ""), "model"),
        (OpenAIConfiguration(baseURL: "http://h/v1", model: "m", maxInFlight: 0), "max_in_flight"),
        (OpenAIConfiguration(baseURL: "http://h/v1", model: "m", maxAttempts: 0), "max_attempts"),
        (OpenAIConfiguration(baseURL: "http://h/v1", model: "m", backoffBase: 2, backoffCap: 1), "backoff_cap"),
    ])
    func unusableConfigurationsAreRefused(configuration: OpenAIConfiguration, field: String) {
        let error = #expect(throws: OpenAIConfigurationError.self) { try OpenAIBackend(configuration) }
        guard case .invalid(_, let named, _) = error else {
            Issue.record("expected an invalid \(field), got \(String(describing: error))")
            return
        }
        #expect(named == field)
    }

    @Test func requestsAfterShutdownFailAsShutdown() async throws {
        let server = try FaultProxy { _ in .respond(status: 200, body: chatAnswer("ok")) }
        defer { server.stop() }
        let backend = try testBackend(server)
        await backend.shutdown()
        let (results, statistics) = await backend.complete([.chat([user("hi")])], sampling: Sampling())

        #expect(inferenceFailure(results[0])?.reason == "shutdown")
        #expect(statistics.retries.isEmpty && server.requests.isEmpty)
    }
}

// MARK: - Helpers

/// A backend for `server` with fast backoff; `adjust` changes the configuration.
private func testBackend(
    _ server: FaultProxy, _ adjust: (inout OpenAIConfiguration) -> Void = { _ in }
) throws -> OpenAIBackend {
    var configuration = OpenAIConfiguration(
        baseURL: "http://127.0.0.1:\(server.port)/v1", model: "test-model", connectTimeout: 2, requestTimeout: 5,
        backoffBase: 0.01, backoffCap: 0.05)
    adjust(&configuration)
    return try OpenAIBackend(configuration)
}

private func user(_ content: String) -> ChatMessage {
    ChatMessage(role: "user", content: content)
}

private func inferenceFailure<T>(_ result: Result<T, InferenceFailure>) -> InferenceFailure? {
    if case .failure(let failure) = result { return failure }
    return nil
}

/// A chat completion answer body, with 5 prompt and 3 completion tokens.
private func chatAnswer(_ content: String, finish: String = "stop") -> String {
    json([
        "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": finish]],
        "usage": ["prompt_tokens": 5, "completion_tokens": 3],
    ])
}

private func json(_ object: [String: Any]) -> String {
    String(
        decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self
    )
}
