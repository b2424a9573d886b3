import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// Model steps end to end on the real SmolLM2-135M-Instruct: perplexity_score and llm_score over real
/// documents, a kill and a resume that replays the response cache, and output equal to an uninterrupted run.
@Suite(.serialized, .timeLimit(.minutes(15))) struct ModelJobTests {
    let dir = TemporaryDirectory("darwin-model-job")

    func writeRecipe(_ out: String) throws -> String {
        let recipe = dir.file(out + ".yaml")
        let yaml = """
            name: model-scores
            seed: 11
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/\(out)
            stages:
              - name: L2
                level: L2
                steps:
                  - language_id: {languages: [en], threshold: 0.65}
                  - sample: {fraction: 0.04}
              - name: L3
                level: L3
                steps:
                  - perplexity_score: {model: \(SmallModel.path), max_tokens: 256, context: 256, parallel: 4, batch_size: 4, threads: 2}
                  - llm_score: {model: \(SmallModel.path), max_chars: 500, reason_chars: 40, parallel: 4, batch_size: 4, threads: 2}
            """
        try yaml.write(toFile: recipe, atomically: true, encoding: .utf8)
        return recipe
    }

    func outputs(_ out: String) throws -> [String: Data] { try Shards.jobOutputs(dir.path + "/" + out) }

    func l3Counters(_ out: String, _ step: String) throws -> JSONObject {
        try #require(
            JobStats.counters(try darwin(["stats", dir.path + "/" + out, "--json"]).stdout, stage: "L3", step: step))
    }

    @Test func scoresResumeFromTheCacheAndMatchAnUninterruptedRun() throws {
        if let missing = SmallModel.missing { Issue.record(Comment(rawValue: missing)); return }
        let reference = try darwin(["run", try writeRecipe("reference"), "--workers", "2", "--progress", "none"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try outputs("reference")
        let documents = try Shards.files(under: dir.path + "/reference/L3").filter { $0.hasSuffix(".jsonl.zst") }
            .flatMap { try Shards.documents(dir.path + "/reference/L3/" + $0) }
        #expect(documents.count >= 5, "a few real documents reach the model steps")
        for d in documents {
            let perplexity = d.value(atPath: "metadata.perplexity")?.doubleValue ?? 0
            let bpb = d.value(atPath: "metadata.perplexity_bpb")?.doubleValue ?? 0
            #expect(perplexity > 1 && perplexity < 10_000 && bpb > 0 && bpb < 8, "\(d.id): \(perplexity) \(bpb)")
            let score = d.value(atPath: "metadata.llm_score")?.intValue ?? -1
            #expect((0...5).contains(score), "\(d.id)")
            let reason = d.value(atPath: "metadata.llm_score_reason")?.stringValue ?? ""
            #expect(reason.count > 0, "\(d.id)")
        }
        let first = try l3Counters("reference", "llm_score")
        #expect(first["requests"]?.intValue == documents.count && first["cache_hits"]?.intValue == 0)
        #expect(first["finish.grammar"]?.intValue == documents.count)

        // Killed after the model answered a task's documents but before that task was committed: the
        // resumed run pays only for what it has not got.
        let recipe = try writeRecipe("killed")
        let killed = try darwin(
            ["run", recipe, "--workers", "1", "--progress", "none"], env: ["DARWIN_CRASH_AT": "before-commit:6"])
        #expect(killed.signaled && killed.status == SIGKILL, "the crash point was reached: \(killed.stderr)")
        let resumed = try darwin(["resume", dir.path + "/killed", "--workers", "2", "--progress", "none"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        expectSameOutputs(expected, try outputs("killed"), "killed and resumed")
        for step in ["perplexity_score", "llm_score"] {
            let c = try l3Counters("killed", step)
            let hits = c["cache_hits"]?.intValue ?? 0
            let misses = c["cache_misses"]?.intValue ?? 0
            #expect(hits >= 1, "\(step): the resumed run replayed the cache")
            #expect(hits + misses == documents.count && c["model_calls"]?.intValue == misses, "\(step): \(c)")
        }

        // The same recipe, seed and batch settings again from scratch: byte-identical.
        let again = try darwin(["run", try writeRecipe("again"), "--workers", "1", "--progress", "none"])
        #expect(again.status == 0, "\(again.stderr)")
        expectSameOutputs(expected, try outputs("again"), "a second run")
    }

    @Test func aWrongModelIsRefusedBeforeAnythingRuns() throws {
        let fake = dir.file("fake.gguf")
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: fake))
        let recipe = dir.file("wrong.yaml")
        try """
        input: {paths: [\(Repository.sampleDirectory)]}
        output: \(dir.path)/wrong
        stages:
          - name: L3
            level: L3
            steps:
              - llm_score: {model: \(fake)}
        """.write(toFile: recipe, atomically: true, encoding: .utf8)
        let r = try darwin(["validate", recipe])
        #expect(r.status != 0)
        #expect(r.stderr.contains("wrong.yaml:7:") && r.stderr.contains("not a GGUF model"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/wrong"))
    }
}
