import DarwinCore
import DarwinIO
import DarwinTestSupport
import Foundation
import Testing

/// Damage inside a zstd frame: a broken block costs only its own documents; bytes that decode to other bytes
/// are caught by the frame's checksum, and the shard is refused rather than passed on altered.
@Suite struct DamagedZstdTests {
    let dir = TemporaryDirectory("darwin-zstd-damage")

    /// About 3 MB of varied JSONL (so zstd cuts it into many blocks) compressed as one frame with a checksum.
    func frame() throws -> (lines: Set<String>, compressed: [UInt8]) {
        var lines: [String] = []
        var rng = SystemRandomNumberGenerator()
        let words = ["alpha", "beta", "gamma", "delta", "kernel", "module", "printing", "press", "ideas", "river"]
        for i in 0..<12_000 {
            let text = (0..<40).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
            lines.append(#"{"id":"d\#(i)","text":"\#(text) \#(rng.next())"}"#)
        }
        let raw = Array((lines.joined(separator: "\n") + "\n").utf8)
        return (Set(lines), try Process.output("zstd", ["-q", "-3", "-c", "--check"], input: raw))
    }

    func recipe() throws -> String {
        let path = dir.file("r.yaml")
        try Data(
            "input: {paths: [\(dir.path)/in]}\noutput: \(dir.path)/out\nstages:\n  - {level: L2, steps: []}\n".utf8
        ).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aBrokenBlockCostsOnlyItsOwnDocuments() throws {
        let (lines, compressed) = try frame()
        // Bytes zeroed in the middle of the frame break a block's entropy coding.
        var damaged = compressed
        for i in 0..<64 { damaged[damaged.count / 2 + i] = 0 }
        try Data(damaged).write(to: URL(fileURLWithPath: dir.file("in/a.jsonl.zst")))
        // What the reference decoder gives before it stops: the lines that end before the damage.
        let reference = try Process.run("zstd", ["-dc", dir.file("in/a.jsonl.zst")])
        #expect(reference.status != 0, "zstd itself reports the damage")
        let before = String(decoding: reference.stdoutData, as: UTF8.self).split(separator: "\n").count - 1
        #expect(before > 1000)

        let r = try darwin(["run", try recipe(), "--progress", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        let kept = try Shards.documents(dir.file("out/L2/a.jsonl.zst"))
        // Every complete document the reference decoder got is kept, and nothing else from before the damage.
        #expect(kept.count >= before, "kept \(kept.count), zstd -d gets \(before) complete lines")
        let ids = kept.prefix(before).map(\.id)
        #expect(ids == (0..<before).map { "d\($0)" }, "the documents before the damage, in order")
        // Nothing altered: every kept document is an input line as written.
        #expect(
            kept.allSatisfy { doc in
                var d = doc
                d["darwin"] = nil
                return lines.contains(d.jsonString)
            })
        let errors = try Shards.lines(dir.file("out/L2/_errors/a.jsonl.zst"))
        #expect(errors.count == 1 && errors[0].contains("corrupt_stream"), "\(errors)")
    }

    @Test func aFrameThatFailsItsChecksumIsRefused() throws {
        let (_, compressed) = try frame()
        // Find a bit whose flip still decodes (so only the checksum tells): what zstd -t calls a checksum error.
        var found: [UInt8]?
        for offset in stride(from: compressed.count / 2, to: compressed.count - 100, by: 997) {
            var candidate = compressed
            candidate[offset] ^= 0x10
            try Data(candidate).write(to: URL(fileURLWithPath: dir.file("probe.zst")))
            let t = try Process.run("zstd", ["-t", dir.file("probe.zst")])
            if t.status != 0 && t.stderr.lowercased().contains("checksum") {
                found = candidate
                break
            }
        }
        let damaged = try #require(found, "a flip that only the checksum catches")
        try Data(damaged).write(to: URL(fileURLWithPath: dir.file("in/a.jsonl.zst")))
        try Data(#"{"id":"ok","text":"an undamaged shard"}"#.utf8).write(
            to: URL(fileURLWithPath: dir.file("in/b.jsonl")))
        let r = try darwin(["run", try recipe(), "--progress", "none"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("a.jsonl.zst: the zstd frame at byte 0 fails its checksum"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out/L2/a.jsonl.zst")), "nothing of it is kept")
        #expect(try Shards.documents(dir.file("out/L2/b.jsonl.zst")).count == 1, "the other shard is")
    }
}
