import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// L4 and L5 end to end on the real SmolLM2-135M-Instruct: `refine` in edit and rewrite modes, `complete` and
/// `qa_synthesis` with rejection sampling over real documents (the sample's first English documents, cut to a
/// few hundred characters so the model's work stays small); a kill and a resume that replays the response cache
/// and gives the files of an uninterrupted run; every chunk accounted for; and edit mode's promise — every
/// output line is an input line with at most characters removed.
@Suite(.serialized, .timeLimit(.minutes(20))) struct RefineJobTests {
    let dir = TemporaryDirectory("darwin-refine-job")

    /// Two shards of two real English documents each, every text its first lines up to about 700 characters.
    func writeInput() throws -> String {
        let input = dir.path + "/input"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        var picked: [Document] = []
        for shard in Repository.sampleShards where picked.count < 4 {
            for d in try Shards.documents(shard) where picked.count < 4 {
                let text = d.text
                // English: the jargon file, and the handbooks' English pages.
                guard text.count > 900, d.id.hasPrefix("jargon/") || d.id.contains("/en") else { continue }
                var cut = ""
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    if cut.count + line.count > 700 { break }
                    cut += line + "\n"
                }
                guard cut.count > 300 else { continue }
                var doc = d
                doc.text = cut
                picked.append(doc)
            }
        }
        #expect(picked.count == 4, "four real documents")
        for (i, pair) in stride(from: 0, to: picked.count, by: 2).enumerated() {
            let lines = picked[pair..<min(pair + 2, picked.count)].map(\.jsonString).joined(separator: "\n") + "\n"
            try lines.write(toFile: input + "/part-\(i).jsonl", atomically: true, encoding: .utf8)
        }
        return input
    }

    func writeRecipe(_ out: String, input: String) throws -> String {
        let recipe = dir.file(out + ".yaml")
        let m = "model: \(SmallModel.path), threads: 2, parallel: 4, batch_size: 4, context: 1024"
        try """
        name: refine
        seed: 5
        input: {paths: [\(input)]}
        output: \(dir.path)/\(out)
        stages:
          - name: L4e
            level: L4
            steps:
              - refine: {\(m), mode: edit, chunk_chars: 400, max_tokens: 96, max_calls: 4, min_success: 0.5, retries: 1}
          - name: L4r
            level: L4
            steps:
              - refine: {\(m), mode: rewrite, chunk_chars: 400, max_tokens: 160, min_success: 0, retries: 0}
          - name: L5
            level: L5
            steps:
              - complete: {\(m), chunk_tokens: 96, max_tokens: 200, min_success: 0, retries: 0}
              - qa_synthesis: {\(m), chunk_chars: 800, max_pairs: 1, max_tokens: 256, verify: 1, answer_tokens: 128}
        """.write(toFile: recipe, atomically: true, encoding: .utf8)
        return recipe
    }

    func outputs(_ out: String) throws -> [String: Data] { try Shards.jobOutputs(dir.path + "/" + out) }

    func documents(_ folder: String) throws -> [Document] {
        try Shards.files(under: folder).filter { $0.hasSuffix(".jsonl.zst") && !$0.hasPrefix("_") }.sorted()
            .flatMap { try Shards.documents(folder + "/" + $0) }
    }

    func counters(_ out: String, stage: String, step: String) throws -> JSONObject {
        try #require(
            JobStats.counters(try darwin(["stats", dir.path + "/" + out, "--json"]).stdout, stage: stage, step: step))
    }

    @Test func wrongSettingsAreRefusedWithTheirLine() throws {
        let prompt = dir.file("no-slot.yaml")
        try "user: Clean this.\n".write(toFile: prompt, atomically: true, encoding: .utf8)
        let server = "backend: openai, url: http://127.0.0.1:9/v1, model: m"
        let cases: [(step: String, message: String)] = [
            ("complete: {\(server)}", "chunk_tokens needs the model's tokenizer"),
            ("qa_synthesis: {\(server), verify: 1, min_agree: 2}", "min_agree (2) is above verify (1)"),
            ("refine: {\(server), prompt: \(prompt)}", "must contain {{text}} exactly once"),
            ("refine: {\(server), mode: rewrites}", "one of rewrite, edit"),
        ]
        for (i, c) in cases.enumerated() {
            let recipe = dir.file("wrong-\(i).yaml")
            try """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/wrong-\(i)
            stages:
              - name: L4
                level: \(c.step.hasPrefix("refine") ? "L4" : "L5")
                steps:
                  - \(c.step)
            """.write(toFile: recipe, atomically: true, encoding: .utf8)
            let r = try darwin(["validate", recipe])
            #expect(r.status != 0, "\(c.step)")
            #expect(r.stderr.contains("wrong-\(i).yaml:7:") && r.stderr.contains(c.message), "\(r.stderr)")
        }
    }

    @Test func refineCompleteAndQAResumeFromTheCacheAndMatchAnUninterruptedRun() throws {
        if let missing = SmallModel.missing { Issue.record(Comment(rawValue: missing)); return }
        let input = try writeInput()
        let reference = try darwin([
            "run", try writeRecipe("reference", input: input), "--workers", "1", "--progress", "none",
        ])
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try outputs("reference")

        // Every chunk has one outcome; every refused chunk one guard.
        for (stage, step) in [("L4e", "refine"), ("L4r", "refine"), ("L5", "complete")] {
            let c = try counters("reference", stage: stage, step: step)
            let outcomes = c.filter { $0.key.hasPrefix("chunk.") }.reduce(0) { $0 + ($1.value.intValue ?? 0) }
            let guards = c.filter { $0.key.hasPrefix("guard.") }.reduce(0) { $0 + ($1.value.intValue ?? 0) }
            #expect((c["chunks"]?.intValue ?? 0) > 0 && outcomes == c["chunks"]?.intValue, "\(stage) \(step): \(c)")
            #expect(guards == (c["chunk.kept_original"]?.intValue ?? 0), "\(stage) \(step): \(c)")
            #expect((c["answer_tokens"]?.intValue ?? 0) > 0 && (c["text_tokens"]?.intValue ?? 0) > 0)
        }

        // Edit mode: every output line is an input line, with at most characters removed, in order.
        let inputs = Dictionary(
            try Shards.files(under: input).sorted().flatMap { name in
                try String(contentsOfFile: input + "/" + name, encoding: .utf8).split(separator: "\n")
                    .map { try Document.parse(String($0)) }
            }.map { ($0.id, $0.text) }, uniquingKeysWith: { a, _ in a })
        let edited = try documents(dir.path + "/reference/L4e")
        #expect(!edited.isEmpty)
        for d in edited {
            let source = try #require(inputs[d.id])
            #expect(EditCheck.isEdit(d.text, of: source), "\(d.id): an edit added text:\n\(d.text)")
            #expect(d.value(atPath: "darwin.refine.chunks")?.intValue ?? 0 >= 1)
        }

        // `inspect --has` finds documents by what the step recorded.
        let listed = try darwin(
            [
                "inspect", dir.path + "/reference", "--stage", "L4e", "--has", "darwin.refine.chunks", "--json",
                "--limit", "100",
            ])
        #expect(listed.stdout.split(separator: "\n").count == edited.count, "\(listed.stderr)")
        let none = try darwin(["inspect", dir.path + "/reference", "--stage", "L4e", "--has", "darwin.complete"])
        #expect(none.stderr.contains("nothing matches"))

        // QA documents name their parent and carry the pair; rejection sampling counted every pair.
        let l5 = try documents(dir.path + "/reference/L5")
        let qa = try counters("reference", stage: "L5", step: "qa_synthesis")
        let made = l5.filter { $0.value(atPath: "darwin.created")?.stringValue == "L5:qa_synthesis" }
        func n(_ key: String) -> Int { qa[key]?.intValue ?? 0 }
        #expect(n("qa.made") >= 1, "the model wrote pairs: \(qa)")
        // Every pair made is refused (a reference, a repeat, a made-up name), verified, disagreeing or unverifiable.
        #expect(
            n("qa.made")
                == n("qa.refused_references") + n("qa.refused_duplicate") + n("qa.refused_drift") + n("qa.verified")
                + n("qa.disagreed") + n("qa.unverifiable"), "\(qa)")
        #expect(made.count == n("qa.kept") && n("qa.kept") == n("qa.verified"), "\(qa)")
        for d in made {
            #expect(d.parentIDs.count == 1 && l5.contains { $0.id == d.parentIDs[0] })
            #expect(d.text.hasPrefix("Question: ") && d.value(atPath: "metadata.qa.question") != nil)
            #expect(d.value(atPath: "metadata.qa.agreement")?.stringValue == "1/1")
        }

        // Killed after the model answered the first L5 task but before it was committed: the resumed run
        // replays what it got and writes the same files.
        let killed = try darwin(
            ["run", try writeRecipe("killed", input: input), "--workers", "1", "--progress", "none"],
            env: ["DARWIN_CRASH_AT": "before-commit:5"])
        #expect(killed.signaled && killed.status == SIGKILL, "the crash point was reached: \(killed.stderr)")
        let resumed = try darwin(["resume", dir.path + "/killed", "--workers", "1", "--progress", "none"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        expectSameOutputs(expected, try outputs("killed"), "killed and resumed")
        let complete = try counters("killed", stage: "L5", step: "complete")
        #expect((complete["cache_hits"]?.intValue ?? 0) >= 1, "the resumed run replayed the cache: \(complete)")
        let again = try counters("killed", stage: "L5", step: "qa_synthesis")
        #expect((again["cache_hits"]?.intValue ?? 0) >= 1, "\(again)")
    }
}
