import DarwinCore
import DarwinRunner
import DarwinSteps
import DarwinTestSupport
import Foundation
import Testing

@Suite struct RecipeLoaderTests {
    let loader = RecipeLoader(registry: StepCatalog.registry)

    func error(_ yaml: String) -> RecipeError? {
        do {
            _ = try loader.parse(text: yaml, path: "r.yaml")
            return nil
        } catch {
            return error
        }
    }

    let header = """
        input:
          paths: [data]
        output: out
        stages:

        """

    @Test(arguments: [
        (
            "url_filter: {block_domains: [/nonexistent/domains]}",
            "step 'url_filter': cannot read list file /nonexistent/domains"
        ),
        (
            "decontaminate: {benchmarks: [/nonexistent/bench.jsonl]}",
            "step 'decontaminate': cannot read benchmark /nonexistent/bench.jsonl"
        ),
        (
            "language_id: {model: /nonexistent/lid.ftz}",
            "step 'language_id': model file /nonexistent/lid.ftz does not exist"
        ),
    ])
    func missingFilesAreRefusedWithoutOpeningAnything(step: String, message: String) throws {
        let e = try #require(error(header + "  - level: L2\n    steps:\n      - \(step)\n"))
        #expect(e.line == 7, "\(e)")
        #expect(e.message == message, "\(e)")
    }

    @Test func validRecipeWithDefaults() throws {
        let r = try loader.parse(
            text: header + """
                  - name: L2
                    level: L2
                    steps:
                      - min_length: {min: 200}
                      - sample: {fraction: 0.5}
                      - min_length
                  - level: 3
                    steps:
                """, path: "r.yaml")
        #expect(r.stages.map(\.name) == ["L2", "L3"])
        #expect(r.stages[0].steps.map(\.name) == ["min_length", "sample", "min_length#2"])
        #expect(r.stages[0].steps[0].parameters.int("min") == 200)
        #expect(r.stages[0].steps[2].parameters.int("min") == 1)
        #expect(r.output.compressionLevel == 3)
        #expect(r.input.maxLineBytes == 64 << 20)
        #expect(r.seed == 0)
    }

    @Test(
        arguments: [
            (
                "      - level: L2\n        steps:\n          - min_lenght: {min: 3}\n", 7,
                "unknown step 'min_lenght'; did you mean 'min_length'?"
            ),
            (
                "      - level: L2\n        steps:\n          - min_length: {mni: 3}\n", 7,
                "step 'min_length': unknown parameter 'mni'; did you mean 'min'?"
            ),
            (
                "      - level: L2\n        steps:\n          - min_length: {min: many}\n", 7,
                "step 'min_length': parameter 'min': expected an integer, got 'many'"
            ),
            (
                "      - level: L2\n        steps:\n          - sample: {}\n", 7,
                "step 'sample': missing required parameter 'fraction'"
            ),
            (
                "      - level: L3\n        steps:\n          - exact_dedup: {}\n", 7,
                "step 'exact_dedup' belongs to L2; stage 'L3' is L3"
            ),
            ("      - level: L2\n      - level: L2\n", 6, "duplicate stage name 'L2' (first defined on line 5)"),
            ("      - level: L12\n", 5, "unknown level 'L12' (levels: L0…L9)"),
            ("      - level: L2\n        stepz: []\n", 6, "unknown key 'stepz' in a stage; did you mean 'steps'?"),
            (
                "      - level: L2\n        steps:\n          - min_length: {min: 5, max: 2}\n", 7,
                "step 'min_length': max (2) is below min (5)"
            ),
            (
                "      - level: L2\n        steps:\n          - set_field: {field: text, value: x}\n", 7,
                "step 'set_field': field 'text' is owned by darwin"
            ),
            (
                "      - level: L2\n        steps:\n          - min_length: [1]\n", 7,
                "parameters of 'min_length' must be a mapping"
            ),
            ("      - name: _work\n        level: L2\n", 5, "stage name '_work' is reserved"),
        ] as [(String, Int, String)])
    func stageErrors(stages: String, line: Int, message: String) throws {
        let e = try #require(error(header + stages))
        #expect(e.line == line, "\(e)")
        #expect(e.message.hasPrefix(message), "\(e)")
        #expect(e.description.hasPrefix("r.yaml:\(line):"))
    }

