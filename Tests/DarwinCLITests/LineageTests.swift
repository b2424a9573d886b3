import DarwinCore
import DarwinIO
import DarwinTestSupport
import Foundation
import Testing

/// Documents that make documents: chunks and their reassembly, shards cut by size, lineage.
@Suite(.serialized, .timeLimit(.minutes(8))) struct LineageTests {
    let dir = TemporaryDirectory("darwin-lineage")

    /// Splits every sample document into chunks (output cut by size), joins them back (cut by count), and
    /// samples the result in a third stage.
    func writeRecipe(_ out: String) throws -> String {
        let path = dir.file(out + ".yaml")
        let yaml = """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/\(out)
            seed: 5
            stages:
              - name: split
                level: L4
                shard_size: 1MB
                steps:
                  - chunk: {max_chars: 300}
              - name: join
                level: L4
                shard_documents: 100
                steps:
                  - join_chunks
              - name: after
                level: L4
                steps:
                  - sample: {fraction: 0.5}
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Every document of a stage's kept shards, in shard order, without its `darwin` field.
    func documents(_ out: String, stage: String) throws -> [String] {
        let folder = dir.path + "/" + out + "/" + stage
        return try Shards.files(under: folder).filter { !$0.contains("/") && $0.hasSuffix(".jsonl.zst") }.sorted()
            .flatMap { try Shards.documents(folder + "/" + $0) }
            .map { doc in
                var d = doc
                d["darwin"] = nil
                return d.jsonString
            }
    }

    @Test func chunksJoinBackToTheInputByteForByteAlsoAfterKills() throws {
        let input = try Repository.sampleShards.flatMap { try Shards.documents($0) }.map(\.jsonString)
        let reference = try darwin(["run", try writeRecipe("reference"), "--workers", "2", "--progress", "none"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let joined = try documents("reference", stage: "join")
        #expect(joined.count == input.count)
        #expect(joined == input, "the joined documents are the input documents, byte for byte")
        let split = Shards.files(under: dir.path + "/reference/split").filter {
            !$0.contains("/") && $0.hasSuffix(".jsonl.zst")
        }
        #expect(split.count == 13, "chunks are cut into 1 MB shards: \(split)")
        let joinShards = Shards.files(under: dir.path + "/reference/join").filter {
            !$0.contains("/") && $0.hasSuffix(".jsonl.zst")
        }
        #expect(joinShards.count == 8, "739 documents in shards of 100")
        #expect(try Shards.documents(dir.path + "/reference/join/part-00000.jsonl.zst").count == 100)

        let stats = try #require(
            try JSONValue.parse(try darwin(["stats", dir.path + "/reference", "--json"]).stdout).objectValue)
        let stageList = stats["stages"]?.arrayValue ?? []
        let stages = stageList.compactMap { $0.objectValue }
        try #require(stages.count == 3)
        #expect(stages[0]["docs_created"]?.intValue == stages[1]["docs_consumed"]?.intValue)
        #expect(stages[0]["docs_consumed"]?.intValue == stages[1]["docs_created"]?.intValue)
        #expect((stages[0]["docs_created"]?.intValue ?? 0) > 10_000)

        let referenceFiles = try contents("reference")
        let points = [
            "task-start:3", "mid-task:2", "before-commit:5", "after-commit:9", "after-done:6", "reduce:1",
            "after-done:25", "after-commit:40",
        ]
        for (i, point) in points.enumerated() {
            let out = "kill\(i)"
            let recipe = try writeRecipe(out)
            let killed = try darwin(
                ["run", recipe, "--workers", "2", "--progress", "none"], env: ["DARWIN_CRASH_AT": point])
            #expect(killed.signaled, "\(point): the crash point was reached: \(killed.stderr)")
            let resumed = try darwin(["resume", dir.path + "/" + out, "--workers", i % 2 == 0 ? "1" : "2"])
            #expect(resumed.status == 0, "\(point): \(resumed.stderr)")
            expectSameOutputs(referenceFiles, try contents(out), point)
        }
    }

    @Test func cutsDoNotDependOnTheNumberOfRanks() throws {
        #expect(try darwin(["run", try writeRecipe("one"), "--workers", "2", "--progress", "none"]).status == 0)
        let results = runRanks(try writeRecipe("ranks"), worldSize: 2)
        #expect(results.allSatisfy { $0?.status == 0 }, "\(results.map { $0?.stderr ?? "not run" })")
        expectSameOutputs(try contents("one"), try contents("ranks"), "2 ranks")
    }

    @Test func lineageShowsAncestorsAndDescendants() throws {
        #expect(try darwin(["run", try writeRecipe("job"), "--progress", "none"]).status == 0)
        let docs = try Shards.documents(Repository.sampleShards[0])
        let first = try #require(docs.first)
        let r = try darwin(["inspect", dir.path + "/job", "--lineage", first.id + "#split:chunk:1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\(first.id) · input"), "\(r.stdout)")
        #expect(r.stdout.contains("\(first.id)#split:chunk:1 · split"), "\(r.stdout)")
        #expect(r.stdout.contains("\(first.id) · join"), "the joined document: \(r.stdout)")
        let down = try darwin(["inspect", dir.path + "/job", "--lineage", first.id, "--json"])
        let lines = down.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)).objectValue }
        #expect(lines.contains { $0["id"]?.stringValue == first.id + "#split:chunk:0" && $0["stage"] == "split" })
    }

    /// The files of a job folder (outside provenance) and their bytes.
    func contents(_ out: String) throws -> [String: Data] {
        var d: [String: Data] = [:]
        for rel in Shards.files(under: dir.path + "/" + out) where rel != "recipe.yaml" {
            d[rel] = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/" + out + "/" + rel))
        }
        return d
    }
}
