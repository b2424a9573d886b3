import DarwinCore
import DarwinIO
import DarwinTestSupport
import DarwinTokenizer
import Foundation
import Testing

/// A job that curates the sample and writes Megatron and datatrove token files, read back here byte by byte.
@Suite(.serialized) struct TokenizeJobTests {
    let dir = TemporaryDirectory("darwin-tokenize")

    func recipe(_ out: String, tokenizer: String, extra: String = "") throws -> String {
        let text = """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/\(out)
            tokenizer: \(Repository.root)/.cache/tokenizers/\(tokenizer)/tokenizer.json
            stages:
              - name: clean
                level: L2
                steps:
                  - min_length: {min: 50}
              - name: train
                level: L9
                \(extra)
                tokenize: {formats: [megatron, datatrove]}
            """
        let path = dir.file(out + ".yaml")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func u64(_ b: [UInt8], _ at: Int) -> Int {
        Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) })
    }

    /// The documents of a token file, from its Megatron index and from its datatrove index; both must agree.
    static func readBack(_ prefix: String) throws -> [[UInt32]] {
        let idx = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".idx")))
        let bin = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".bin")))
        #expect(Array(idx[0..<9]) == Array("MMIDIDX\0\0".utf8))
        #expect(u64(idx, 9) == 1)
        let width = idx[17] == 8 ? 2 : 4
        let n = u64(idx, 18)
        #expect(u64(idx, 26) == n + 1)
        var docs: [[UInt32]] = []
        for i in 0..<n {
            let length = Int((0..<4).reduce(UInt32(0)) { $0 | UInt32(idx[34 + 4 * i + $1]) << (8 * UInt32($1)) })
            let pointer = u64(idx, 34 + 4 * n + 8 * i)
            docs.append(
                (0..<length).map { k in
                    let o = pointer + k * width
                    return width == 2
                        ? UInt32(bin[o]) | UInt32(bin[o + 1]) << 8
                        : UInt32(bin[o]) | UInt32(bin[o + 1]) << 8 | UInt32(bin[o + 2]) << 16 | UInt32(bin[o + 3]) << 24
                })
            #expect(u64(idx, 34 + 12 * n + 8 * i) == i)
        }
        #expect(bin.count == docs.reduce(0) { $0 + $1.count } * width)
        // datatrove: the same stream, documents ended by the index.
        let ds = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".ds")))
        let ends = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".ds.index")))
        let meta = try String(contentsOfFile: prefix + ".ds.metadata", encoding: .utf8)
        let dsWidth = Int(meta.split(separator: "\n")[0].split(separator: "|").last ?? "") ?? 0
        #expect(ends.count == 8 * n)
        var start = 0
        for i in 0..<n {
            let end = u64(ends, 8 * i)
            let doc = (start..<end).map { k in
                let o = k * dsWidth
                return dsWidth == 2
                    ? UInt32(ds[o]) | UInt32(ds[o + 1]) << 8
                    : UInt32(ds[o]) | UInt32(ds[o + 1]) << 8 | UInt32(ds[o + 2]) << 16 | UInt32(ds[o + 3]) << 24
            }
            #expect(doc == docs[i], "document \(i) of \(prefix)")
            start = end
        }
        return docs
    }

    @Test(arguments: [("mistral-v1", 2), ("qwen2.5", 4)])
    func tokenFilesHoldTheKeptDocumentsEncoded(_ name: String, width: Int) throws {
        let r = try darwin(["run", try recipe(name, tokenizer: name), "--progress", "none"])
        #expect(r.status == 0, "\(r.stderr)")
        let t = try Tokenizer(contentsOf: Repository.root + "/.cache/tokenizers/\(name)/tokenizer.json")
        let encoder = t.makeEncoder()
        let stage = dir.path + "/\(name)/train"
        var total = 0
        for shard in Shards.files(under: stage).filter({ $0.hasSuffix(".jsonl.zst") && !$0.contains("/") }).sorted() {
            let prefix = stage + "/" + shard.dropLast(".jsonl.zst".count)
            let docs = try Shards.documents(stage + "/" + shard)
            let read = try Self.readBack(String(prefix))
            #expect(read.count == docs.count)
            let eos = t.id(of: name == "mistral-v1" ? "</s>" : "<|endoftext|>")
            for (d, ids) in zip(docs, read) {
                var want = try encoder.encode(d.text)
                if name == "mistral-v1" { want.insert(1, at: 0) }  // BOS from its post-processor
                want.append(eos ?? 0)
                #expect(ids == want, "\(d.id)")
            }
            total += docs.count
        }
        #expect(total > 700)
        // The manifest and the stats agree with the files.
        let manifest = try JSONValue.parse(try String(contentsOfFile: stage + "/tokens.json", encoding: .utf8))
        #expect(manifest.objectValue?["documents"]?.intValue == total)
        let dtype = manifest.objectValue?[width == 2 ? "megatron_dtype" : "megatron_dtype"]?.stringValue
        #expect(dtype == (width == 2 ? "uint16" : "int32"))
        let stats = try darwin(["stats", dir.path + "/\(name)", "--json"])
        let stages = try JSONValue.parse(stats.stdout).objectValue?["stages"]?.arrayValue ?? []
        let train = stages.first { $0.objectValue?["name"]?.stringValue == "train" }?.objectValue
        #expect(train?["tokens_written"]?.intValue == manifest.objectValue?["tokens"]?.intValue)
        #expect(train?["tokens_estimated"] == .bool(false))
    }

    /// Killed before a cut task committed its files, then resumed: the same token files, byte for byte.
    @Test func aKilledTokenizeJobResumesIdentically() throws {
        let reference = try darwin([
            "run", try recipe("ref", tokenizer: "mistral-v1", extra: "shard_size: 1MiB"), "--workers", "1",
            "--progress", "none",
        ])
        #expect(reference.status == 0, "\(reference.stderr)")
        let killed = try darwin(
            [
                "run", try recipe("killed", tokenizer: "mistral-v1", extra: "shard_size: 1MiB"), "--workers", "1",
                "--progress", "none",
            ],
            env: ["DARWIN_CRASH_AT": "before-commit:10"])
        #expect(killed.signaled, "the crash point was reached: \(killed.stderr)")
        let resumed = try darwin(["resume", dir.path + "/killed", "--workers", "1", "--progress", "none"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try Shards.jobOutputs(dir.path + "/ref").filter {
            !$0.key.hasPrefix("provenance") && !$0.key.hasSuffix("tokens.json")
        }
        let b = try Shards.jobOutputs(dir.path + "/killed").filter {
            !$0.key.hasPrefix("provenance") && !$0.key.hasSuffix("tokens.json")
        }
        #expect(a.keys.contains("train/part-00001.bin"))
        expectSameOutputs(a, b, "killed and resumed")
        // Provenance records the token files: verify checks them, and finds one that was changed.
        let verified = try darwin(["verify", dir.path + "/killed"])
        #expect(verified.status == 0 && verified.stdout.contains("all match"), "\(verified.stdout)")
        let bin = dir.path + "/killed/train/part-00001.bin"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bin)))
        bytes[100] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: bin))
        let damaged = try darwin(["verify", dir.path + "/killed"])
        #expect(damaged.status == 1 && damaged.stdout.contains("train/part-00001.bin: altered"), "\(damaged.stdout)")
    }

    @Test func aStageThatTokenizesNeedsATokenizer() throws {
        let path = dir.file("none.yaml")
        try Data(
            """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/none
            stages:
              - name: train
                level: L9
                tokenize: {formats: [megatron]}
            """.utf8
        ).write(to: URL(fileURLWithPath: path))
        let r = try darwin(["validate", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("none.yaml") && r.stderr.contains("names no tokenizer"), "\(r.stderr)")
        // An end-of-text token the tokenizer lacks, and a tokenizer.json that is not JSON, are named before
        // anything runs.
        let wrongToken = try recipe("wrong", tokenizer: "qwen2.5").replacingOccurrences(
            of: "wrong.yaml", with: "wrong.yaml")
        let text = try String(contentsOfFile: wrongToken, encoding: .utf8).replacingOccurrences(
            of: "tokenize: {formats: [megatron, datatrove]}", with: "tokenize: {formats: [megatron], eos: \"<nope>\"}")
        try Data(text.utf8).write(to: URL(fileURLWithPath: wrongToken))
        let w = try darwin(["validate", wrongToken])
        #expect(
            w.status == 2 && w.stderr.contains("wrong.yaml:") && w.stderr.contains("no token \"<nope>\""), "\(w.stderr)"
        )
        let broken = dir.file("broken.json")
        try Data("{\"model\":".utf8).write(to: URL(fileURLWithPath: broken))
        let b = try String(contentsOfFile: wrongToken, encoding: .utf8).replacingOccurrences(
            of: Repository.root + "/.cache/tokenizers/qwen2.5/tokenizer.json", with: broken)
        try Data(b.utf8).write(to: URL(fileURLWithPath: wrongToken))
        let run = try darwin(["run", wrongToken, "--progress", "none"])
        #expect(run.status == 2 && run.stderr.contains("broken.json: not JSON"), "\(run.stderr)")
    }
}
