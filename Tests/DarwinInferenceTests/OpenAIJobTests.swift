import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinInference

/// A whole darwin job whose `llm_score` runs on the openai backend against a real llama-server, once
/// directly and once through the fault proxy (resets, a 429 with Retry-After, 500s, a hang past the timeout
/// and a server restart mid-job): the same output, and the retries counted by cause in the job's statistics.
@Suite(.serialized) struct OpenAIJobTests {
    let dir = TemporaryDirectory("darwin-openai-job")

    func recipe(_ out: String, port: UInt16) throws -> String {
        let path = dir.file(out + ".yaml")
        try """
        name: openai-scores
        seed: 5
        input: {paths: [\(Repository.sampleDirectory)]}
        output: \(dir.path)/\(out)
        stages:
          - name: L2
            level: L2
            steps:
              - language_id: {languages: [en], threshold: 0.65}
              - sample: {fraction: 0.03}
          - name: L3
            level: L3
            steps:
              - llm_score: {backend: openai, url: "http://127.0.0.1:\(port)/v1", model: smollm2, max_chars: 400, reason_chars: 40, batch_size: 4, requests_in_flight: 4, timeout: 5, max_attempts: 10}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs darwin on a thread of its own, so that waiting for it does not hold one of the few threads the
    /// other tests' async code runs on.
    func darwin(_ arguments: [String]) async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Process.run(Repository.darwinBinary, arguments) })
            }
        }
    }

    func outputs(_ out: String) throws -> [String: Data] { try Shards.jobOutputs(dir.path + "/" + out) }

    func counters(_ out: String) throws -> JSONObject {
        let r = try Process.run(Repository.darwinBinary, ["stats", dir.path + "/" + out, "--json"])
        return try #require(JobStats.counters(r.stdout, stage: "L3"))
    }

    @Test(.timeLimit(.minutes(5)))
    func aJobThroughFaultsAndARestartWritesTheFaultFreeOutput() async throws {
        // One slot: the server answers a prompt the same whatever else it is answering.
        let server = try await OpenAIBackendLlamaServerTests.startServer(
            options: ["--parallel", "1", "-c", "2048", "-t", "1", "--seed", "0", "--no-webui", "--no-warmup"])
        defer { server.kill() }
        let clean = try await darwin(["run", try recipe("clean", port: server.port), "--progress", "none"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let expected = try outputs("clean")
        let scored = try #require(counters("clean")["requests"]?.intValue)
        #expect(scored >= 5, "a few documents reach llm_score")
        // llama-server held the answers to the grammar (it reports them as `stop`): none failed to parse.
        let cleanCounters = try counters("clean")
        #expect(cleanCounters["finish.stop"]?.intValue == scored && cleanCounters["failures.unparsable"] == nil)

        let proxy = try FaultProxy(upstreamPort: server.port, decide: OpenAIBackendLlamaServerTests.fault(for:))
        defer { proxy.stop() }
        let faultyRecipe = try recipe("faulty", port: proxy.port)
        async let restarted: Void = OpenAIBackendLlamaServerTests.restart(server, afterForwarded: 4, by: proxy)
        let faulty = try await darwin(["run", faultyRecipe, "--progress", "none"])
        try await restarted
        #expect(faulty.status == 0, "\(faulty.stderr)")
        expectSameFiles(expected, try outputs("faulty"))
        let c = try counters("faulty")
        for cause in ["connection", "http_429", "http_500", "timeout"] {
            #expect((c["retries." + cause]?.intValue ?? 0) > 0, "no \(cause) retry counted: \(c)")
        }
        #expect(c["failures.http_500"] == nil && c["requests"]?.intValue == scored)
    }

    func expectSameFiles(_ a: [String: Data], _ b: [String: Data]) {
        #expect(a.keys.sorted() == b.keys.sorted())
        for (k, v) in a where b[k] != v { Issue.record("\(k) differs between the clean and the faulty job") }
    }
}
