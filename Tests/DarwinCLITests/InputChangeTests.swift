import DarwinCore
import DarwinIO
import DarwinTestSupport
import Foundation
import Testing

/// A changed input never mixes into a job's output: the job redoes what depends on it, or refuses.
@Suite(.serialized, .timeLimit(.minutes(5))) struct InputChangeTests {
    /// Plain JSONL shards (so that an edit can keep a shard's size) made from the fixture's documents.
    func plainFixture() throws -> JobFixture {
        let f = try JobFixture(shards: 6, perShard: 200, maxChars: 800)
        for file in Shards.files(under: f.input) where file.hasSuffix(".jsonl.zst") {
            let path = f.input + "/" + file
            let bytes = try Shards.decompressed(path)
            try Data(bytes).write(to: URL(fileURLWithPath: String(path.dropLast(4))))
            try FileManager.default.removeItem(atPath: path)
        }
        return f
    }

    /// Changes one letter of the shard's text in place: same size, different content.
    func editSameSize(_ path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let needle = Array(#""text":""#.utf8)
        var i = 0
        while i + needle.count < bytes.count, Array(bytes[i..<(i + needle.count)]) != needle { i += 1 }
        var k = i + needle.count
        while !(bytes[k] >= 0x61 && bytes[k] <= 0x79) { k += 1 }  // a lower-case letter before 'z'
        bytes[k] += 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A fresh run of the current input into `out`.
    func fresh(_ f: JobFixture, _ out: String) throws -> [String: Data] {
        try f.writeRecipe(output: out)
        let r = try darwin(["run", f.recipe, "--workers", "2", "--progress", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        return try f.contents(out)
    }

    @Test func aShardEditedBetweenAKillAndTheResumeIsReadAnew() throws {
        let f = try plainFixture()
        try f.writeRecipe(output: "job")
        // Killed after five tasks are recorded done: the first shards of L2's collect phase.
        let killed = try darwin(
            ["run", f.recipe, "--workers", "1", "--progress", "none"], env: ["DARWIN_CRASH_AT": "after-done:5"])
        #expect(killed.signaled, "the crash point was reached: \(killed.stderr)")
        try editSameSize(f.input + "/part-000.jsonl")
        let resumed = try darwin(["resume", f.dir.path + "/job", "--workers", "2", "--progress", "none"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("input changed since the job read it: part-000 (content changed, same size)"))
        expectSameOutputs(try fresh(f, "reference"), try f.contents("job"), "resumed after an edit")
    }

    @Test func aShardEditedAfterTheJobFinishedIsRedoneOnTheNextRun() throws {
        let f = try plainFixture()
        try f.writeRecipe(output: "job")
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        try editSameSize(f.input + "/part-003.jsonl")
        let again = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("part-003 (content changed, same size)"), "\(again.stderr)")
        expectSameOutputs(try fresh(f, "reference"), try f.contents("job"), "rerun after an edit")
        // Nothing changed since: nothing is redone.
        try f.writeRecipe(output: "job")
        let third = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(third.stderr.contains("0 task(s) run"), "\(third.stderr)")
    }

    @Test func anEditThatKeepsSizeAndTimeIsFoundByVerifyInputs() throws {
        let f = try plainFixture()
        let shard = f.input + "/part-002.jsonl"
        let old = Date(timeIntervalSince1970: 1_600_000_000)
        for file in Shards.files(under: f.input) {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: f.input + "/" + file)
        }
        try f.writeRecipe(output: "job")
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        try editSameSize(shard)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: shard)
        let plain = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(plain.stderr.contains("0 task(s) run"), "size and time unchanged: trusted without reading")
        let verified = try darwin(["run", f.recipe, "--progress", "none", "--verify-inputs"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stderr.contains("part-002 (content changed, same size)"), "\(verified.stderr)")
        expectSameOutputs(try fresh(f, "reference"), try f.contents("job"), "--verify-inputs")
    }

    @Test func aChangedInputOptionIsRefusedThenRedoneWithForce() throws {
        let f = try plainFixture()
        try f.writeRecipe(output: "job")
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        let text = try String(contentsOfFile: f.recipe, encoding: .utf8)
            .replacingOccurrences(of: "  paths: [", with: "  source: other-source\n  paths: [")
        try Data(text.utf8).write(to: URL(fileURLWithPath: f.recipe))
        let refused = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(#"input source (unset) → "other-source""#), "\(refused.stderr)")
        let forced = try darwin(["run", f.recipe, "--progress", "none", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let lines = try Shards.lines(f.dir.path + "/job/L2b/part-000.jsonl.zst")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.contains(#""source":"other-source""#) })
    }
}

/// Bad input is counted, shown, written up to a cap, and fails a shard past the error budget.
@Suite struct ErrorBudgetTests {
    let dir = TemporaryDirectory("darwin-budget")

    func write(_ name: String, _ lines: [String]) throws {
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir.file("in/" + name)))
    }

    func good(_ n: Int, _ prefix: String) -> [String] {
        (0..<n).map { #"{"id":"\#(prefix)\#($0)","text":"a document that is long enough to keep \#($0)"}"# }
    }

    func recipe() throws -> String {
        let path = dir.file("r.yaml")
        let yaml = """
            input: {paths: [\(dir.path)/in]}
            output: \(dir.path)/out
            stages:
              - level: L2
                steps: [min_length: {min: 10}]
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func makeInputs(junkLines: Int) throws {
        try write("a-good.jsonl", good(30, "a"))
        try write("b-some-bad.jsonl", good(30, "b") + ["{\"id\":\"x\",\"text\":", "not json at all"])
        try write("c-junk.jsonl", (0..<junkLines).map { "junk line \($0) that is not JSON" })
    }

    @Test func errorsWithinTheBudgetAreSummarisedAndTheRunSucceeds() throws {
        try write("a-good.jsonl", good(30, "a"))
        try write("b-some-bad.jsonl", good(30, "b") + ["{\"id\":\"x\",\"text\":", "not json at all"])
        let r = try darwin(["run", try recipe(), "--progress", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("input errors in stage L2: 2 in 1 shard(s) (malformed_json 2)"), "\(r.stderr)")
        #expect(r.stderr.contains("b-some-bad.jsonl:31: malformed JSON"), "\(r.stderr)")
        #expect(r.stderr.contains("--stage L2 --errors` lists them all"), "\(r.stderr)")
        let status = try darwin(["status", dir.path + "/out"])
        #expect(status.stdout.contains("input errors in stage L2: 2 in 1 shard(s)"), "\(status.stdout)")
        let stats = try darwin(["stats", dir.path + "/out"])
        #expect(stats.stdout.contains("b-some-bad.jsonl:32: malformed JSON"), "\(stats.stdout)")
    }

    @Test func aShardOfJunkFailsItsTaskAndTheOthersAreKept() throws {
        try makeInputs(junkLines: 50_000)
        let r = try darwin(["run", try recipe(), "--progress", "none"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(
            r.stderr.contains("c-junk.jsonl: too many input errors in the shard: 1,000 of 1,000 records"), "\(r.stderr)"
        )
        #expect(r.stderr.contains("first: \(dir.path)/in/c-junk.jsonl:1: malformed JSON"), "\(r.stderr)")
        #expect(try Shards.documents(dir.file("out/L2/a-good.jsonl.zst")).count == 30)
        #expect(try Shards.documents(dir.file("out/L2/b-some-bad.jsonl.zst")).count == 30)
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/L2/c-junk.jsonl.zst")))
    }

    @Test func errorRecordsAreCappedPerShard() throws {
        try makeInputs(junkLines: 5000)
        let r = try darwin(["run", try recipe(), "--progress", "none", "--max-error-rate", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Shards.lines(dir.file("out/L2/_errors/c-junk.jsonl.zst")).count == 1000)
        #expect(r.stderr.contains("5,002 in 2 shard(s)"), "\(r.stderr)")
        #expect(r.stderr.contains("4,000 counted but not written (over 1,000 per shard)"), "\(r.stderr)")
    }

    @Test func maxErrorsFailsAShardAndTheJob() throws {
        try makeInputs(junkLines: 0)
        try FileManager.default.removeItem(atPath: dir.file("in/c-junk.jsonl"))
        let r = try darwin(["run", try recipe(), "--progress", "none", "--max-errors", "1"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("too many input errors in the shard: 2 (more than --max-errors 1)"), "\(r.stderr)")
    }
}

/// An output folder that is, holds or lies inside an input is refused before any work.
@Suite struct FolderNestingTests {
    let dir = TemporaryDirectory("darwin-nest")

    func check(input: String, output: String, expect message: String) throws {
        try Data(#"{"id":"a","text":"some text here"}"#.utf8).write(
            to: URL(fileURLWithPath: dir.file("data/in/a.jsonl")))
        let yaml = """
            input:
              paths: [\(input)]
            output: \(output)
            stages:
              - level: L2
                steps: [min_length: {min: 1}]
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: dir.file("r.yaml")))
        for command in ["validate", "run"] {
            let r = try darwin([command, "r.yaml"], in: dir.path)
            #expect(r.status == 2, "\(command) \(input) → \(output): \(r.stderr)")
            #expect(r.stderr.contains("r.yaml:"), "\(r.stderr)")
            #expect(r.stderr.contains(message), "\(command) \(input) → \(output): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("data/in/out")))
    }

    @Test func outputInsideInput() throws {
        try check(input: "data/in", output: "data/in/out", expect: "is inside input path 'data/in'")
    }

    @Test func outputIsInput() throws {
        try check(input: "data/in", output: "data/in/", expect: "is the input path 'data/in'")
    }

    @Test func inputInsideOutput() throws {
        try check(input: "data/in", output: "data", expect: "input path 'data/in' is inside the output folder")
    }

    @Test func outputMatchedByAGlob() throws {
        try check(input: "data/in/*", output: "data/in/out", expect: "matches input path 'data/in/*'")
    }
}
