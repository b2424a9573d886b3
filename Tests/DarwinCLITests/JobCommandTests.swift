import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@Suite struct JobCommandTests {
    @Test func demoRecipeRunsAndCountsAddUp() throws {
        let out = TemporaryDirectory("darwin-demo")
        let r = try darwin(
            ["run", "configs/demo.yaml", "--output", out.path, "--progress", "none"],
            env: ["DARWIN_MODELS": try DomainTagger.directory()], in: Repository.root)
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try #require(try JSONValue.parse(try darwin(["stats", out.path, "--json"]).stdout).objectValue)
        let stages = stats["stages"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(stages.map { $0["name"]?.stringValue } == ["L2", "L2-sample", "L3"])
        #expect(stages[0]["docs_in"] == 739)
        for s in stages {
            let i = s["docs_in"]?.intValue ?? -1, o = s["docs_out"]?.intValue ?? -1,
                d = s["docs_rejected"]?.intValue ?? -1
            #expect(i == o + d, "in = out + rejected for \(s["name"] ?? .null)")
            let dropped = (s["steps"]?.arrayValue ?? []).reduce(0) { $0 + ($1.objectValue?["dropped"]?.intValue ?? 0) }
            #expect(dropped == d, "per-step drops add up to the stage's rejections")
        }
        #expect(stages[1]["docs_in"] == stages[0]["docs_out"])
        #expect(stages[2]["docs_in"] == stages[1]["docs_out"])
        // L3: every document tagged; the more confident half of each domain kept (⌈n/2⌉ per domain).
        let tagged =
            try Shards.documents(out.path + "/L3/part-00000.jsonl.zst")
            + (try Shards.documents(out.path + "/L3/_rejected/part-00000.jsonl.zst"))
        #expect(tagged.allSatisfy { $0.value(atPath: "metadata.domain")?.stringValue != nil })
        #expect(tagged.allSatisfy { ($0.value(atPath: "metadata.domain_scores")?.objectValue?.count ?? 0) == 4 })
        let l3 = try #require(stages[2]["steps"]?.arrayValue?.last?.objectValue)
        #expect(l3["step"] == "score_filter")
        #expect((l3["drops"]?.objectValue?["score_filter:below_top_fraction"]?.intValue ?? 0) > 0)
        // Kept documents carry their lineage; rejected ones their reason.
        let kept = try Shards.documents(out.path + "/L2-sample/part-00000.jsonl.zst")
        #expect(
            kept.first?.value(atPath: "darwin.history") == [
                "L2:set_field", "L2:language_id", "L2:gopher_repetition", "L2:gopher_quality", "L2:c4",
                "L2:fineweb_quality", "L2:pii", "L2:exact_dedup", "L2-sample:sample",
            ])
        #expect(kept.allSatisfy { $0.value(atPath: "metadata.language") == "en" })
        #expect(kept.allSatisfy { ($0.value(atPath: "metadata.language_score")?.doubleValue ?? 0) > 0.65 })
        // The L2 rules drop what datatrove drops on the sample (see ReferenceAgreementTests), in this order.
        let steps = stages[0]["steps"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(
            steps.map { "\($0["step"]?.stringValue ?? "?")=\($0["dropped"]?.intValue ?? -1)" } == [
                "set_field=0", "language_id=230", "gopher_repetition=35", "gopher_quality=204", "c4=29",
                "fineweb_quality=17", "pii=0", "exact_dedup=3",
            ])
        #expect(kept.first?.value(atPath: "darwin.level") == 2)
        #expect(kept.first?.value(atPath: "metadata.collection") == "darwin-demo")
        #expect(kept.first?.value(atPath: "metadata.url") != nil, "fields the steps do not own are kept")
        let inspect = try darwin([
            "inspect", out.path, "--stage", "L2", "--rejected-by", "exact_dedup", "--json", "--limit", "100",
        ])
        let dups = inspect.stdout.split(separator: "\n").compactMap { try? Document.parse(String($0)) }
        #expect(dups.count == 3)
        #expect(
            dups.allSatisfy {
                $0.rejection?.rule == "exact_dedup:duplicate"
                    && $0.value(atPath: "darwin.rejected.detail.duplicate_of") != nil
            })
        // Sampling in inspect is deterministic.
        let a = try darwin(["inspect", out.path, "--stage", "L2-sample", "--sample", "3", "--seed", "5"])
        let b = try darwin(["inspect", out.path, "--stage", "L2-sample", "--sample", "3", "--seed", "5"])
        #expect(a.stdout == b.stdout && !a.stdout.isEmpty)
        let status = try darwin(["status", out.path])
        #expect(status.stdout.contains("completed"))
        let row = status.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .first { $0.count > 2 && $0[1] == "apply:exact_dedup" }
        #expect(row?[0] == "L2" && row?[2] == "4/4", "\(status.stdout)")
    }

    @Test func sameInputSameOutputWhateverTheWorkers() throws {
        let f = try JobFixture(shards: 4, perShard: 150)
        try f.writeRecipe(output: "w1")
        #expect(try darwin(["run", f.recipe, "--workers", "1", "--progress", "none"]).status == 0)
        try f.writeRecipe(output: "w3")
        #expect(try darwin(["run", f.recipe, "--workers", "3", "--progress", "none"]).status == 0)
        expectSameOutputs(try f.contents("w1"), try f.contents("w3"), "1 vs 3 workers")
    }

    @Test func secondConcurrentRunIsRefused() throws {
        let f = try JobFixture(shards: 2, perShard: 20)
        try f.writeRecipe()
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        let lockPath = f.dir.path + "/out/provenance/rank-00000.lock"
        let fd = open(lockPath, O_RDWR)
        #expect(fd >= 0)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        let r = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("darwin: error: another darwin run"), "\(r.stderr)")
        #expect(r.stderr.contains("is working on \(f.dir.path)/out"), "\(r.stderr)")
        let status = try darwin(["status", f.dir.path + "/out"])
        #expect(status.stdout.contains("running"), "a held lock shows as running: \(status.stdout)")
    }

    @Test func changedRecipeIsExplainedAndRefusedUnlessForced() throws {
        let f = try JobFixture(shards: 3, perShard: 100)
        try f.writeRecipe(minLength: 100)
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        let before = try f.stats("out")
        try f.writeRecipe(minLength: 1000)
        let refused = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("stage 'L2': step min_length parameter min 100 → 1000"), "\(refused.stderr)")
        #expect(refused.stderr.contains("stage 'L2b' depends on a changed stage before it"))
        #expect(refused.stderr.contains("--force"))
        let resume = try darwin(["resume", f.dir.path + "/out", "--progress", "none"])
        #expect(resume.status == 0, "resume uses the snapshot recipe: \(resume.stderr)")
        let forced = try darwin(["run", f.recipe, "--force", "--progress", "none"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let after = try f.stats("out")
        #expect(stageCounts(after) != stageCounts(before))
        let snapshot = try String(contentsOfFile: f.dir.path + "/out/recipe.yaml", encoding: .utf8)
        #expect(snapshot.contains("min: 1000"))
        // Appending a stage keeps earlier results and runs only the new one.
        try f.writeRecipe(
            minLength: 1000, extraStage: "  - name: L2c\n    level: L2\n    steps: [sample: {fraction: 0.5}]")
        let appended = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(appended.status == 0)
        #expect(appended.stderr.contains("recipe adds stage(s) L2c"))
        #expect(appended.stderr.contains("3 task(s) run"), "\(appended.stderr)")
    }

    @Test func catalogCommands() throws {
        let steps = try darwin(["steps"])
        #expect(steps.status == 0)
        for id in ["min_length", "sample", "set_field", "exact_dedup"] { #expect(steps.stdout.contains(id)) }
        let one = try darwin(["steps", "min_length"])
        #expect(one.stdout.contains("one of chars, bytes, words  \"chars\""), "\(one.stdout)")
        let typo = try darwin(["steps", "min_lenght"])
        #expect(typo.status != 0 && typo.stderr.contains("did you mean 'min_length'"))
        let mh = try darwin(["steps", "minhash_dedup", "--set", "bands=20", "--set", "rows=5"])
        #expect(mh.stdout.contains("20 bands × 5 rows (100 hashes): effective Jaccard threshold (1/b)^(1/r) = 0.549"))
        #expect(try darwin(["steps", "minhash_dedup"]).stdout.contains("= 0.719"))
        let bad = try darwin(["steps", "minhash_dedup", "--set", "bandz=2"])
        #expect(bad.status != 0 && bad.stderr.contains("did you mean 'bands'"))
        let levels = try darwin(["levels"])
        #expect(levels.stdout.contains("L4  Generative refinement"))
        let validate = try darwin(
            ["validate", "configs/demo.yaml"], env: ["DARWIN_MODELS": try DomainTagger.directory()], in: Repository.root
        )
        #expect(validate.status == 0)
        #expect(
            validate.stdout.contains("L2 (L2): set_field, language_id, gopher_repetition, gopher_quality, c4"),
            "\(validate.stdout)")
    }

    @Test(arguments: ["fineweb-en", "darwin-science-l2", "domain-tag"])
    func presetsRunOnTheSample(preset: String) throws {
        let out = TemporaryDirectory("darwin-preset")
        let r = try darwin(
            ["run", "configs/\(preset).yaml", "--output", out.path, "--progress", "none"],
            env: ["DARWIN_MODELS": try DomainTagger.directory()], in: Repository.root)
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try #require(try JSONValue.parse(try darwin(["stats", out.path, "--json"]).stdout).objectValue)
        let stage = try #require(stats["stages"]?.arrayValue?.first?.objectValue)
        #expect(stage["docs_in"] == 739)
        let dropped = Dictionary(
            uniqueKeysWithValues: (stage["steps"]?.arrayValue ?? []).compactMap(\.objectValue).map {
                ($0["step"]?.stringValue ?? "", $0["dropped"]?.intValue ?? -1)
            })
        if preset == "domain-tag" {
            #expect(stage["docs_out"] == 739, "tagging drops nothing")
            let docs = try Shards.documents(out.path + "/L3-domain/part-00001.jsonl.zst")
            let domains = Set(docs.compactMap { $0.value(atPath: "metadata.domain")?.stringValue })
            #expect(domains.isSubset(of: ["systems", "programming", "glossary", "literature"]) && domains.count > 1)
            // The tagger agrees with the source it was trained from on most documents of the sample.
            let map = [
                "debian-handbook": "systems", "kjv-bible": "literature", "dict-jargon": "glossary",
                "python-doc": "programming", "rust-books": "programming",
            ]
            let agree = docs.filter {
                map[$0.value(atPath: "metadata.source")?.stringValue ?? ""]
                    == $0.value(atPath: "metadata.domain")?.stringValue
            }
            #expect(Double(agree.count) / Double(docs.count) > 0.9)
        } else if preset == "fineweb-en" {
            #expect(dropped["url_filter"] == 2, "a banned word and a banned sub-word in the sample's URLs")
            #expect(dropped["language_id"] == 230)
            #expect((stage["docs_out"]?.intValue ?? 0) > 150)
        } else {
            #expect(dropped["language_id"] == 230)
            #expect((dropped["min_bytes"] ?? 0) > 200, "most documentation pages are under 8 KB")
            #expect(dropped["garbled_text"] == 0)
        }
    }

    @Test func notAJobFolder() throws {
        let d = TemporaryDirectory()
        let r = try darwin(["stats", d.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("holds no darwin job"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: d.file("stray.txt")))
        let f = try JobFixture(shards: 1, perShard: 5)
        try f.writeRecipe()
        let run = try darwin(["run", f.recipe, "--output", d.path])
        #expect(run.status == 1 && run.stderr.contains("is not empty and holds no darwin job"))
    }
}
