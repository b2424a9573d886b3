import DarwinCore
import Foundation

/// A shard file read back: the size and checksum of its bytes as stored, and the lines of the stream inside.
///
/// The file is read once, as a stream with bounded memory: its bytes go through XXH3-128 as the
/// decompressor consumes them — the checksum ``ShardWriter`` records, over the compressed file — and the
/// decompressed stream is counted by its newlines, without holding a line. A damaged stream does not stop
/// the scan: the first problem is kept, and the rest of the file is still read (and hashed).
public struct ShardScan: Sendable, Equatable {
    /// Size of the file.
    public var fileBytes: Int
    /// XXH3-128 of the file's bytes, 32 hex digits, as in ``WrittenFile/checksum``.
    public var checksum: String
    /// Complete (newline-terminated) lines of the decompressed stream, as ``ShardWriter`` counts them.
    public var lines: Int
    /// Decompressed bytes.
    public var bytes: Int
    /// The first problem of the compressed stream: it ends inside a frame, or its data is corrupt.
    public var streamError: SourceError?

    /// Reads a shard file (`.zst`, `.gz` or plain, from its name).
    ///
    /// - Throws: ``SourceError/io(path:message:)`` when the file cannot be opened or read.
    public init(path: String) throws(SourceError) {
        let source = try ShardCompression(path: path).openSource(path: path)
        let hash = StreamingHash128()
        source.file.tap = hash
        let capacity = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var lines = 0
        var bytes = 0
        var streamError: SourceError?
        while true {
            let n: Int
            do {
                n = try source.read(into: buffer)
            } catch {
                if case .io = error { throw error }
                // The source has skipped past the damage; what follows is still read and hashed.
                if streamError == nil { streamError = error }
                continue
            }
            if n == 0 { break }
            bytes += n
            lines += Self.newlines(in: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        try source.file.drain()
        fileBytes = source.file.offset
        checksum = hash.hexDigest
        self.lines = lines
        self.bytes = bytes
        self.streamError = streamError
    }

    private static func newlines(in bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let end = base + bytes.count
        var p = base
        var count = 0
        while p < end, let hit = memchr(p, 0x0A, end - p) {
            count += 1
            p = UnsafeRawPointer(hit) + 1
        }
        return count
    }
}
