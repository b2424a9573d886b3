import CZstd
import Foundation

/// Decompresses a zstd file (one or more frames, skippable frames allowed) with the streaming API.
///
/// The window is capped (`maxWindow`, 128 MiB unless the recipe's `input.max_window` says otherwise) so a
/// hostile frame cannot make a worker allocate without bound; a frame that needs more is reported as
/// ``SourceError/windowTooLarge(fileOffset:window:limit:)`` with the window it needs, and skipped. After a
/// corrupt frame the source skips to the next frame magic number.
final class ZstdSource: ByteSource {
    private static let frameMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    /// The largest window a limit may allow: 2 GiB (`ZSTD_WINDOWLOG_MAX_64` is 31).
    static let largestWindow = 1 << 31
    /// The longest frame header: magic, descriptor, window, dictionary id and content size (18 bytes).
    private static let largestFrameHeader = 18
    let file: FileBlockReader
    private let dctx: OpaquePointer
    /// The window limit in bytes: `maxWindow` rounded up to a power of two within 1 KiB…2 GiB.
    private let windowLimit: Int
    /// Inside a frame that has not ended yet.
    private var frameOpen = false
    /// The input the decoder asked for next (the rest of the current block and the next block's header).
    private var nextInput = 0
    /// The last call filled its output: it may hold decoded bytes still to flush.
    private var outputPending = false
    /// Replaying a frame one block per call after a failure (see `read(into:)`).
    private var careful = false
    /// Bytes of the current frame delivered so far, and, in a replay, those still to drop.
    private var frameOutput = 0
    private var replaySkip = 0
    /// File offset where the current frame began, to read its header again when its window is too large.
    private var frameStart = 0
    /// Set after an error until some output is produced, so one damaged region is reported once.
    private var quietUntilOutput = false

