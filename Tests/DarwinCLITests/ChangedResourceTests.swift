import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// A model replaced under the same path is a change of the stages that use it: refused, then redone alone.
@Suite(.serialized) struct ChangedResourceTests {
    let dir = TemporaryDirectory("darwin-resource")

    func writeRecipe(_ out: String) throws -> String {
        let path = dir.file(out + ".yaml")
        let yaml = """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/\(out)
            stages:
              - name: L2
                level: L2
                steps: [min_length: {min: 100}]
              - name: L3
                level: L3
                steps:
                  - fasttext_classify: {model: \(dir.path)/models/tagger.bin, key: domain_scores, label_key: domain}
              - name: L3b
                level: L3
                steps: [set_field: {field: metadata.checked, value: true}]
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aModelReplacedUnderTheSamePathRedoesTheStagesThatUseIt() throws {
        try FileManager.default.createDirectory(atPath: dir.file("models"), withIntermediateDirectories: true)
        let original = try DomainTagger.directory() + "/domain-tag.bin"
        let other = try darwin(
            trainDomainTagger.map { $0 == "10" ? "3" : $0 } + ["--output", dir.path + "/other.bin"],
            in: Repository.root)
        #expect(other.status == 0, "\(other.stderr)")
        try FileManager.default.copyItem(atPath: original, toPath: dir.file("models/tagger.bin"))
        let recipe = try writeRecipe("job")
        #expect(try darwin(["run", recipe, "--progress", "none"]).status == 0)

        // Same path, other content.
        try FileManager.default.removeItem(atPath: dir.file("models/tagger.bin"))
        try FileManager.default.copyItem(atPath: dir.path + "/other.bin", toPath: dir.file("models/tagger.bin"))
        let refused = try darwin(["run", recipe, "--progress", "none"])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("stage 'L3': step fasttext_classify model: the file changed (tagger.bin"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("stage 'L3b' depends on a changed stage before it"), "\(refused.stderr)")
        let forced = try darwin(["run", recipe, "--progress", "none", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("redoing stage(s) L3, L3b"), "\(forced.stderr)")
        #expect(forced.stderr.contains("8 task(s) run, 4 already done"), "only L3 and L3b are redone: \(forced.stderr)")

        // The result is what a fresh job with the new model gives.
        let fresh = try darwin(["run", try writeRecipe("fresh"), "--progress", "none"])
        #expect(fresh.status == 0)
        for stage in ["L2", "L3", "L3b"] {
            for shard in ["part-00000", "part-00003"] {
                let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("job/\(stage)/\(shard).jsonl.zst")))
                let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("fresh/\(stage)/\(shard).jsonl.zst")))
                #expect(a == b, "\(stage)/\(shard)")
            }
        }
    }
}
