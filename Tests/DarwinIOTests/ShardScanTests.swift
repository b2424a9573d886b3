import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinIO

@Suite struct ShardScanTests {
    let dir = TemporaryDirectory()

    /// Documents of text that hardly compresses, so the file spans several read blocks.
    func write(_ count: Int, to path: String, compression: ShardCompression = .zstd) throws -> WrittenFile {
        let w = try ShardWriter(path: path, compression: compression)
        var state: UInt64 = 42
        for i in 0..<count {
            var text = ""
            for _ in 0..<1500 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.unicodeScalars.append(Unicode.Scalar(UInt8(97 + (state >> 33) % 26)))
            }
            try w.write(Document(id: "doc-\(i)", text: text))
        }
        return try w.finish()
    }

    @Test(arguments: [ShardCompression.zstd, .none])
    func matchesWhatTheWriterRecorded(compression: ShardCompression) throws {
        let path = dir.file(compression == .zstd ? "a.jsonl.zst" : "a.jsonl")
        let written = try write(3000, to: path, compression: compression)
        #expect(written.fileBytes > 2 << 20, "more than one read block")
        let scan = try ShardScan(path: path)
        #expect(scan.checksum == written.checksum)
        #expect(scan.fileBytes == written.fileBytes)
        #expect(scan.lines == written.lines && scan.bytes == written.bytes)
        #expect(scan.streamError == nil)
    }

    @Test func truncatedStream() throws {
        let path = dir.file("t.jsonl.zst")
        let written = try write(3000, to: path)
        let cut = written.fileBytes / 2
        #expect(truncate(path, off_t(cut)) == 0)
        let scan = try ShardScan(path: path)
        #expect(scan.fileBytes == cut)
        #expect(scan.lines > 0 && scan.lines < written.lines, "\(scan.lines) of \(written.lines)")
        #expect(scan.checksum != written.checksum)
        guard case .truncated(format: "zstd", _)? = scan.streamError else {
            Issue.record("expected a truncated zstd stream, got \(String(describing: scan.streamError))")
            return
        }
    }

    @Test func corruptDataIsHashedToTheEnd() throws {
        let path = dir.file("c.jsonl.zst")
        let written = try write(300, to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        let scan = try ShardScan(path: path)
        #expect(scan.fileBytes == written.fileBytes, "every byte read, past the damage")
        #expect(scan.checksum != written.checksum)
        // A flipped bit either breaks a block or decodes to other bytes that the frame's checksum catches.
        #expect(
            ["corrupt_stream", "checksum_mismatch"].contains(scan.streamError?.kind ?? ""),
            "\(String(describing: scan.streamError))")
    }

    @Test func missingFileThrows() {
        #expect(throws: SourceError.self) { try ShardScan(path: dir.path + "/nope.jsonl.zst") }
    }
}
