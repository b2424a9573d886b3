import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// Kill the job at many points, resume, and get byte-identical output and exact counts.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ResumeTests {
    @Test func killAtSeveralPointsThenResumeIsByteIdentical() throws {
        let f = try JobFixture()
        try f.writeRecipe(output: "reference")
        let ref = try darwin(["run", f.recipe, "--workers", "2", "--progress", "none"])
        #expect(ref.status == 0, "\(ref.stderr)")
        let reference = try f.contents("reference")
        let referenceStats = stageCounts(try f.stats("reference"))
        #expect(reference.keys.contains("L2/part-000.jsonl.zst"))
        #expect(reference.keys.contains { $0.hasPrefix("L2/_rejected/") })
        #expect(!reference.keys.contains { $0.contains("_work") }, "intermediate files are removed")

        let points = [
            "task-start:3", "mid-task:2", "before-commit:4", "after-commit:6", "after-done:9", "reduce:2",
            "after-commit:1", "mid-task:9",
        ]
        for (i, point) in points.enumerated() {
            let out = "run\(i)"
            try f.writeRecipe(output: out)
            let killed = try darwin(
                ["run", f.recipe, "--workers", "2", "--progress", "none"], env: ["DARWIN_CRASH_AT": point])
            #expect(killed.signaled && killed.status == SIGKILL, "\(point): the crash point was reached")
            // A second kill during the resume, then a clean finish.
            if i % 2 == 0 {
                let again = try darwin(
                    ["run", f.recipe, "--workers", "1", "--progress", "none"],
                    env: ["DARWIN_CRASH_AT": "after-commit:2"])
                #expect(again.signaled || again.status == 0)
            }
            let resumed = try darwin([
                "resume", f.dir.path + "/" + out, "--workers", i % 3 == 0 ? "1" : "2", "--progress", "none",
            ])
            #expect(resumed.status == 0, "\(point): \(resumed.stderr)")
            expectSameOutputs(reference, try f.contents(out), point)
            #expect(stageCounts(try f.stats(out)) == referenceStats, "\(point): counts")
            let leftovers = Shards.files(under: f.dir.path + "/" + out).filter {
                $0.hasSuffix(".tmp") || $0.contains("_work")
            }
            #expect(leftovers.isEmpty, "\(point): \(leftovers)")
        }
    }

    @Test func signalsStopCleanlyAndResume() throws {
        let f = try JobFixture(shards: 12, perShard: 600, maxChars: 4000)
        try f.writeRecipe(output: "reference")
        #expect(try darwin(["run", f.recipe, "--progress", "none", "-q"]).status == 0)
        let reference = try f.contents("reference")
        for (i, sig) in [SIGINT, SIGTERM, SIGKILL].enumerated() {
            let out = "sig\(i)"
            try f.writeRecipe(output: out)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Repository.darwinBinary)
            p.arguments = ["run", f.recipe, "--workers", "2", "--progress", "none"]
            let err = Pipe()
            p.standardError = err
            try p.run()
            // Wait until the first shard of the first stage is committed, then signal.
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(
                atPath: f.dir.path + "/\(out)/L2/_work/01-exact_dedup/collect-000000.bin"),
                Date() < deadline, p.isRunning
            {
                usleep(5000)
            }
            kill(p.processIdentifier, sig)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            if sig == SIGKILL {
                #expect(p.terminationReason == .uncaughtSignal)
            } else {
                #expect(p.terminationStatus == 128 + sig, "\(stderr)")
                #expect(stderr.contains("interrupted"), "\(stderr)")
                let tmp = Shards.files(under: f.dir.path + "/" + out).filter { $0.hasSuffix(".tmp") }
                #expect(tmp.isEmpty, "partial files removed on \(sig): \(tmp)")
                let status = try darwin(["status", f.dir.path + "/" + out])
                #expect(status.stdout.contains("stopped (last run interrupted"), "\(status.stdout)")
            }
            let resumed = try darwin(["resume", f.dir.path + "/" + out, "--progress", "none"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            expectSameOutputs(reference, try f.contents(out), "signal \(sig)")
        }
    }

    @Test func rerunningACompletedJobDoesNothing() throws {
        let f = try JobFixture(shards: 2, perShard: 50)
        try f.writeRecipe()
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        let before = try f.contents("out")
        let again = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("0 task(s) run"), "\(again.stderr)")
        expectSameOutputs(before, try f.contents("out"), "rerun")
    }

    @Test func untilThenTheRest() throws {
        let f = try JobFixture(shards: 3, perShard: 60)
        try f.writeRecipe()
        #expect(try darwin(["run", f.recipe, "--until", "L2", "--progress", "none"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/out/L2b"))
        let rest = try darwin(["run", f.recipe, "--progress", "none"])
        #expect(rest.status == 0)
        #expect(rest.stderr.contains("3 task(s) run, 9 already done"), "\(rest.stderr)")
    }

    @Test func ranksSplitTheWorkAndAgreeWithOneProcess() throws {
        let f = try JobFixture(shards: 5, perShard: 120)
        try f.writeRecipe(output: "single")
        #expect(try darwin(["run", f.recipe, "--progress", "none"]).status == 0)
        try f.writeRecipe(output: "ranked")
        let results = runRanks(f.recipe, worldSize: 2)
        for r in results { #expect(r?.status == 0, "\(r?.stderr ?? "no result")") }
        expectSameOutputs(try f.contents("single"), try f.contents("ranked"), "2 ranks")
        let files = try FileManager.default.contentsOfDirectory(atPath: f.dir.path + "/ranked/provenance").filter {
            $0.hasSuffix(".sqlite")
        }
        #expect(files.sorted() == ["rank-00000.sqlite", "rank-00001.sqlite"])
        #expect(stageCounts(try f.stats("ranked")) == stageCounts(try f.stats("single")), "stats read every rank")
    }
}