    @Test(
        arguments: [
            ("input:\n  paths: [d]\noutput: o\nstages: []\n", 4, "'stages' is empty"),
            ("input:\n  paths: [d]\nstages:\n  - level: L2\n", 1, "missing 'output'"),
            ("inputs:\n  paths: [d]\n", 1, "unknown key 'inputs' in the recipe; did you mean 'input'?"),
            (
                "input:\n  paths: [d]\n  format: parquet\noutput: o\nstages: [{level: L2}]\n", 3,
                "unknown input format 'parquet'"
            ),
            (
                "input:\n  paths: [d]\noutput:\n  path: o\n  compression_level: 40\nstages: [{level: L2}]\n", 5,
                "output.compression_level must be in -7…22"
            ),
            ("input: [\n", 2, "invalid YAML"),
            ("seed: -1\ninput: {paths: [d]}\noutput: o\nstages: [{level: L2}]\n", 1, "seed must be ≥ 0"),
        ] as [(String, Int, String)])
    func topLevelErrors(yaml: String, line: Int, message: String) throws {
        let e = try #require(error(yaml))
        #expect(e.line == line, "\(e)")
        #expect(e.message.hasPrefix(message), "\(e)")
    }

    @Test func maxWindowIsAPowerOfTwoForJSONL() throws {
        func input(_ lines: String) -> String {
            "input:\n  paths: [d]\n\(lines)output: o\nstages: [{level: L2}]\n"
        }
        #expect(try loader.parse(text: input(""), path: "r.yaml").input.maxWindow == 128 << 20)
        #expect(try loader.parse(text: input("  max_window: 512MiB\n"), path: "r.yaml").input.maxWindow == 512 << 20)
        #expect(try loader.parse(text: input("  max_window: 2GiB\n"), path: "r.yaml").input.maxWindow == 1 << 31)
        for (value, message) in [
            ("100MiB", "input.max_window must be a power of two from 1MiB to 2GiB"),
            ("4GiB", "input.max_window must be a power of two from 1MiB to 2GiB"),
            ("512KiB", "input.max_window must be a power of two from 1MiB to 2GiB"),
            ("lots", "input.max_window: expected a size such as 512MiB"),
        ] {
            let e = try #require(error(input("  max_window: \(value)\n")), "\(value)")
            #expect(e.line == 3 && e.message.hasPrefix(message), "\(e)")
        }
        let warc = try #require(error(input("  format: warc\n  max_window: 256MiB\n")))
        #expect(warc.message == "input.max_window applies to format jsonl, not warc", "\(warc)")
    }

    @Test func missingRecipeFile() {
        #expect(throws: RecipeError.self) { try loader.load(path: "/nonexistent/recipe.yaml") }
    }
}

@Suite struct InputResolverTests {
    let dir = TemporaryDirectory()

    func touch(_ rel: String) throws -> String {
        let p = dir.file(rel)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    func spec(_ paths: [String]) -> InputSpec {
        InputSpec(paths: paths, format: "jsonl", maxLineBytes: 1 << 20, pathLines: paths.indices.map { 10 + $0 })
    }

    @Test func foldersGlobsAndFiles() throws {
        _ = try touch("in/a/part-1.jsonl.zst")
        _ = try touch("in/b.jsonl.gz")
        _ = try touch("in/c.jsonl")
        _ = try touch("in/notes.txt")
        _ = try touch("in/_rejected/x.jsonl.zst")
        _ = try touch("in/.hidden.jsonl")
        let shards = try InputResolver.resolve(spec(["in"]), base: dir.path, recipePath: "r.yaml")
        #expect(shards.map(\.name) == ["a/part-1", "b", "c"])
        let globbed = try InputResolver.resolve(spec(["in/*.jsonl*"]), base: dir.path, recipePath: "r.yaml")
        #expect(globbed.map(\.name) == ["b", "c"])
        let file = try InputResolver.resolve(spec([dir.path + "/in/c.jsonl"]), base: "/", recipePath: "r.yaml")
        #expect(file.map(\.name) == ["c"])
    }

    @Test func missingInputNamesTheRecipeLine() throws {
        _ = try touch("in/a.jsonl")
        do {
            _ = try InputResolver.resolve(spec(["in", "missing/*.jsonl.zst"]), base: dir.path, recipePath: "r.yaml")
            Issue.record("resolved a missing input")
        } catch {
            #expect(error.line == 11)
            #expect(error.message.hasPrefix("input path 'missing/*.jsonl.zst' matches no files"))
        }
    }

    @Test func clashingNamesAreRefused() throws {
        _ = try touch("x/part.jsonl")
        _ = try touch("y/part.jsonl.zst")
        #expect(throws: RecipeError.self) {
            try InputResolver.resolve(spec(["x", "y"]), base: dir.path, recipePath: "r.yaml")
        }
    }
}

