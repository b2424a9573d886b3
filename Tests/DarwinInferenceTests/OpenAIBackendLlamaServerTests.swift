import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinInference

/// The openai backend against a real llama-server running SmolLM2-135M-Instruct, with and without faults.
@Suite struct OpenAIBackendLlamaServerTests {
    static let modelPath = Repository.root + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    /// Flags after `-m MODEL --host 127.0.0.1 --port PORT`.
    static let serverOptions = [
        "--parallel", "4", "-c", "4096", "-t", "1", "--seed", "0", "--no-webui", "--no-warmup",
    ]
    static let prompts = [
        "What is the capital of France?", "Name a color.", "Count to five.", "What is 2 plus 2?",
        "Say hello in Spanish.", "Name a fruit.", "What is the opposite of hot?", "Give one word for happy.",
        "What animal says moo?", "What is water made of?", "Name a planet.", "What day comes after Monday?",
    ]

    @Test(.timeLimit(.minutes(2)))
    func answersThroughFaultsAndARestartEqualTheFaultFreeAnswers() async throws {
        let server = try await Self.startServer()
        defer { server.kill() }
        let requests = Self.prompts.map { CompletionRequest.chat([ChatMessage(role: "user", content: $0)]) }
        var sampling = Sampling()
        sampling.temperature = 0
        sampling.maxTokens = 24
        sampling.seed = 0

        let direct = try OpenAIBackend(
            OpenAIConfiguration(baseURL: "http://127.0.0.1:\(server.port)/v1", model: "smollm2", maxInFlight: 4))
        let (reference, referenceStatistics) = await direct.complete(requests, sampling: sampling)
        await direct.shutdown()
        let answers = try reference.map { try $0.get() }
        #expect(referenceStatistics.retries.isEmpty, "retries without faults: \(referenceStatistics.retries)")
        #expect(Set(answers.map(\.text)).count == answers.count, "the model gave the same answer twice: \(answers)")

        let proxy = try FaultProxy(upstreamPort: server.port, decide: Self.fault(for:))
        defer { proxy.stop() }
        let faulty = try OpenAIBackend(
            OpenAIConfiguration(
                baseURL: "http://127.0.0.1:\(proxy.port)/v1", model: "smollm2", maxInFlight: 4, requestTimeout: 5,
                maxAttempts: 10, backoffBase: 0.2, backoffCap: 2))
        async let restarted: Void = Self.restart(server, afterForwarded: 4, by: proxy)
        let (results, statistics) = await faulty.complete(requests, sampling: sampling)
        try await restarted
        await faulty.shutdown()

        for (index, (result, expected)) in zip(results, answers).enumerated() {
            #expect(try result.get() == expected, "answer \(index) to \"\(Self.prompts[index])\"")
        }
        for cause in ["connection", "http_429", "http_500", "timeout"] {
            #expect(statistics.retries[cause, default: 0] > 0, "no \(cause) retry in \(statistics.retries)")
        }
        #expect(server.startCount == 2)
        #expect(proxy.upstreamFailures > 0, "the restart hit no request")
        #expect(statistics.calls == requests.count && statistics.latencies.count == requests.count)
    }

    /// Resets, a 429 with `Retry-After: 1`, 500s and a hang among the first requests; the rest are forwarded.
    static func fault(for request: FaultProxy.Request) -> FaultProxy.Action {
        switch request.number {
        case 0, 9: return .reset
        case 2: return .respond(status: 429, headers: ["Retry-After": "1"], body: #"{"error":"busy"}"#)
        case 3, 11: return .respond(status: 500, body: #"{"error":"internal"}"#)
        case 5: return .hang
        default: return .forward
        }
    }

    /// Starts llama-server on a free port; fails the test, naming the script to run, if it or the model is missing.
    static func startServer(options: [String] = serverOptions) async throws -> LlamaServerProcess {
        let binary = try #require(
            LlamaInstallation.tool("llama-server"),
            "llama-server is not built in \(LlamaInstallation.root.path)/bin: run scripts/build-llama --tools (make test does)"
        )
        try #require(
            FileManager.default.fileExists(atPath: modelPath),
            "\(modelPath) is missing: run scripts/fetch-models (make test does)")
        let server = try LlamaServerProcess(
            binary: binary, model: modelPath, port: try freeLoopbackPort(), options: options)
        try await server.waitUntilHealthy(timeout: 60)
        return server
    }

    /// Kills and restarts the server once the proxy has forwarded `count` answers, while requests are running.
    static func restart(_ server: LlamaServerProcess, afterForwarded count: Int, by proxy: FaultProxy) async throws {
        let deadline = Date().addingTimeInterval(30)
        while proxy.forwarded < count {
            guard Date() < deadline else {
                throw LlamaServerProcess.Failure(description: "only \(proxy.forwarded) answers forwarded in 30 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await server.restart(timeout: 60)
    }
}
