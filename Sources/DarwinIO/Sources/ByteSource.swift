import DarwinCore
import Foundation

/// A stream of decompressed bytes read from a file.
///
/// Sources recover where the format allows: after a corrupt zstd frame or gzip member they look
/// for the next frame or member and carry on, reporting each problem once.
protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 at the end of the stream.
    ///
    /// - Throws: ``SourceError``. After a `.corrupt` or `.truncated` error, reading may continue:
    ///   the source has skipped to the next frame or member it could find, or to the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int

    /// Bytes of the file consumed so far.
    var fileOffset: Int { get }

    /// The file the compressed bytes come from.
    var file: FileBlockReader { get }

    /// Where decoding can start again to reach decompressed byte `offset`: the start of the gzip member that
    /// holds it, or the byte itself in a plain file; `nil` when the source cannot restart there.
    func restartPoint(forOutput offset: Int) -> SourcePosition?

    /// Goes back to `point` (from ``restartPoint(forOutput:)``): the next read returns the bytes from
    /// `point.output` on.
    ///
    /// - Throws: ``SourceError/io(path:message:)`` when the file cannot be repositioned.
    func restart(at point: SourcePosition) throws(SourceError)

    /// Lets the source forget restart points before decompressed byte `offset` (the reader will not go back
    /// further), so they take bounded memory.
    func forgetRestartPoints(before offset: Int)

    /// Where the member or frame named by the last `.corrupt` or `.truncated` error began, when known.
    var damagedStart: SourcePosition? { get }
}

extension ByteSource {
    func restartPoint(forOutput offset: Int) -> SourcePosition? { nil }

    func restart(at point: SourcePosition) throws(SourceError) {
        preconditionFailure("restart(at:) needs a restart point, and this source gives none")
    }

    func forgetRestartPoints(before offset: Int) {}

    var damagedStart: SourcePosition? { nil }
}

/// A decompressed offset and the file offset where decoding starts to produce it.
struct SourcePosition: Equatable {
    /// Offset in the decompressed stream.
    var output: Int
    /// Offset in the file.
    var file: Int
}

/// A problem reading or decompressing a file.
public enum SourceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream ends in the middle of a frame or member.
    case truncated(format: String, fileOffset: Int)
    /// The compressed data is corrupt at about this position.
    case corrupt(format: String, fileOffset: Int, message: String)
    /// A zstd frame needs a larger window than the limit (`window` and `limit` in bytes); the frame is skipped.
    case windowTooLarge(fileOffset: Int, window: Int, limit: Int)
    /// A frame or member decoded, but its checksum does not match: what came out of it may be altered, so
    /// the shard cannot be trusted (not recoverable: the task fails rather than pass altered documents on).
    case checksumMismatch(format: String, fileOffset: Int)
    /// The operating system reported an error (not recoverable).
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case .truncated(let format, let offset):
            return
                "truncated \(format) stream (ends inside a \(format == "gzip" ? "member" : "frame") at byte \(offset))"
        case .corrupt(let format, let offset, let message):
            return "corrupt \(format) data near byte \(offset): \(message)"
        case .windowTooLarge(let offset, let window, let limit):
            let mib = 1 << 20
            let needed = (window + mib - 1) / mib
            let setting = 1 << (Int.bitWidth - (window - 1).leadingZeroBitCount)
            let advice =
                setting <= ZstdSource.largestWindow
                ? "raise input.max_window (now \(limit / mib)MiB) to \(setting / mib)MiB"
                : "more than the \(ZstdSource.largestWindow / mib) MiB darwin can give"
            return "zstd frame at byte \(offset) needs a window of \(needed) MiB; \(advice)"
        case .checksumMismatch(let format, let offset):
            return
                "the \(format) \(format == "gzip" ? "member" : "frame") at byte \(offset) fails its checksum: the file is damaged and documents read from it may be altered; repair or remove it"
        case .io(let path, let message):
            return "\(path): \(message)"
        }
    }

    /// A stable snake_case name for statistics.
    public var kind: String {
        switch self {
        case .truncated: return "truncated_stream"
        case .corrupt: return "corrupt_stream"
        case .windowTooLarge: return "window_too_large"
        case .checksumMismatch: return "checksum_mismatch"
        case .io: return "io_error"
        }
    }

    /// The compressed-file offset of the problem, when known.
    public var fileOffset: Int? {
        switch self {
        case .truncated(_, let o), .corrupt(_, let o, _), .windowTooLarge(let o, _, _), .checksumMismatch(_, let o):
            return o
        case .io: return nil
        }
    }
}

