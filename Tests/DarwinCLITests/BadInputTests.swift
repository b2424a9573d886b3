import DarwinCore
import DarwinIO
import DarwinTestSupport
import Foundation
import Testing

/// Every kind of bad input becomes an error record naming the file and line or offset; the rest is kept.
@Suite struct BadInputTests {
    let dir = TemporaryDirectory("darwin-bad")

    func line(_ id: String, _ text: String = "a perfectly fine document text that is long enough") -> String {
        #"{"id":"\#(id)","text":"\#(text)"}"#
    }

    func makeInputs() throws {
        // A shard with one bad line of each kind between good ones.
        var bytes = Array((line("g1") + "\n" + #"{"id":"broken","text":"no end"# + "\n" + line("g2") + "\n").utf8)
        bytes += Array(#"{"id":"latin1","text":"caf"#.utf8) + [0xE9] + Array("\"}\n".utf8)
        bytes += Array((#"{"text":"no id here"}"# + "\n" + #"{"id":"no-text"}"# + "\n" + line("g3") + "\n").utf8)
        try Shards.writeZstd(bytes, to: dir.file("in/a-lines.jsonl.zst"))
        // A truncated zstd shard: its first documents survive.
        let many =
            (0..<3000).map { line("t\($0)", "text \($0) " + String(repeating: "filler ", count: 30)) }.joined(
                separator: "\n") + "\n"
        try Shards.writeZstd(Array(many.utf8), to: dir.file("full.jsonl.zst"))
        let full = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/full.jsonl.zst"))
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: dir.file("in/b-truncated.jsonl.zst")))
        // A truncated gzip shard.
        try Shards.writeGzip(Array(many.utf8), to: dir.file("full.jsonl.gz"))
        let gz = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/full.jsonl.gz"))
        try gz.prefix(gz.count / 3).write(to: URL(fileURLWithPath: dir.file("in/c-truncated.jsonl.gz")))
        // A plain file that is not JSON at all.
        try Data("just some text\nand more\n".utf8).write(to: URL(fileURLWithPath: dir.file("in/d-text.jsonl")))
    }

    func recipe(_ out: String) throws -> String {
        let path = dir.file("\(out).yaml")
        let yaml = """
            input: {paths: [\(dir.path)/in]}
            output: \(dir.path)/\(out)
            stages:
              - level: L2
                steps: [min_length: {min: 10}]
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func badLinesAndStreamsAreRecordedAndTheRestIsKept() throws {
        try makeInputs()
        let r = try darwin(["run", try recipe("out"), "--progress", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try #require(
            try JSONValue.parse(try darwin(["stats", dir.path + "/out", "--json"]).stdout).objectValue)
        let stage = try #require(stats["stages"]?.arrayValue?.first?.objectValue)
        let errors = try #require(stage["input_errors"]?.objectValue)
        #expect(errors["malformed_json"] == 3, "broken JSON line and the two lines of plain text")
        #expect(errors["invalid_utf8"] == 1)
        #expect(errors["missing_id"] == 1)
        #expect(errors["missing_text"] == 1)
        #expect(errors["truncated_stream"] == 2)
        #expect(stage["docs_errored"] == 8)

        let kept = try Shards.documents(dir.path + "/out/L2/a-lines.jsonl.zst").map(\.id)
        #expect(kept == ["g1", "g2", "g3"])
        let truncatedKept = try Shards.documents(dir.path + "/out/L2/b-truncated.jsonl.zst").map(\.id)
        #expect(truncatedKept.count > 500 && truncatedKept == (0..<truncatedKept.count).map { "t\($0)" })

        // Error records name the input file, the line and (for streams) the compressed offset.
        let records = try Shards.lines(dir.path + "/out/L2/_errors/a-lines.jsonl.zst").map {
            try JSONValue.parse($0).objectValue
        }
        #expect(records.map { $0?["line"]?.intValue } == [2, 4, 5, 6])
        #expect(
            records.map { $0?["kind"]?.stringValue } == [
                "malformed_json", "invalid_utf8", "missing_id", "missing_text",
            ])
        #expect(records.allSatisfy { $0?["shard"]?.stringValue == dir.path + "/in/a-lines.jsonl.zst" })
        #expect(records[1]?["raw_base64"] != nil, "invalid bytes are kept exactly")
        let streamError = try #require(try Shards.lines(dir.path + "/out/L2/_errors/b-truncated.jsonl.zst").first)
        let se = try JSONValue.parse(streamError).objectValue
        #expect(se?["kind"] == "truncated_stream")
        #expect(se?["file_offset"]?.intValue != nil)

        let inspect = try darwin(["inspect", dir.path + "/out", "--stage", "L2", "--errors"])
        #expect(
            inspect.stdout.contains("a-lines.jsonl.zst line 2 · malformed_json: line 2: malformed JSON at byte"),
            "\(inspect.stdout)")
    }

    /// A zstd frame that needs a window over the limit is one `window_too_large` error naming the window;
    /// `input.max_window` raises the limit.
    @Test func aLargeWindowIsRefusedUntilMaxWindowAllowsIt() throws {
        let raw = dir.file("window.jsonl")
        try Data(((0..<3000).map { line("w\($0)") }.joined(separator: "\n") + "\n").utf8).write(
            to: URL(fileURLWithPath: raw))
        let input = dir.file("window/in.jsonl.zst")
        try FileManager.default.createDirectory(atPath: dir.file("window"), withIntermediateDirectories: true)
        // From a pipe, zstd does not know the size and keeps the 256 MiB window in the frame header.
        _ = try Process.output("sh", ["-c", #"zstd -q --long=28 -c < "$1" > "$2""#, "sh", raw, input])
        func run(_ window: String?) throws -> (ProcessResult, String) {
            let out = dir.file("window-out-\(window ?? "default")")
            let recipe = dir.file("window-\(window ?? "default").yaml")
            let yaml = """
                input: {paths: [\(input)]\(window.map { ", max_window: \($0)" } ?? "")}
                output: \(out)
                stages:
                  - level: L2
                    steps: [min_length: {min: 3}]
                """
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: recipe))
            return (try darwin(["run", recipe, "--progress", "none", "-q"]), out)
        }
        let (refused, out) = try run(nil)
        #expect(refused.status == 0, "\(refused.stderr)")
        #expect(try Shards.documents(out + "/L2/in.jsonl.zst").isEmpty)
        let errors = try Shards.lines(out + "/L2/_errors/in.jsonl.zst").map { try JSONValue.parse($0).objectValue }
        #expect(errors.count == 1)
        #expect(errors.first??["kind"] == "window_too_large")
        let message = errors.first??["error"]?.stringValue ?? ""
        #expect(message.contains("needs a window of 256 MiB; raise input.max_window"), "\(message)")

        let (read, raised) = try run("256MiB")
        #expect(read.status == 0, "\(read.stderr)")
        #expect(try Shards.documents(raised + "/L2/in.jsonl.zst").count == 3000)
        #expect(!FileManager.default.fileExists(atPath: raised + "/L2/_errors/in.jsonl.zst"))
    }

    @Test func strictMakesBadInputFatal() throws {
        try makeInputs()
        let r = try darwin(["run", try recipe("strict"), "--strict", "--progress", "none", "--workers", "1"])
        #expect(r.status == 1)
        let errorLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("darwin: error:") }
        #expect(errorLines.count == 1, "\(r.stderr)")
        #expect(
            errorLines.first?.contains("a-lines.jsonl.zst: line 2: malformed JSON at byte 22 (--strict)") == true,
            "\(r.stderr)")
        let kept = Shards.files(under: dir.path + "/strict").filter { $0.hasPrefix("L2/a-lines") }
        #expect(kept.isEmpty, "no output of the failed shard: \(kept)")
    }

    @Test func missingInputIsARecipeErrorBeforeAnyWork() throws {
        let path = dir.file("missing.yaml")
        try Data(
            "input:\n  paths:\n    - \(dir.path)/nothing-here\noutput: \(dir.path)/o\nstages: [{level: L2}]\n".utf8
        )
        .write(to: URL(fileURLWithPath: path))
        let r = try darwin(["run", path])
        #expect(r.status == 2)
        #expect(
            r.stderr
                == "darwin: error: \(path):3: input path '\(dir.path)/nothing-here' does not exist (looked in \(dir.path)/nothing-here)\n"
        )
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/o"))
        let v = try darwin(["validate", path])
        #expect(v.status == 2 && v.stderr.contains(":3: input path"))
    }

    @Test func fullDiskFailsTheTaskWithOneLineAndLeavesNothingHalfWritten() throws {
        for shard in Repository.sampleShards {
            try FileManager.default.copyItem(
                atPath: shard, toPath: dir.file("in/" + (shard as NSString).lastPathComponent))
        }
        let yaml = try recipe("full")
        // Writes beyond 200 KiB fail with EFBIG, as they would fail with ENOSPC on a full disk.
        let r = try Process.run(
            "/bin/bash",
            [
                "-c",
                "trap '' XFSZ; ulimit -f 200; exec \(Repository.darwinBinary) run \(yaml) --workers 1 --progress none",
            ])
        #expect(r.status == 1, "\(r.stderr)")
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("darwin: error: ") }
        #expect(
            errors.first?.contains(
                "L2/part-00000: \(dir.path)/full/L2/part-00000.jsonl.zst.tmp: write failed: File too large") == true,
            "\(r.stderr)")
        let out = dir.path + "/full"
        let status = try darwin(["status", out, "--json"])
        let failed = try JSONValue.parse(status.stdout).objectValue?["failed"]?.arrayValue ?? []
        #expect(!failed.isEmpty, "\(status.stdout) \(status.stderr)")
        // Nothing half-written is left in place.
        #expect(Shards.files(under: out) == ["recipe.yaml"], "\(Shards.files(under: out))")
    }
}
