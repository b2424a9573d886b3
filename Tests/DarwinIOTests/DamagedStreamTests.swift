import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinIO

/// Truncated and corrupt compressed shards: the documents before the damage survive, the damage is
/// one error record with an offset, and reading goes on where the format allows.
@Suite struct DamagedStreamTests {
    let dir = TemporaryDirectory()

    func jsonl(_ ids: Range<Int>) -> [UInt8] {
        Array(
            ids.map {
                #"{"id":"d\#($0)","text":"document number \#($0) \#(String(repeating: "lorem ipsum ", count: 20))"}"#
                    + "\n"
            }
            .joined().utf8)
    }

    func summarize(_ path: String) throws -> (ids: [String], errors: [ErrorRecord]) {
        var ids: [String] = []
        var errors: [ErrorRecord] = []
        for item in try Shards.items(path) {
            switch item {
            case .document(let d): ids.append(d.id)
            case .error(let e): errors.append(e)
            }
        }
        return (ids, errors)
    }

    @Test(arguments: [0.1, 0.5, 0.9, 0.999])
    func truncatedZstd(fraction: Double) throws {
        let full = dir.file("full.jsonl.zst")
        try Shards.writeZstd(jsonl(0..<2000), to: full)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
        let cut = Int(Double(bytes.count) * fraction)
        let path = dir.file("cut.jsonl.zst")
        try bytes.prefix(cut).write(to: URL(fileURLWithPath: path))
        let r = try summarize(path)
        #expect(r.errors.count == 1)
        #expect(r.errors.first?.kind == "truncated_stream")
        #expect(r.errors.first?.fileOffset == cut)
        #expect(r.errors.first?.message.contains("truncated zstd stream") == true)
        // Every document decoded before the cut is intact and in order.
        #expect(r.ids == (0..<r.ids.count).map { "d\($0)" })
        #expect(r.ids.count < 2000)
    }

    @Test func corruptFirstFrameRecoversLaterFrames() throws {
        let a = dir.file("a.jsonl.zst"), b = dir.file("b.jsonl.zst")
        try Shards.writeZstd(jsonl(0..<500), to: a)
        try Shards.writeZstd(jsonl(500..<1000), to: b)
        var first = try Data(contentsOf: URL(fileURLWithPath: a))
        let mid = first.count / 2
        for i in mid..<(mid + 64) { first[i] ^= 0x5A }
        let path = dir.file("damaged.jsonl.zst")
        try (first + Data(contentsOf: URL(fileURLWithPath: b))).write(to: URL(fileURLWithPath: path))
        let r = try summarize(path)
        #expect(r.errors.contains { $0.kind == "corrupt_stream" })
        #expect(r.errors.filter { $0.kind == "corrupt_stream" }.count == 1, "one damaged region, one record")
        #expect(Array(r.ids.suffix(500)) == (500..<1000).map { "d\($0)" }, "the second frame is read in full")
    }

    @Test func truncatedGzipMember() throws {
        let full = dir.file("full.jsonl.gz")
        try Shards.writeGzip(jsonl(0..<2000), to: full)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
        let path = dir.file("cut.jsonl.gz")
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: path))
        let r = try summarize(path)
        #expect(r.errors.map(\.kind) == ["truncated_stream"])
        #expect(r.ids == (0..<r.ids.count).map { "d\($0)" })
        #expect(r.ids.count > 100)
    }

    @Test func corruptGzipMemberSkipsToNextMember() throws {
        let a = dir.file("a.jsonl.gz"), b = dir.file("b.jsonl.gz")
        try Shards.writeGzip(jsonl(0..<300), to: a)
        try Shards.writeGzip(jsonl(300..<600), to: b)
        var first = try Data(contentsOf: URL(fileURLWithPath: a))
        for i in 40..<80 { first[i] ^= 0xFF }
        let path = dir.file("damaged.jsonl.gz")
        try (first + Data(contentsOf: URL(fileURLWithPath: b)) + Data("trailing junk".utf8)).write(
            to: URL(fileURLWithPath: path))
        let r = try summarize(path)
        #expect(r.errors.first?.kind == "corrupt_stream")
        #expect(Array(r.ids.suffix(300)) == (300..<600).map { "d\($0)" })
        #expect(r.errors.last?.message.contains("not a gzip member header") == true)
    }

    @Test func garbageInsteadOfZstd() throws {
        let path = dir.file("garbage.jsonl.zst")
        try Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }).write(
            to: URL(fileURLWithPath: path))
        let r = try summarize(path)
        #expect(r.ids.isEmpty)
        #expect(r.errors.count == 1)
        #expect(r.errors.first?.kind == "corrupt_stream")
    }

    /// A frame that declares a 256 MiB window (`zstd --long=28` of a stream whose size it is not told) is refused
    /// by default, naming the window it needs, and read in full when the limit allows that window.
    @Test func aFrameNeedingALargeWindow() throws {
        let raw = dir.file("large-window.jsonl")
        try Data(jsonl(0..<10_000)).write(to: URL(fileURLWithPath: raw))
        let path = dir.file("large-window.jsonl.zst")
        _ = try Process.output("sh", ["-c", #"zstd -q --long=28 -c < "$1" > "$2""#, "sh", raw, path])

        for limit in [nil, 128 << 20] as [Int?] {
            let reader = try ShardReader(path: path, maxWindow: limit ?? ShardReader.defaultMaxWindow)
            var items: [ShardReader.Item] = []
            while let item = try reader.next() { items.append(item) }
            #expect(items.count == 1, "one error record, no documents")
            guard case .error(let e) = items.first else {
                Issue.record("expected an error record, got \(items.count) items")
                continue
            }
            #expect(e.kind == "window_too_large")
            #expect(e.fileOffset == 0)
            #expect(e.message.contains("needs a window of 256 MiB; raise input.max_window"), "\(e.message)")
            #expect(e.message.contains("(now 128MiB) to 256MiB"), "\(e.message)")
        }

        let reader = try ShardReader(path: path, maxWindow: 256 << 20)
        var ids: [String] = []
        while let item = try reader.next() {
            switch item {
            case .document(let d): ids.append(d.id)
            case .error(let e): Issue.record("unexpected error: \(e.message)")
            }
        }
        #expect(ids == (0..<10_000).map { "d\($0)" })
    }

    @Test(
        arguments: [
            ([0x00, 18 << 3], 1 << 28),  // window descriptor: 2^(10+18)
            ([0x00, 17 << 3 | 4], (1 << 27) + (1 << 27) / 8 * 4),  // with a mantissa
            ([0x20, 200], 200),  // single segment: the content size (1 byte)
            ([0x60, 0x10, 0x01], 0x110 + 256),  // 2-byte content size, offset by 256
            ([0xA1, 0x07, 0x00, 0x00, 0x00, 0x10], 1 << 28),  // a 1-byte dictionary id, then a 4-byte size
            ([0x20], nil),  // cut short
        ] as [([UInt8], Int?)])
    func windowSizeFromTheFrameHeader(header: [UInt8], window: Int?) {
        let bytes: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD] + header
        let read = bytes.withUnsafeBytes { ZstdSource.windowSize(ofFrameHeader: $0) }
        #expect(read == window, "header \(header)")
    }
}
