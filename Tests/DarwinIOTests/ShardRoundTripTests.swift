import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinIO

@Suite struct ShardRoundTripTests {
    let dir = TemporaryDirectory()

    func sampleDocuments(_ n: Int) -> [Document] {
        (0..<n).map { i in
            Document(
                id: "doc-\(i)",
                text: "Document \(i)\nwith \"quotes\", tabs\t, ünïcödé, 中文, emoji 😀 and U+2028 \u{2028} inside",
                fields: [("metadata", ["i": .number(JSONNumber(i)), "tags": ["a", "b"]])])
        }
    }

    func write(_ docs: [Document], to path: String, level: Int32 = 3) throws -> WrittenFile {
        let w = try ShardWriter(path: path, level: level)
        for d in docs { try w.write(d) }
        return try w.finish()
    }

    @Test(arguments: [Int32(1), 3, 19, -5])
    func zstdRoundTripAtAnyLevel(level: Int32) throws {
        let docs = sampleDocuments(500)
        let path = dir.file("l\(level).jsonl.zst")
        let written = try write(docs, to: path, level: level)
        #expect(written.lines == 500)
        let back = try Shards.documents(path)
        #expect(back.map(\.jsonString) == docs.map(\.jsonString))
        // The file is standard zstd: the reference CLI decodes it to the same lines.
        let cli = String(decoding: try Shards.decompressed(path), as: UTF8.self)
        #expect(cli == docs.map { $0.jsonString + "\n" }.joined())
        #expect(written.bytes == cli.utf8.count)
    }

    @Test func plainAndGzipInputs() throws {
        let docs = sampleDocuments(50)
        let text = Array(docs.map { $0.jsonString + "\n" }.joined().utf8)
        let plain = dir.file("a.jsonl")
        try Data(text).write(to: URL(fileURLWithPath: plain))
        let gz = dir.file("b.jsonl.gz")
        try Shards.writeGzip(text, to: gz)
        #expect(try Shards.documents(plain).map(\.jsonString) == docs.map(\.jsonString))
        #expect(try Shards.documents(gz).map(\.jsonString) == docs.map(\.jsonString))
    }

    @Test func multiFrameZstdAndMultiMemberGzip() throws {
        let a = sampleDocuments(30), b = Array(sampleDocuments(60).suffix(30))
        let fa = dir.file("a.jsonl.zst"), fb = dir.file("b.jsonl.zst")
        _ = try write(a, to: fa)
        _ = try write(b, to: fb, level: 9)
        let both = dir.file("both.jsonl.zst")
        try Data(try Data(contentsOf: URL(fileURLWithPath: fa)) + Data(contentsOf: URL(fileURLWithPath: fb)))
            .write(to: URL(fileURLWithPath: both))
        #expect(try Shards.documents(both).map(\.id) == (a + b).map(\.id))

        let ga = dir.file("a.jsonl.gz"), gb = dir.file("b.jsonl.gz")
        try Shards.writeGzip(Array(a.map { $0.jsonString + "\n" }.joined().utf8), to: ga)
        try Shards.writeGzip(Array(b.map { $0.jsonString + "\n" }.joined().utf8), to: gb)
        let gboth = dir.file("both.jsonl.gz")
        try Data(
            try Data(contentsOf: URL(fileURLWithPath: ga)) + Data(contentsOf: URL(fileURLWithPath: gb))
                + Data(count: 512)
        )
        .write(to: URL(fileURLWithPath: gboth))
        let items = try Shards.items(gboth)
        #expect(items.count == 60, "NUL padding after the last member is not an error")
    }

    @Test func lineFramingEdgeCases() throws {
        let text =
            "\n" + #"{"id":"1","text":"a"}"# + "\r\n   \n" + #"{"id":"2","text":"b\u2028c"}"# + "\n\n"
            + #"{"id":"3","text":"no newline at end"}"#
        let path = dir.file("edge.jsonl")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let reader = try ShardReader(path: path)
        var ids: [String] = []
        while let item = try reader.next() {
            if case .document(let d) = item { ids.append(d.id) } else { Issue.record("unexpected error item") }
        }
        #expect(ids == ["1", "2", "3"])
        #expect(reader.blankLines == 3)
        #expect(reader.linesRead == 6)
    }

    @Test func oversizedLineIsAnErrorAndMemoryStaysBounded() throws {
        let cap = 100_000
        var text = #"{"id":"before","text":"x"}"# + "\n"
        text += #"{"id":"huge","text":""# + String(repeating: "y", count: 2_000_000) + "\"}\n"
        text += #"{"id":"after","text":"z"}"# + "\n"
        let path = dir.file("big.jsonl.zst")
        try Shards.writeZstd(Array(text.utf8), to: path)
        let reader = try ShardReader(path: path, maxLineBytes: cap)
        var seen: [String] = []
        var maxCapacity = 0
        while let item = try reader.next() {
            maxCapacity = max(maxCapacity, reader.lineBufferCapacity)
            switch item {
            case .document(let d): seen.append(d.id)
            case .error(let e):
                seen.append("error:\(e.kind):line \(e.line)")
                #expect(e.rawLength == 2_000_000 + 23)
                #expect(e.raw.count == 4096)
                #expect(e.message.contains("over the 100000-byte cap"))
            }
        }
        #expect(seen == ["before", "error:line_too_long:line 2", "after"])
        #expect(maxCapacity <= cap + 64 * 1024, "line buffer grew to \(maxCapacity)")
    }

    @Test func errorRecordsKeepInvalidBytes() throws {
        var bytes = Array(#"{"id":"ok","text":"fine"}"#.utf8) + [0x0A]
        bytes += Array(#"{"id":"bad","text":"caf"#.utf8) + [0xE9] + Array(#""}"#.utf8) + [0x0A]
        let path = dir.file("utf8.jsonl")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let items = try Shards.items(path)
        #expect(items.count == 2)
        guard case .error(let e) = items[1] else {
            Issue.record("second line should be an error")
            return
        }
        #expect(e.kind == "invalid_utf8")
        #expect(e.line == 2)
        #expect(e.offset == 26)
        #expect(e.message == "line 2: invalid UTF-8 at byte 23")
        let json = e.json.objectValue
        #expect(json?["raw_base64"]?.stringValue == Data(bytes[26..<(bytes.count - 1)]).base64EncodedString())
        #expect(json?["shard"]?.stringValue == path)
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: SourceError.self) { try ShardReader(path: dir.file("nope.jsonl.zst")) }
    }

    @Test func writeFailureIsReported() throws {
        // /dev/full accepts open() and fails every write with ENOSPC, like a full disk.
        let w = try ShardWriter(path: "/dev/full", level: 1)
        for d in sampleDocuments(3000) { try? w.write(d) }
        do {
            _ = try w.finish()
            Issue.record("writing to /dev/full succeeded")
        } catch {
            #expect(error.description.contains("No space left on device"), "\(error)")
        }
    }
}