    /// Opens a zstd file.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - maxWindow: The largest window a frame may need, in bytes (a power of two; others are rounded up).
    /// - Throws: ``SourceError/io(path:message:)`` when the file cannot be opened.
    init(path: String, maxWindow: Int = ShardReader.defaultMaxWindow) throws(SourceError) {
        file = try FileBlockReader(path: path, blockSize: max(ZSTD_DStreamInSize(), 1 << 20))
        guard let d = ZSTD_createDCtx() else { throw .io(path: path, message: "ZSTD_createDCtx failed: out of memory") }
        dctx = d
        let windowLog = min(max(Int.bitWidth - (max(maxWindow, 2) - 1).leadingZeroBitCount, 10), 31)
        windowLimit = 1 << windowLog
        _ = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, Int32(windowLog))
    }

    deinit { ZSTD_freeDCtx(dctx) }

    /// The window the frame at `frameStart` declares, from its header (nil if the header is not at hand).
    private func frameWindow() -> Int? {
        let at = frameStart - (file.offset - file.start)
        guard at >= 0, at < file.end else { return nil }
        return Self.windowSize(ofFrameHeader: UnsafeRawBufferPointer(start: file.base + at, count: file.end - at))
    }

    /// The window size a zstd frame header declares (RFC 8878, 3.1.1.1): from the window descriptor, or the
    /// content size for a single-segment frame; nil if `bytes` do not start with a whole frame header.
    ///
    /// Read here rather than with `ZSTD_getFrameHeader`, which zstd offers only to statically linked programs.
    static func windowSize(ofFrameHeader bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 6, bytes.prefix(4).elementsEqual(frameMagic) else { return nil }
        let descriptor = bytes[4]
        let singleSegment = descriptor & 0x20 != 0
        if !singleSegment {
            let exponent = Int(bytes[5] >> 3)
            let mantissa = Int(bytes[5] & 7)
            let base = 1 << (10 + exponent)
            return base + base / 8 * mantissa
        }
        let dictionaryBytes = [0, 1, 2, 4][Int(descriptor & 3)]
        let sizeBytes = [1, 2, 4, 8][Int(descriptor >> 6)]
        let start = 5 + dictionaryBytes
        guard bytes.count >= start + sizeBytes else { return nil }
        var size = 0
        for i in 0..<sizeBytes { size |= Int(bytes[start + i]) << (8 * i) }
        return sizeBytes == 2 ? size + 256 : size
    }

    var fileOffset: Int { file.offset }

    func read(into out: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        guard let dst = out.baseAddress, out.count > 0 else { return 0 }
        while true {
            if file.available == 0 {
                try file.refill()
                if file.available == 0 {
                    // End of file: flush what the decoder still holds, then check the frame ended.
                    if frameOpen {
                        var inb = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
                        var outb = ZSTD_outBuffer(dst: dst, size: out.count, pos: 0)
                        let r = ZSTD_decompressStream(dctx, &outb, &inb)
                        if ZSTD_isError(r) == 0, outb.pos > 0 {
                            frameOpen = r != 0
                            return outb.pos
                        }
                        frameOpen = false
                        if !quietUntilOutput { throw .truncated(format: "zstd", fileOffset: file.offset) }
                    }
                    return 0
                }
            }
            if !frameOpen {
                // A frame (or the padding before one) starts here: keep its whole header in the buffer, in case
                // it has to be read again.
                if file.available < Self.largestFrameHeader && !file.isAtEOF { try file.refill() }
                frameStart = file.offset
                frameOutput = 0
            }
            let offsetBefore = file.offset
            // A call that fails returns nothing of what it decoded. Carefully, each call decodes at most one block
            // (the input the decoder asks for next) and none while output of an earlier block is still to flush,
            // so a damaged block costs only itself; that is slower, so it is done only to replay a frame in which
            // a fast call failed, up to the damage.
            // (At a frame's start the decoder has asked for nothing yet: its first 5 bytes tell the header's size.)
            let input =
                !careful
                ? file.available
                : outputPending ? 0 : min(file.available, nextInput > 0 ? nextInput : 5)
            var inb = ZSTD_inBuffer(src: file.base + file.start, size: input, pos: 0)
            var outb = ZSTD_outBuffer(dst: dst, size: out.count, pos: 0)
            let r = ZSTD_decompressStream(dctx, &outb, &inb)
            file.start += inb.pos
            outputPending = ZSTD_isError(r) == 0 && outb.pos == outb.size
            nextInput = ZSTD_isError(r) == 0 ? r : 0
            if ZSTD_isError(r) != 0, !careful,
                ZSTD_getErrorCode(r) != ZSTD_error_checksum_wrong,
                ZSTD_getErrorCode(r) != ZSTD_error_frameParameter_windowTooLarge
            {
                // Replay the frame carefully, dropping what was already delivered, to keep what precedes the damage.
                _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
                try file.seek(to: frameStart)
                careful = true
                replaySkip = frameOutput
                frameOpen = false
                nextInput = 0
                outputPending = false
                continue
            }
            if ZSTD_isError(r) != 0, ZSTD_getErrorCode(r) == ZSTD_error_checksum_wrong {
                // The frame decoded, but not to what was compressed: what came out of it may be altered.
                _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
                frameOpen = false
                careful = false
                let at = frameStart
                _ = try file.skip(toNext: Self.frameMagic)
                throw .checksumMismatch(format: "zstd", fileOffset: at)
            }
            if ZSTD_isError(r) != 0 {
                careful = false
                replaySkip = 0
                let message = String(cString: ZSTD_getErrorName(r)).lowercased()
                let window = ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge ? frameWindow() : nil
                _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
                frameOpen = false
                let wasQuiet = quietUntilOutput
                quietUntilOutput = true
                let at = frameStart
                _ = try file.skip(toNext: Self.frameMagic)
                if !wasQuiet {
                    if let window, window > windowLimit {
                        throw .windowTooLarge(fileOffset: at, window: window, limit: windowLimit)
                    }
                    throw .corrupt(format: "zstd", fileOffset: offsetBefore + inb.pos, message: message)
                }
                continue
            }
            frameOpen = r != 0
            if !frameOpen { careful = false }
            var produced = outb.pos
            if replaySkip > 0 && produced > 0 {
                // Output of the replay that was delivered before the failing call.
                let drop = min(replaySkip, produced)
                replaySkip -= drop
                produced -= drop
                if produced > 0 { dst.copyMemory(from: dst + drop, byteCount: produced) }
            }
            if produced > 0 {
                frameOutput += produced
                quietUntilOutput = false
                return produced
            }
        }
    }
}
