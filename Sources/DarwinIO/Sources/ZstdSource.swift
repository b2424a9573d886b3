import CZstd
import Foundation

/// Decompresses a zstd file (one or more frames, skippable frames allowed) with the streaming API.
///
/// The window is capped (`ZSTD_d_windowLogMax` 27, 128 MiB) so a hostile frame cannot make a worker
/// allocate without bound. After a corrupt frame the source skips to the next frame magic number.
final class ZstdSource: ByteSource {
    private static let frameMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    let file: FileBlockReader
    private let dctx: OpaquePointer
    /// Inside a frame that has not ended yet.
    private var frameOpen = false
    /// Set after an error until some output is produced, so one damaged region is reported once.
    private var quietUntilOutput = false

    init(path: String) throws(SourceError) {
        file = try FileBlockReader(path: path, blockSize: max(ZSTD_DStreamInSize(), 1 << 20))
        guard let d = ZSTD_createDCtx() else { throw .io(path: path, message: "ZSTD_createDCtx failed: out of memory") }
        dctx = d
        _ = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27)
    }

    deinit { ZSTD_freeDCtx(dctx) }

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
            let offsetBefore = file.offset
            var inb = ZSTD_inBuffer(src: file.base + file.start, size: file.available, pos: 0)
            var outb = ZSTD_outBuffer(dst: dst, size: out.count, pos: 0)
            let r = ZSTD_decompressStream(dctx, &outb, &inb)
            file.start += inb.pos
            if ZSTD_isError(r) != 0 {
                let message = String(cString: ZSTD_getErrorName(r)).lowercased()
                _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
                frameOpen = false
                let wasQuiet = quietUntilOutput
                quietUntilOutput = true
                _ = try file.skip(toNext: Self.frameMagic)
                if !wasQuiet {
                    throw .corrupt(format: "zstd", fileOffset: offsetBefore + inb.pos, message: message)
                }
                continue
            }
            frameOpen = r != 0
            if outb.pos > 0 {
                quietUntilOutput = false
                return outb.pos
            }
        }
    }
}
