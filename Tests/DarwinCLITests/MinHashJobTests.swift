import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// minhash_dedup end to end: killed in each phase and resumed, split over ranks or workers, it gives the
/// output of one uninterrupted run, byte for byte.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MinHashJobTests {
    static let step = "minhash_dedup: {keep: first}"

    @Test func killedInEveryPhaseResumesIdentically() throws {
        let f = try JobFixture(shards: 4, perShard: 300)  // a mid-task point every 256 documents
        try f.writeRecipe(output: "reference", dedup: Self.step)
        #expect(try darwin(["run", f.recipe, "--workers", "2", "--progress", "none"]).status == 0)
        let reference = try f.contents("reference")
        let stats = try f.stats("reference")
        let l2 = try #require(stats["stages"]?.arrayValue?.first?.objectValue)
        let steps = l2["steps"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let dedup = try #require(steps.first { $0["step"] == "minhash_dedup" })
        #expect((dedup["dropped"]?.intValue ?? 0) > 0, "the fixture reuses sample texts: near-duplicates exist")
        // reduce:3 falls in the buckets phase (14 tasks), reduce:15 is the clusters task.
        for (i, point) in ["mid-task:2", "reduce:3", "reduce:15", "after-commit:7"].enumerated() {
            let out = "run\(i)"
            try f.writeRecipe(output: out, dedup: Self.step)
            let killed = try darwin(
                ["run", f.recipe, "--workers", "2", "--progress", "none"], env: ["DARWIN_CRASH_AT": point])
            #expect(killed.signaled && killed.status == SIGKILL, "\(point): the crash point was reached")
            let resumed = try darwin(["resume", f.dir.path + "/" + out, "--workers", "1", "--progress", "none"])
            #expect(resumed.status == 0, "\(point): \(resumed.stderr)")
            expectSameOutputs(reference, try f.contents(out), point)
        }
    }

    @Test func ranksAndWorkersGiveTheSameResult() throws {
        let f = try JobFixture(shards: 5, perShard: 120)
        try f.writeRecipe(output: "single", dedup: Self.step)
        #expect(try darwin(["run", f.recipe, "--workers", "1", "--progress", "none"]).status == 0)
        try f.writeRecipe(output: "three", dedup: Self.step)
        #expect(try darwin(["run", f.recipe, "--workers", "3", "--progress", "none"]).status == 0)
        expectSameOutputs(try f.contents("single"), try f.contents("three"), "1 vs 3 workers")
        try f.writeRecipe(output: "ranked", dedup: Self.step)
        let results = runRanks(f.recipe, worldSize: 2)
        for r in results { #expect(r?.status == 0, "\(r?.stderr ?? "no result")") }
        expectSameOutputs(try f.contents("single"), try f.contents("ranked"), "2 ranks")
    }

    /// A budget far below the data: collectors write many sorted runs, the clusters phase keeps its arrays in
    /// mapped scratch files, and the output is the same, byte for byte.
    @Test func tinyMemoryBudgetSpillsAndGivesTheSameResult() throws {
        let f = try JobFixture(shards: 3, perShard: 300)
        try f.writeRecipe(output: "roomy", dedup: Self.step)
        #expect(try darwin(["run", f.recipe, "--workers", "2", "--progress", "none"]).status == 0)
        try f.writeRecipe(output: "tight", dedup: "minhash_dedup: {keep: first, memory: 2KB}")
        #expect(try darwin(["run", f.recipe, "--workers", "2", "--progress", "none"]).status == 0)
        expectSameOutputs(try f.contents("roomy"), try f.contents("tight"), "1 GiB vs 2 KB")
        func counters(_ out: String) throws -> JSONObject {
            let l2 = try #require(try f.stats(out)["stages"]?.arrayValue?.first?.objectValue)
            let steps = l2["steps"]?.arrayValue?.compactMap(\.objectValue) ?? []
            return try #require(steps.first { $0["step"] == "minhash_dedup" }?["counters"]?.objectValue)
        }
        let roomy = try counters("roomy"), tight = try counters("tight")
        #expect(roomy["signature_runs"] == nil && roomy["scratch_files_used"] == nil)
        #expect((tight["signature_runs"]?.intValue ?? 0) >= 6, "every shard wrote several runs")
        #expect(tight["scratch_files_used"] == 1)
        #expect(roomy["documents_removed"] == tight["documents_removed"])
        #expect((tight["documents_removed"]?.intValue ?? 0) > 0)
    }
}
