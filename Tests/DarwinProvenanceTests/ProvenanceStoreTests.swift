import DarwinCore
import DarwinProvenance
import DarwinTestSupport
import Foundation
import Testing

@Suite struct ProvenanceStoreTests {
    let dir = TemporaryDirectory()

    func store() throws -> ProvenanceStore { try ProvenanceStore(path: dir.file("rank-00000.sqlite")) }

    func result(docsIn: Int, dropped: Int, rule: String = "min_length:too_short") -> TaskResult {
        var r = TaskResult()
        r.counts.docsIn = docsIn
        r.counts.docsOut = docsIn - dropped
        r.counts.docsRejected = dropped
        var stats = StepStats(histograms: [
            HistogramSpec(name: "length", lower: 1, upper: 1e6, bins: 6, scale: .log, summary: "len")
        ])
        stats.documentsIn = docsIn
        stats.drops[rule] = dropped
        stats.dropBytes[rule] = dropped * 10
        stats.counters["seen"] = docsIn
        stats.observe("length", 50)
        r.steps = [("min_length", 0, stats)]
        r.inputErrors = ["malformed_json": 1]
        r.outputs = [OutputFileRecord(path: "L2/a.jsonl.zst", checksum: "abc", lines: docsIn - dropped, fileBytes: 100)]
        return r
    }

    @Test func walModeAndJob() throws {
        let s = try store()
        let job = JobRecord(
            recipeText: "x: 1", recipeHash: "h", recipePath: "r.yaml", baseDirectory: "/b", darwinVersion: "0.1.0",
            host: "h", rank: 0, worldSize: 1, seed: UInt64.max, createdAt: 1, updatedAt: 2)
        try s.saveJob(job)
        #expect(try s.job() == job)
        let mode = try Process.run("sqlite3", [s.path, "PRAGMA journal_mode;"]).stdout
        #expect(mode.trimmingCharacters(in: .whitespacesAndNewlines) == "wal")
    }

    @Test func taskLifecycleAndTotals() throws {
        let s = try store()
        let run = try s.beginRun(command: "darwin run", workers: 2, host: "h", now: 10)
        let k1 = TaskKey(stage: "L2", phase: 0, shardIndex: 0), k2 = TaskKey(stage: "L2", phase: 0, shardIndex: 1)
        try s.startTask(k1, phaseName: "process", shard: "a", rank: 0, run: run, now: 11)
        try s.startTask(k2, phaseName: "process", shard: "b", rank: 0, run: run, now: 11)
        try s.completeTask(k1, result: result(docsIn: 100, dropped: 10), now: 12)
        try s.endTask(k2, status: .failed, error: "disk full", now: 12)
        var tasks = try s.tasks()
        #expect(tasks.map(\.status) == [.done, .failed])
        #expect(tasks[0].counts.docsIn == 100 && tasks[0].outputs.first?.checksum == "abc")
        #expect(tasks[1].error == "disk full")
        #expect(try s.doneTasks() == [k1])

        // Only done tasks count.
        var totals = try s.stepTotals()
        #expect(totals.count == 1)
        #expect(totals[0].stats.drops["min_length:too_short"] == 10)

        // A retry of the failed task completes; a redo of the done one replaces, never adds.
        try s.startTask(k2, phaseName: "process", shard: "b", rank: 0, run: run, now: 13)
        try s.completeTask(k2, result: result(docsIn: 50, dropped: 5), now: 14)
        try s.startTask(k1, phaseName: "process", shard: "a", rank: 0, run: run, now: 15)
        try s.completeTask(k1, result: result(docsIn: 100, dropped: 10), now: 16)
        totals = try s.stepTotals()
        #expect(totals[0].stats.documentsIn == 150)
        #expect(totals[0].stats.drops["min_length:too_short"] == 15)
        #expect(totals[0].stats.dropBytes["min_length:too_short"] == 150)
        #expect(totals[0].stats.counters["seen"] == 150)
        #expect(totals[0].stats.histograms["length"]?.total == 2)
        #expect(try s.inputErrorTotals()["L2"]?["malformed_json"] == 2)
        tasks = try s.tasks()
        #expect(tasks.map(\.attempts) == [2, 2])
    }

    @Test func abandonedRunningTasksBecomeInterrupted() throws {
        let s = try store()
        let run = try s.beginRun(command: "darwin run", workers: 1, host: "h", now: 1)
        try s.startTask(
            TaskKey(stage: "L2", phase: 0, shardIndex: 0), phaseName: "p", shard: "a", rank: 0, run: run, now: 2)
        #expect(try s.markAbandonedTasksInterrupted(now: 3) == 1)
        #expect(try s.tasks().first?.status == .interrupted)
        #expect(try s.runs().first?.status == "interrupted")
    }

    @Test func resetStagesForgetsTheirTasks() throws {
        let s = try store()
        let run = try s.beginRun(command: "c", workers: 1, host: "h", now: 1)
        for stage in ["L1", "L2"] {
            let k = TaskKey(stage: stage, phase: 0, shardIndex: 0)
            try s.startTask(k, phaseName: "p", shard: "a", rank: 0, run: run, now: 2)
            try s.completeTask(k, result: result(docsIn: 1, dropped: 0), now: 3)
        }
        try s.resetStages(["L2"])
        #expect(try s.tasks().map(\.key.stage) == ["L1"])
        #expect(try s.stepTotals().map(\.stage) == ["L1"], "statistics of reset tasks are gone too")
    }

    @Test func readOnlyOpenOfAMissingFileFails() {
        #expect(throws: ProvenanceError.self) {
            try ProvenanceStore(path: dir.file("none/rank.sqlite"), readOnly: true)
        }
    }
}
