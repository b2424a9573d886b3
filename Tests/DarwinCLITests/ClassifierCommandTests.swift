import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// `make domain-tagger`'s command, without the output.
let trainDomainTagger = [
    "train-classifier", "--input", "data/sample", "--label-field", "metadata.source", "--label-map",
    "configs/domain-tag.labels.tsv", "--lowercase", "--word-ngrams", "2", "--dim", "16", "--epoch", "10", "--bucket",
    "100000", "--lr", "0.5",
]

/// The demo's domain tagger, trained once per test run (as make domain-tagger does) into a temporary folder.
enum DomainTagger {
    private static let folder = TemporaryDirectory("darwin-domain-tagger")
    private static let trained: Result<String, Error> = Result {
        let r = try darwin(trainDomainTagger + ["--output", folder.path + "/domain-tag.bin"], in: Repository.root)
        guard r.status == 0 else { throw StepFailure(message: r.stderr) }
        return folder.path
    }

    struct StepFailure: Error { let message: String }

    /// A folder holding domain-tag.bin, for DARWIN_MODELS.
    static func directory() throws -> String { try trained.get() }
}

@Suite struct ClassifierCommandTests {
    /// Positives vs negatives from files; the model, its card and the kept training files; a recipe that scores
    /// with the model and keeps the top fraction; the same run twice gives the same bytes.
    @Test func trainClassifyAndSelect() throws {
        let dir = TemporaryDirectory("darwin-l3-cli")
        let shards = Repository.sampleShards
        let trainArguments = [
            "train-classifier", "--positive", shards[0], "--positive", shards[1], "--negative", shards[2],
            "--negative", shards[3], "--dim", "8", "--bucket", "20000", "--epoch", "3",
        ]
        let r = try darwin(trainArguments + ["--keep-data", "--json", "--output", dir.path + "/models/q"])
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["q.bin", "q.json", "q.train.txt", "q.valid.txt"] {
            #expect(FileManager.default.fileExists(atPath: dir.path + "/models/" + f), "\(f)")
        }
        let card = try #require(try JSONValue.parse(r.stdout).objectValue)
        #expect(card["labels"]?.arrayValue?.compactMap(\.stringValue).sorted() == ["hq", "lq"])
        #expect(card["format"] == "darwin-classifier/1")
        let train = try String(contentsOfFile: dir.path + "/models/q.train.txt", encoding: .utf8)
        #expect(
            train.split(separator: "\n").allSatisfy { $0.hasPrefix("__label__hq ") || $0.hasPrefix("__label__lq ") })

        let recipe = dir.path + "/l3.yaml"
        try """
        input: {paths: [\(Repository.sampleDirectory)]}
        output: {path: \(dir.path)/out}
        stages:
          - name: L3
            level: L3
            steps:
              - fasttext_classify: {model: \(dir.path)/models/q.bin, key: quality, labels: [hq]}
              - score_filter: {top_fraction: 0.1, score: metadata.quality.hq, group_by: metadata.source}
        """.write(toFile: recipe, atomically: true, encoding: .utf8)
        #expect(try darwin(["run", recipe, "--progress", "none", "--workers", "2"]).status == 0)
        let stats = try #require(
            try JSONValue.parse(try darwin(["stats", dir.path + "/out", "--json"]).stdout).objectValue)
        let stage = try #require(stats["stages"]?.arrayValue?.first?.objectValue)
        #expect(stage["docs_in"] == 739)
        // ⌈10 % of each source⌉: debian-handbook 360 → 36, kjv-bible 120 → 12, dict-jargon 160 → 16,
        // python-doc 60 → 6, rust-books 39 → 4.
        #expect(stage["docs_out"] == 74)
        let classify = try #require(stage["steps"]?.arrayValue?.first?.objectValue)
        let hist = try #require(classify["histograms"]?.objectValue?["quality.hq"]?.objectValue)
        #expect(hist["total"] == 739)
        #expect(hist["share_at_or_above_edge"]?.arrayValue?.first == 1.0)
        let text = try darwin(["stats", dir.path + "/out"]).stdout
        #expect(text.contains("fasttext_classify.quality.hq — probability of hq (n=739"), "\(text)")
        #expect(text.contains("≥ bin"))

        // Determinism: the same data, arguments and seed give the same model bytes.
        let again = try darwin(trainArguments + ["--output", dir.path + "/q2"])
        #expect(again.status == 0)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: dir.path + "/q2.bin"))
                == Data(contentsOf: URL(fileURLWithPath: dir.path + "/models/q.bin")))
    }

    @Test func missingOrBrokenModelsFailValidation() throws {
        let dir = TemporaryDirectory("darwin-l3-bad")
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: dir.path + "/junk.bin"))
        for (model, message) in [
            ("\(dir.path)/absent.bin", "model file \(dir.path)/absent.bin does not exist"),
            (
                "\(dir.path)/junk.bin",
                "cannot load fastText model \(dir.path)/junk.bin: not a fastText model (wrong magic number or version)"
            ),
            ("no-such-model.bin", "model no-such-model.bin not found"),
        ] {
            let recipe = dir.path + "/r.yaml"
            try """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: {path: \(dir.path)/out}
            stages:
              - level: L3
                steps:
                  - fasttext_classify: {model: \(model), key: q}
            """.write(toFile: recipe, atomically: true, encoding: .utf8)
            let v = try darwin(["validate", recipe], env: ["DARWIN_MODELS": dir.path])
            #expect(v.status == 2)
            #expect(v.stderr.contains(message), "\(v.stderr)")
            #expect(v.stderr.split(separator: "\n").count == 1, "one line: \(v.stderr)")
        }
        let t = try darwin(["train-classifier", "--input", Repository.sampleDirectory, "--output", dir.path + "/m"])
        #expect(t.status != 0)
        #expect(t.stderr.contains("--input needs --label-field"))
        let none = try darwin([
            "train-classifier", "--input", Repository.sampleDirectory, "--label-field", "metadata.nothing", "--output",
            dir.path + "/m",
        ])
        #expect(none.status == 2)
        #expect(none.stderr.contains("no labelled training documents (739 without a label"), "\(none.stderr)")
    }
}