/// Reads a file in large blocks with `read(2)`, keeping a window that decompressors consume.
final class FileBlockReader {
    let path: String
    private let fd: Int32
    /// The block buffer, `capacity` bytes.
    let base: UnsafeMutableRawPointer
    let capacity: Int
    /// Valid bytes in `buffer` are `start..<end`.
    var start = 0
    private(set) var end = 0
    /// File offset of `buffer[0]`.
    private(set) var bufferFileOffset = 0
    private(set) var isAtEOF = false
    /// Sees every byte of the file once, in file order, as it is read: the checksum of the file as stored
    /// (``ShardScan``) without a second read.
    var tap: StreamingHash128?
    /// File offset up to which bytes went through `tap`.
    private var tapped = 0

    init(path: String, blockSize: Int) throws(SourceError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        self.fd = fd
        #if os(Linux)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        base = UnsafeMutableRawPointer.allocate(byteCount: blockSize, alignment: 64)
        capacity = blockSize
    }

    deinit {
        close(fd)
        base.deallocate()
    }

    /// Bytes available without reading.
    var available: Int { end - start }

    /// File offset of `buffer[start]`.
    var offset: Int { bufferFileOffset + start }

    /// Moves to file offset `offset`: within the bytes still held if it can, else with `lseek(2)`.
    ///
    /// - Throws: ``SourceError/io(path:message:)`` when `lseek` fails.
    func seek(to offset: Int) throws(SourceError) {
        if offset >= bufferFileOffset && offset <= bufferFileOffset + end {
            start = offset - bufferFileOffset
            return
        }
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else {
            throw .io(path: path, message: "lseek failed: " + String(cString: strerror(errno)))
        }
        bufferFileOffset = offset
        start = 0
        end = 0
        isAtEOF = false
    }

    /// Moves the unread bytes to the front and reads more; returns false at end of file.
    @discardableResult
    func refill() throws(SourceError) -> Bool {
        if isAtEOF { return false }
        if start > 0 {
            let n = end - start
            if n > 0 { base.copyMemory(from: base + start, byteCount: n) }
            bufferFileOffset += start
            start = 0
            end = n
        }
        while end < capacity {
            let r = Foundation.read(fd, base + end, capacity - end)
            if r < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, message: "read failed: " + String(cString: strerror(errno)))
            }
            if r == 0 {
                isAtEOF = true
                break
            }
            if let tap {
                // Bytes read again after a seek back went through the tap the first time.
                let from = bufferFileOffset + end
                let skip = min(r, max(0, tapped - from))
                if skip < r { tap.update(UnsafeRawBufferPointer(start: base + end + skip, count: r - skip)) }
                tapped = max(tapped, from + r)
            }
            end += r
            if end - start >= capacity / 2 { break }
        }
        return end > start
    }

    /// Reads and discards the rest of the file, so that ``tap`` has seen all of it.
    func drain() throws(SourceError) {
        start = end
        while try refill() { start = end }
    }
}

/// An uncompressed file.
final class PlainSource: ByteSource {
    let file: FileBlockReader

    init(path: String) throws(SourceError) {
        file = try FileBlockReader(path: path, blockSize: 1 << 20)
    }

    var fileOffset: Int { file.offset }

    func restartPoint(forOutput offset: Int) -> SourcePosition? { SourcePosition(output: offset, file: offset) }

    func restart(at point: SourcePosition) throws(SourceError) { try file.seek(to: point.file) }

    func read(into out: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        if file.available == 0 { try file.refill() }
        let n = min(out.count, file.available)
        if n > 0, let dst = out.baseAddress {
            dst.copyMemory(from: file.base + file.start, byteCount: n)
            file.start += n
        }
        return n
    }
}

extension FileBlockReader {
    /// Skips forward to the next occurrence of `magic` (at least one byte past the current position).
    ///
    /// - Returns: `true` with `start` at the magic, or `false` at end of file.
    func skip(toNext magic: [UInt8]) throws(SourceError) -> Bool {
        if available > 0 { start += 1 }
        while true {
            if available >= magic.count {
                var p = start
                let last = end - magic.count
                while p <= last {
                    guard let hit = memchr(base + p, Int32(magic[0]), last - p + 1) else { break }
                    let i = base.distance(to: hit)
                    if memcmp(base + i, magic, magic.count) == 0 {
                        start = i
                        return true
                    }
                    p = i + 1
                }
                start = end - (magic.count - 1)  // keep a tail that may begin a match
            }
            if isAtEOF {
                start = end
                return false
            }
            try refill()
        }
    }
}
