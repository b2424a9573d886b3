import Foundation

/// Splits a byte stream into lines with bounded memory.
///
/// The buffer grows only as far as the longest line allowed; a longer line is skipped while it
/// streams past and reported once with its first bytes, so memory stays bounded whatever the input.
final class LineReader {
    /// What the reader found next.
    enum Event {
        /// A complete line without its newline; valid until the next call.
        case line(UnsafeRawBufferPointer, number: Int, offset: Int)
        /// A line longer than the cap, skipped.
        case oversized(number: Int, offset: Int, length: Int, prefix: [UInt8])
        /// The source failed mid-stream; the partial line in progress (if any) is lost.
        case sourceError(SourceError, number: Int, offset: Int)
    }

    /// How many leading bytes of an oversized line are kept for the error record.
    static let prefixBytes = 4096

    private let source: ByteSource
    private let maxLineBytes: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var scanned = 0
    private var atEOF = false
    /// Decompressed offset of `buffer[start]`.
    private var offset = 0
    private(set) var lineNumber = 0
    /// Bytes of an oversized line skipped so far, and its first bytes; `nil` when not skipping.
    private var skipping: (length: Int, prefix: [UInt8], offset: Int)?

    init(source: ByteSource, maxLineBytes: Int, initialCapacity: Int = 1 << 20) {
        self.source = source
        self.maxLineBytes = maxLineBytes
        self.capacity = max(64 * 1024, min(initialCapacity, maxLineBytes + 1))
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Decompressed bytes consumed so far.
    var bytesRead: Int { offset + (end - start) }

    /// The size of the line buffer (grows only up to the line cap).
    var bufferCapacity: Int { capacity }

    /// The next event, or `nil` at the end of the stream.
    ///
    /// - Throws: only unrecoverable I/O errors; decompression problems come back as events.
    func next() throws(SourceError) -> Event? {
        while true {
            if scanned < end, let nl = memchr(buffer + scanned, 0x0A, end - scanned) {
                let i = buffer.distance(to: nl)
                let length = i - start
                let lineOffset = offset
                start = i + 1
                scanned = start
                offset += length + 1
                lineNumber += 1
                if let s = skipping {
                    skipping = nil
                    return .oversized(number: lineNumber, offset: s.offset, length: s.length + length, prefix: s.prefix)
                }
                return .line(
                    UnsafeRawBufferPointer(start: buffer + (i - length), count: length), number: lineNumber,
                    offset: lineOffset)
            }
            scanned = end
            if end - start > maxLineBytes || skipping != nil {
                // Too long to be a document: keep its first bytes, drop the rest as it streams by.
                let pending = end - start
                if skipping == nil {
                    let keep = min(Self.prefixBytes, pending)
                    skipping = (0, Array(UnsafeRawBufferPointer(start: buffer + start, count: keep)), offset)
                }
                skipping?.length += pending
                offset += pending
                start = end
                scanned = end
            }
            if atEOF {
                if start < end {
                    // A last line without a newline.
                    let length = end - start
                    let lineOffset = offset
                    let lineStart = start
                    start = end
                    scanned = end
                    offset += length
                    lineNumber += 1
                    return .line(
                        UnsafeRawBufferPointer(start: buffer + lineStart, count: length), number: lineNumber,
                        offset: lineOffset)
                }
                if let s = skipping {
                    skipping = nil
                    lineNumber += 1
                    return .oversized(number: lineNumber, offset: s.offset, length: s.length, prefix: s.prefix)
                }
                return nil
            }
            try fill()
            if case .some(let error) = pendingError {
                pendingError = nil
                return error
            }
        }
    }

    private var pendingError: Event?

    /// Makes room and reads more decompressed bytes.
    private func fill() throws(SourceError) {
        if start > 0 && (start == end || capacity - end < capacity / 4) {
            let n = end - start
            if n > 0 { buffer.copyMemory(from: buffer + start, byteCount: n) }
            scanned -= start
            end = n
            start = 0
        }
        if end == capacity {
            let grown = min(capacity * 2, maxLineBytes + 64 * 1024)
            if grown > capacity {
                let b = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 64)
                b.copyMemory(from: buffer, byteCount: end)
                buffer.deallocate()
                buffer = b
                capacity = grown
            }
        }
        do {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(start: buffer + end, count: capacity - end))
            if n == 0 { atEOF = true }
            end += n
        } catch {
            switch error {
            case .io, .checksumMismatch: throw error
            default: break
            }
            // The partial line in progress cannot be completed: drop it with the error.
            let lost = end - start
            let lineOffset = offset
            offset += lost
            start = end
            scanned = end
            skipping = nil
            pendingError = .sourceError(error, number: lineNumber + 1, offset: lineOffset)
        }
    }
}
