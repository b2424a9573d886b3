import DarwinCore
import DarwinIO
import DarwinTestSupport
import Foundation
import Testing

/// Runs the built `darwin` binary.
func darwin(_ args: [String], env: [String: String] = [:], in dir: String? = nil) throws -> ProcessResult {
    try Process.run(Repository.darwinBinary, args, environment: env, directory: dir)
}

/// A job folder with an input corpus and a recipe, for end-to-end tests.
final class JobFixture: @unchecked Sendable {
    let dir = TemporaryDirectory("darwin-e2e")
    var input: String { dir.path + "/input" }
    var recipe: String { dir.path + "/recipe.yaml" }

    /// Writes `shards` shards of `perShard` real documents (sample texts cut to `maxChars`, reused with new
    /// ids, so exact duplicates exist) as `.jsonl.zst`.
    init(shards: Int = 8, perShard: Int = 400, maxChars: Int = 1500) throws {
        var sample: [Document] = []
        for f in Repository.sampleShards { sample += try Shards.documents(f) }
        for s in 0..<shards {
            let w = try ShardWriter(path: dir.file("input/part-\(String(format: "%03d", s)).jsonl.zst"), level: 1)
            for k in 0..<perShard {
                let src = sample[(s * perShard + k * 7) % sample.count]
                var text = src.text
                if text.count > maxChars { text = String(text.prefix(maxChars)) }
                try w.write(
                    Document(
                        id: "s\(s)-\(k)", text: text,
                        fields: [("metadata", src.metadata.isEmpty ? .null : .object(src.metadata))]))
            }
            _ = try w.finish()
        }
    }

    /// Writes the recipe; `output` is relative to the fixture folder.
    func writeRecipe(
        output: String = "out", minLength: Int = 100, extraStage: String = "",
        dedup: String = "exact_dedup: {partitions: 3}"
    ) throws {
        let yaml = """
            name: e2e
            seed: 3
            input:
              paths: [\(input)]
            output:
              path: \(dir.path)/\(output)
            stages:
              - name: L2
                level: L2
                steps:
                  - min_length: {min: \(minLength)}
                  - \(dedup)
                  - sample: {fraction: 0.6}
              - name: L2b
                level: L2
                steps:
                  - set_field: {field: metadata.checked, value: true}
                  - min_length: {min: 300}
            \(extraStage)
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: recipe))
    }

    /// The files of a job folder (outside provenance) and their bytes.
    func contents(_ out: String) throws -> [String: Data] {
        var d: [String: Data] = [:]
        for rel in Shards.files(under: dir.path + "/" + out) where rel != "recipe.yaml" {
            d[rel] = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/" + out + "/" + rel))
        }
        return d
    }

    /// `darwin stats --json` of a job folder.
    func stats(_ out: String) throws -> JSONObject {
        let r = try darwin(["stats", dir.path + "/" + out, "--json"])
        #expect(r.status == 0, "stats failed: \(r.stderr)")
        return try #require(try JSONValue.parse(r.stdout).objectValue)
    }
}

/// Stage counts from `stats --json`, for comparisons.
func stageCounts(_ stats: JSONObject) -> [String] {
    (stats["stages"]?.arrayValue ?? []).compactMap { s in
        guard let o = s.objectValue else { return nil }
        let keys = ["docs_in", "docs_out", "docs_rejected", "docs_errored", "bytes_in", "bytes_out", "tasks_done"]
        return (o["name"]?.stringValue ?? "") + " "
            + keys.map { "\($0)=\(o[$0]?.intValue ?? -1)" }.joined(separator: " ")
    }
}

/// Compares two job folders file by file.
func expectSameOutputs(
    _ a: [String: Data], _ b: [String: Data], _ label: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(a.keys.sorted() == b.keys.sorted(), "\(label): different files", sourceLocation: sourceLocation)
    for (k, v) in a where b[k] != v {
        Issue.record("\(label): \(k) differs", sourceLocation: sourceLocation)
    }
}

/// Runs `darwin run RECIPE` as `worldSize` ranks at once (one worker each) and returns their results.
func runRanks(_ recipe: String, worldSize: Int) -> [ProcessResult?] {
    let group = DispatchGroup()
    nonisolated(unsafe) var results = [ProcessResult?](repeating: nil, count: worldSize)
    for rank in 0..<worldSize {
        group.enter()
        DispatchQueue.global().async {
            results[rank] = try? darwin([
                "run", recipe, "--rank", "\(rank)", "--world-size", "\(worldSize)", "--workers", "1", "--progress",
                "none",
            ])
            group.leave()
        }
    }
    group.wait()
    return results
}