@Suite struct JobPlanTests {
    let loader = RecipeLoader(registry: StepCatalog.registry)

    func plan(_ steps: String, level: String = "L2", param: String = "") throws -> JobPlan {
        let r = try loader.parse(
            text: """
                input: {paths: [d]}
                output: o
                stages:
                  - level: \(level)
                    steps: \(steps)
                  - name: after
                    level: L2
                    steps: [sample: {fraction: 0.5}]
                """, path: "r.yaml")
        let inputs = (0..<3).map { InputShard(path: "/d/p\($0).jsonl", name: "p\($0)", fileBytes: 100) }
        return try JobPlan(recipe: r, inputs: inputs, outputDirectory: "/o")
    }

    @Test func globalStepsSplitAStageIntoPhases() throws {
        let p = try plan("[min_length: {min: 3}, exact_dedup: {partitions: 5}, sample: {fraction: 0.5}]")
        let s = p.stages[0]
        #expect(s.phases.map(\.name) == ["collect:exact_dedup", "exact_dedup:group", "apply:exact_dedup"])
        #expect(s.phases.map(\.taskCount) == [3, 5, 3])
        #expect(s.segments == [[0], [2]])
        #expect(p.allTasks.count == 3 + 5 + 3 + 3)
    }

    @Test func fingerprintsChainAndDiffExplains() throws {
        let a = try plan("[min_length: {min: 3}]")
        let b = try plan("[min_length: {min: 4}]")
        #expect(a.stages[0].fingerprint != b.stages[0].fingerprint)
        #expect(a.stages[1].definition == b.stages[1].definition)
        #expect(a.stages[1].fingerprint != b.stages[1].fingerprint, "a stage depends on the stages before it")
        let diff = RecipeDiff(recorded: a.stages.map(\.record), planned: b.stages)
        #expect(diff.firstInvalidStage == 0)
        #expect(
            diff.changes == [
                "stage 'L2': step min_length parameter min 3 → 4",
                "stage 'after' depends on a changed stage before it",
            ])
        let same = RecipeDiff(recorded: a.stages.map(\.record), planned: try plan("[min_length: {min: 3}]").stages)
        #expect(same.firstInvalidStage == nil && same.changes.isEmpty)
        let appended = RecipeDiff(recorded: [a.stages[0].record], planned: a.stages)
        #expect(appended.firstInvalidStage == nil && appended.addedStages == ["after"])
    }

    @Test func aLargerWindowChangesTheFirstStage() throws {
        func plan(_ window: String?) throws -> JobPlan {
            let r = try loader.parse(
                text: "input: {paths: [d]\(window.map { ", max_window: \($0)" } ?? "")}\noutput: o\n"
                    + "stages: [{level: L2}, {name: b, level: L2}]\n", path: "r.yaml")
            let inputs = [InputShard(path: "/d/a.jsonl.zst", name: "a", fileBytes: 1)]
            return try JobPlan(recipe: r, inputs: inputs, outputDirectory: "/o")
        }
        let unset = try plan(nil)
        #expect(
            !unset.stages[0].definition.contains("max_window"), "jobs from before the option keep their fingerprints")
        #expect(try plan("128MiB").stages[0].fingerprint == unset.stages[0].fingerprint)
        let larger = try plan("256MiB")
        #expect(larger.stages[0].definition.contains(#""max_window":268435456"#))
        let diff = RecipeDiff(recorded: unset.stages.map(\.record), planned: larger.stages)
        #expect(diff.firstInvalidStage == 0)
        #expect(diff.changes.first == "stage 'L2': input max_window (unset) → 268435456", "\(diff.changes)")
    }

    @Test func untilCutsThePlan() throws {
        let r = try loader.parse(
            text: "input: {paths: [d]}\noutput: o\nstages: [{level: L2}, {name: b, level: L3}]\n", path: "r.yaml")
        let inputs = [InputShard(path: "/d/a.jsonl", name: "a", fileBytes: 1)]
        #expect(try JobPlan(recipe: r, inputs: inputs, outputDirectory: "/o", until: "L2").stages.count == 1)
        #expect(throws: RecipeError.self) { try JobPlan(recipe: r, inputs: inputs, outputDirectory: "/o", until: "zz") }
    }
}
