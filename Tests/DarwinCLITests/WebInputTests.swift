import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

/// L0 → L1 end to end: a WARC file, a folder of loose files and JSONL with other field names go through a job.
@Suite(.serialized) struct WebInputTests {
    let dir = TemporaryDirectory()

    func job(_ name: String, input: String, steps: String) throws -> (ProcessResult, String) {
        let recipe = dir.file(name + ".yaml")
        let out = dir.file(name)
        let yaml = """
            input:
            \(input)
            output: {path: \(out)}
            stages:
              - name: L1
                level: L1
                steps:
            \(steps)
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: recipe))
        return (try darwin(["run", recipe, "--workers", "2", "--progress", "none", "-q"]), out)
    }

    @Test func warcToCleanText() throws {
        let (r, out) = try job(
            "warc",
            input: "  paths: [\(Repository.root)/data/sample-web]\n  format: warc\n  source: debian-docs",
            steps: "      - html_extract: {}\n      - normalize_text: {}")
        #expect(r.status == 0, "\(r.stderr)")
        let docs = try Shards.documents(out + "/L1/debian-docs.jsonl.zst")
        #expect(docs.count == 40)
        for d in docs {
            #expect(!d.text.contains("<div") && !d.text.contains("<p>"), "\(d.id) still has markup")
            #expect(d.value(atPath: "source") == "debian-docs")
            #expect(d.value(atPath: "metadata.content_type") == "text/markdown")
        }
        let ru = try #require(docs.first { $0.value(atPath: "metadata.charset") == "koi8-r" })
        #expect(ru.text.hasPrefix("## 1.6. Жизненный цикл выпуска"))
        let stats = try darwin(["stats", out, "--json"])
        let json = stats.stdout
        #expect(json.contains("\"read_warc\"") && json.contains("skipped.content_type.application/pdf"))
        #expect(json.contains("\"with_code\""))
    }

    @Test func looseFilesAndFieldMapping() throws {
        let site = dir.file("site")
        try FileManager.default.createDirectory(atPath: site + "/blog", withIntermediateDirectories: true)
        let article = "<p>" + String(repeating: "A sentence of the post, with words. ", count: 8) + "</p>"
        for i in 0..<5 {
            try Data("<html><body><nav><a href='/'>Home</a></nav><article>\(article)</article></body></html>".utf8)
                .write(to: URL(fileURLWithPath: site + "/blog/post-\(i).html"))
        }
        try Data("Plain notes.\n".utf8).write(to: URL(fileURLWithPath: site + "/notes.txt"))
        let (r, out) = try job(
            "files", input: "  paths: [\(site)]\n  format: files\n  files_per_shard: 4",
            steps: "      - html_extract: {}")
        #expect(r.status == 0, "\(r.stderr)")
        let shards = Shards.files(under: out + "/L1")
        #expect(shards == ["site-00000.jsonl.zst", "site-00001.jsonl.zst"])
        let docs = try shards.flatMap { try Shards.documents(out + "/L1/" + $0) }
        #expect(
            docs.map(\.id) == [
                "blog/post-0.html", "blog/post-1.html", "blog/post-2.html", "blog/post-3.html",
                "blog/post-4.html", "notes.txt",
            ])
        #expect(docs[0].text.hasPrefix("A sentence of the post") && !docs[0].text.contains("Home"))
        #expect(docs[5].text == "Plain notes.\n")

        // JSONL with other field names.
        let jsonl = dir.file("other.jsonl")
        try Data(#"{"doc_id": 7, "content": "Hello there.", "meta": {"link": "https://e.org/7"}}"#.utf8 + [0x0A])
            .write(to: URL(fileURLWithPath: jsonl))
        let (m, mapped) = try job(
            "mapped",
            input: "  paths: [\(jsonl)]\n  fields: {id: doc_id, text: content, url: meta.link}\n  source: forum",
            steps: "      - normalize_text: {}")
        #expect(m.status == 0, "\(m.stderr)")
        let d = try #require(try Shards.documents(mapped + "/L1/other.jsonl.zst").first)
        #expect(d.id == "7" && d.text == "Hello there.")
        #expect(d.value(atPath: "url") == "https://e.org/7" && d.value(atPath: "source") == "forum")
        #expect(d.value(atPath: "content") == nil && d.value(atPath: "doc_id") == nil)
    }

    /// A record whose Content-Length is wrong costs that record only: reading goes on at the next record header, and
    /// the error record names the damaged record's first byte.
    @Test(arguments: ["crawl.warc", "crawl.warc.gz"])
    func aDamagedWARCRecordCostsOnlyThatRecord(file: String) throws {
        var records = (0..<40).map { i -> [UInt8] in
            let http =
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
                + "<html><body><p>Page \(i) of the crawl, with a sentence of text.</p></body></html>"
            return Array(
                ("WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:page-\(i)>\r\n"
                    + "WARC-Target-URI: https://example.org/\(i)\r\nContent-Length: \(http.utf8.count)\r\n\r\n" + http
                    + "\r\n\r\n").utf8)
        }
        // Ten times too large: the block would swallow the records after it.
        records[1] = Array(
            String(decoding: records[1], as: UTF8.self).replacingOccurrences(
                of: "Content-Length: ", with: "Content-Length: 9"
            ).utf8)
        let input = dir.file("in-\(file)")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        var fileOffset = records[0].count
        if file.hasSuffix(".gz") {
            // One gzip member per record, as crawlers write them.
            var members: [UInt8] = []
            for (i, r) in records.enumerated() {
                let m = dir.file("member-\(i).gz")
                try Shards.writeGzip(r, to: m)
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: m)))
                if i == 0 { fileOffset = bytes.count }
                members += bytes
            }
            try Data(members).write(to: URL(fileURLWithPath: input + "/" + file))
        } else {
            try Data(records.flatMap { $0 }).write(to: URL(fileURLWithPath: input + "/" + file))
        }
        let (r, out) = try job(
            "damaged-" + file, input: "  paths: [\(input)]\n  format: warc", steps: "      - html_extract: {}")
        #expect(r.status == 0, "\(r.stderr)")
        let docs = try Shards.documents(out + "/L1/crawl.jsonl.zst")
        #expect(docs.map(\.id) == (0..<40).filter { $0 != 1 }.map { "urn:uuid:page-\($0)" })
        let errors = try Shards.lines(out + "/L1/_errors/crawl.jsonl.zst").map { try JSONValue.parse($0).objectValue }
        #expect(errors.count == 1)
        #expect(errors.first??["kind"] == "malformed_warc")
        #expect(errors.first??["offset"]?.intValue == records[0].count, "the damaged record's first byte")
        #expect(errors.first??["file_offset"]?.intValue == fileOffset, "the record's byte, or its gzip member's")
    }

    @Test func inputOptionsOfAnotherFormatAreRefused() throws {
        let recipe = dir.file("bad.yaml")
        try Data(
            "input:\n  paths: [x]\n  content_types: [text/html]\noutput: o\nstages:\n  - level: L1\n    steps:\n      - normalize_text: {}\n"
                .utf8
        )
        .write(to: URL(fileURLWithPath: recipe))
        let r = try darwin(["validate", recipe])
        #expect(r.status != 0)
        #expect(r.stderr.contains("input.content_types applies to format warc"))
    }

    /// A WARC job killed at the start of its first task, after its first commit, or in its second stage resumes
    /// to the output of an uninterrupted run, byte for byte.
    @Test func aKilledWARCJobResumesIdentically() throws {
        let input = "  paths: [\(Repository.root)/data/sample-web]\n  format: warc"
        let steps =
            "      - html_extract: {}\n      - normalize_text: {}\n  - name: L2\n    level: L2\n    steps:\n"
            + "      - exact_dedup: {}"
        let (r, reference) = try job("reference", input: input, steps: steps)
        #expect(r.status == 0, "\(r.stderr)")
        func contents(_ out: String) throws -> [String: Data] {
            var d: [String: Data] = [:]
            for rel in Shards.files(under: out) where rel != "recipe.yaml" {
                d[rel] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + rel))
            }
            return d
        }
        let expected = try contents(reference)
        #expect(
            expected.keys.contains("L1/debian-docs.jsonl.zst") && expected.keys.contains("L2/debian-docs.jsonl.zst"))
        for (i, point) in ["task-start:1", "after-commit:1", "task-start:3"].enumerated() {
            let name = "killed\(i)"
            let recipe = dir.file(name + ".yaml")
            let out = dir.file(name)
            let yaml =
                "input:\n\(input)\noutput: {path: \(out)}\nstages:\n  - name: L1\n    level: L1\n    steps:\n\(steps)\n"
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: recipe))
            let killed = try darwin(
                ["run", recipe, "--workers", "1", "--progress", "none", "-q"], env: ["DARWIN_CRASH_AT": point])
            #expect(killed.signaled, "\(point): the crash point was reached")
            let resumed = try darwin(["resume", out, "--workers", "2", "--progress", "none", "-q"])
            #expect(resumed.status == 0, "\(point): \(resumed.stderr)")
            expectSameOutputs(expected, try contents(out), point)
        }
    }

    @Test func theFineWebWARCPresetRuns() throws {
        let out = TemporaryDirectory("darwin-preset-warc")
        let r = try darwin(
            ["run", "configs/fineweb-en-warc.yaml", "--output", out.path, "--progress", "none", "-q"],
            in: Repository.root)
        #expect(r.status == 0, "\(r.stderr)")
        let stats = try #require(try JSONValue.parse(try darwin(["stats", out.path, "--json"]).stdout).objectValue)
        let stages = stats["stages"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(stages.first?["docs_in"] == 40 && stages.first?["docs_out"] == 40)
        let kept = stages.last?["docs_out"]?.intValue ?? 0
        #expect(kept > 0 && kept < 40, "FineWeb's rules keep some English pages and drop the others")
    }
}
