import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// A job on the bundled sample: L2 drops short documents (so `_rejected/` exists) and exact duplicates (a
/// global step, so the stage passes `_work/` files between its phases); L2b keeps a deterministic half.
private final class SampleJob: Sendable {
    let dir = TemporaryDirectory("darwin-verify")
    var out: String { dir.path + "/out" }

    /// Runs the job with extra `darwin run` options.
    init(_ options: [String] = [], env: [String: String] = [:]) throws {
        let yaml = """
            name: verify
            seed: 1
            input:
              paths: [\(Repository.sampleDirectory)]
            output:
              path: \(dir.path)/out
            stages:
              - name: L2
                level: L2
                steps:
                  - min_length: {min: 500}
                  - exact_dedup: {partitions: 2}
              - name: L2b
                level: L2
                steps:
                  - sample: {fraction: 0.5}
            """
        let recipe = dir.file("recipe.yaml")
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: recipe))
        let r = try darwin(["run", recipe, "--workers", "1", "--progress", "none"] + options, env: env)
        if env["DARWIN_CRASH_AT"] == nil { #expect(r.status == 0, "\(r.stderr)") }
    }

    /// A copy of the job folder, to damage.
    func copy() throws -> String {
        let path = dir.path + "/copy-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: out, toPath: path)
        return path
    }
}

/// `darwin verify OUT --json`, parsed.
private func verifyJSON(_ out: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (
    status: Int32, report: JSONObject
) {
    let r = try darwin(["verify", out, "--json"])
    let report = try #require(try JSONValue.parse(r.stdout).objectValue, "\(r.stdout)", sourceLocation: sourceLocation)
    return (r.status, report)
}

private func findings(_ report: JSONObject, _ key: String) -> [JSONObject] {
    report[key]?.arrayValue?.compactMap(\.objectValue) ?? []
}

/// A way to damage a kept shard, and the kind of problem `verify` must call it.
enum Damage: String, CaseIterable, Sendable {
    case truncate
    case flipByte
    case delete

    var kind: String {
        switch self {
        case .truncate: return "truncated"
        case .flipByte: return "altered"
        case .delete: return "missing"
        }
    }

    func apply(to path: String) throws {
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        switch self {
        case .truncate:
            #expect(Foundation.truncate(path, off_t(size * 6 / 10)) == 0)
        case .flipByte:
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[size / 2] ^= 0x40
            try bytes.write(to: URL(fileURLWithPath: path))
        case .delete:
            try FileManager.default.removeItem(atPath: path)
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct VerifyTests {
    @Test func finishedJobMatches() throws {
        let job = try SampleJob()
        let r = try darwin(["verify", job.out])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.hasPrefix("verified ") && r.stdout.hasSuffix(" MB: all match\n"), "\(r.stdout)")
        #expect(r.stdout.contains(" files of 2 stages, "), "\(r.stdout)")
        let (status, report) = try verifyJSON(job.out)
        #expect(status == 0)
        #expect(report["stages"] == ["L2", "L2b"])
        // Every shard on disk was recorded and read; the removed _work/ files were not looked for.
        let onDisk = Shards.files(under: job.out).filter { $0.hasSuffix(".jsonl.zst") }
        #expect(onDisk.contains { $0.hasPrefix("L2/_rejected/") } && !onDisk.contains { $0.contains("_work") })
        #expect(report["files"]?.intValue == onDisk.count, "\(onDisk)")
        #expect((report["intermediate_removed"]?.intValue ?? 0) == 4, "one pass-0 file per input shard")
        #expect(findings(report, "problems").isEmpty && findings(report, "warnings").isEmpty)
        // Paths are relative to the job folder: a copy verifies too.
        #expect(try darwin(["verify", try job.copy()]).status == 0)
    }

    @Test(arguments: Damage.allCases)
    func damagedShardIsReported(_ damage: Damage) throws {
        let job = try SampleJob()
        let copy = try job.copy()
        try damage.apply(to: copy + "/L2/part-00001.jsonl.zst")
        let r = try darwin(["verify", copy])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(r.stdout)")
        #expect(lines.first?.hasPrefix("L2/part-00001.jsonl.zst: \(damage.kind)") == true, "\(r.stdout)")
        #expect(lines.last?.hasSuffix(" MB: 1 problem") == true, "\(r.stdout)")
        let (status, report) = try verifyJSON(copy)
        #expect(status == 1)
        let problems = findings(report, "problems")
        #expect(problems.count == 1, "\(report)")
        let problem = try #require(problems.first)
        #expect(problem["path"] == "L2/part-00001.jsonl.zst")
        #expect(problem["stage"] == "L2")
        #expect(problem["kind"] == .string(damage.kind))
        let recordedLines = problem["recorded_lines"]?.intValue ?? 0
        switch damage {
        case .truncate:
            #expect(
                (problem["file_bytes"]?.intValue ?? .max) < (problem["recorded_file_bytes"]?.intValue ?? 0)
                    && (problem["lines"]?.intValue ?? .max) < recordedLines, "\(problem)")
            #expect(lines.first?.contains(" lines, ") == true, "\(r.stdout)")
            #expect(
                lines.first?.hasSuffix(" bytes, the zstd stream ends early; checksum differs") == true, "\(r.stdout)")
        case .flipByte:
            #expect(problem["file_bytes"] == problem["recorded_file_bytes"])
            #expect(problem["checksum"] != problem["recorded_checksum"] && problem["checksum"] != nil)
            #expect(problem["stream_error"]?.stringValue?.hasPrefix("corrupt zstd data") == true, "\(problem)")
            #expect(lines.first?.hasSuffix("; checksum differs") == true, "\(r.stdout)")
        case .delete:
            #expect(lines.first == "L2/part-00001.jsonl.zst: missing")
            #expect(problem["lines"] == nil && recordedLines > 0)
        }
        // The original job is untouched.
        #expect(try darwin(["verify", job.out]).status == 0)
    }

    @Test func partialJobMatches() throws {
        let job = try SampleJob(["--until", "L2"])
        let r = try darwin(["verify", job.out])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(" files of 1 stage, ") && r.stdout.hasSuffix(": all match\n"), "\(r.stdout)")
    }

    @Test func interruptedJobWarnsAndKeepsWhatLaterPhasesNeed() throws {
        // Killed right after the third task renamed its files into place, before recording them.
        let job = try SampleJob(env: ["DARWIN_CRASH_AT": "after-commit:3"])
        let (status, report) = try verifyJSON(job.out)
        #expect(status == 0, "an unexpected file is a warning: \(report)")
        let warnings = findings(report, "warnings")
        #expect(warnings.count == 1 && warnings.allSatisfy { $0["kind"] == "unexpected" }, "\(report)")
        #expect(warnings.first?["path"]?.stringValue?.hasPrefix("L2/_rejected/") == true, "\(report)")
        let text = try darwin(["verify", job.out]).stdout
        #expect(text.contains(": unexpected file: no done task recorded it (warning)\n"), "\(text)")
        #expect(text.hasSuffix(": all match; 1 unexpected file\n"), "\(text)")
        // L2 is incomplete: the next phase still needs the pass files of the two done tasks.
        let work = job.out + "/L2/_work/pass-0"
        for f in try FileManager.default.contentsOfDirectory(atPath: work) {
            try FileManager.default.removeItem(atPath: work + "/" + f)
        }
        let (afterStatus, after) = try verifyJSON(job.out)
        #expect(afterStatus == 1)
        let problems = findings(after, "problems")
        #expect(problems.count == 2, "\(after)")
        #expect(
            problems.allSatisfy {
                $0["kind"] == "missing" && $0["path"]?.stringValue?.hasPrefix("L2/_work/pass-0/") == true
            }, "\(after)")
    }

    @Test func notAJobFolder() throws {
        let d = TemporaryDirectory()
        let r = try darwin(["verify", d.path])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("darwin: error: ") && r.stderr.contains("holds no darwin job"), "\(r.stderr)")
    }
}
