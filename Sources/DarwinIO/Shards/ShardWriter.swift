import CZstd
import DarwinCore
import Foundation

/// A problem writing an output file.
public struct SinkError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    static func errno(_ path: String, _ what: String) -> SinkError {
        SinkError(path: path, message: "\(what): \(String(cString: strerror(Foundation.errno)))")
    }
}

/// What a finished writer produced.
public struct WrittenFile: Sendable, Equatable {
    /// Where the file was written (its temporary name until committed).
    public let path: String
    /// Lines written.
    public let lines: Int
    /// Uncompressed bytes written, newlines included.
    public let bytes: Int
    /// Size of the file on disk.
    public let fileBytes: Int
    /// XXH3-128 of the file's bytes, 32 hex digits.
    public let checksum: String
}

/// Writes JSON lines to a `.jsonl.zst` (or plain `.jsonl`) file with bounded memory.
///
/// Lines are gathered into 1 MiB blocks and compressed with zstd's streaming API into one frame with
/// a content checksum. ``finish()`` flushes and `fsync`s; the caller renames the file into place.
public final class ShardWriter {
    public let path: String
    public let compression: ShardCompression
    public private(set) var lines = 0
    public private(set) var bytes = 0

    private let fd: Int32
    private let cctx: OpaquePointer?
    private var pending: [UInt8] = []
    private let blockSize = 1 << 20
    private let outBuffer: UnsafeMutableRawPointer
    private let outCapacity: Int
    private var fileBytes = 0
    private let hash = StreamingHash128()
    private var isClosed = false

    /// Creates (or truncates) the file.
    ///
    /// - Parameters:
    ///   - compression: `.zstd` or `.none` (gzip output is not offered).
    ///   - level: zstd level (negative fast levels to 22).
    public init(path: String, compression: ShardCompression = .zstd, level: Int32 = 3) throws(SinkError) {
        precondition(compression != .gzip, "gzip output is not supported")
        self.path = path
        self.compression = compression
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(path, "cannot create") }
        self.fd = fd
        outCapacity = max(ZSTD_CStreamOutSize(), 1 << 17)
        outBuffer = UnsafeMutableRawPointer.allocate(byteCount: outCapacity, alignment: 64)
        if compression == .zstd {
            guard let c = ZSTD_createCCtx() else {
                close(fd)
                outBuffer.deallocate()
                throw SinkError(path: path, message: "ZSTD_createCCtx failed: out of memory")
            }
            cctx = c
            var r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
            if ZSTD_isError(r) == 0 { r = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1) }
            if ZSTD_isError(r) != 0 {
                let message = String(cString: ZSTD_getErrorName(r))
                ZSTD_freeCCtx(c)
                close(fd)
                outBuffer.deallocate()
                throw SinkError(path: path, message: "zstd level \(level): \(message)")
            }
        } else {
            cctx = nil
        }
        pending.reserveCapacity(blockSize + 64 * 1024)
    }

    deinit {
        if !isClosed { close(fd) }
        if let cctx { ZSTD_freeCCtx(cctx) }
        outBuffer.deallocate()
    }

    /// Appends a document as one line.
    public func write(_ document: Document) throws(SinkError) {
        let before = pending.count
        document.serialize(into: &pending)
        pending.append(0x0A)
        lines += 1
        bytes += pending.count - before
        if pending.count >= blockSize { try flushPending(end: false) }
    }

    /// Appends a JSON value as one line.
    public func write(_ value: JSONValue) throws(SinkError) {
        let before = pending.count
        JSONWriter.write(value, into: &pending)
        pending.append(0x0A)
        lines += 1
        bytes += pending.count - before
        if pending.count >= blockSize { try flushPending(end: false) }
    }

    /// Appends raw bytes (already newline-terminated records, or binary data).
    public func writeRaw(_ data: UnsafeRawBufferPointer) throws(SinkError) {
        pending.append(contentsOf: data)
        bytes += data.count
        if pending.count >= blockSize { try flushPending(end: false) }
    }

    /// Flushes everything, ends the zstd frame, `fsync`s and closes the file.
    public func finish() throws(SinkError) -> WrittenFile {
        try flushPending(end: true)
        if fsync(fd) != 0 { throw .errno(path, "fsync failed") }
        isClosed = true
        if close(fd) != 0 { throw .errno(path, "close failed") }
        return WrittenFile(path: path, lines: lines, bytes: bytes, fileBytes: fileBytes, checksum: hash.hexDigest)
    }

    /// Closes and deletes the file (after a failure or an interruption).
    public func abandon() {
        if !isClosed {
            isClosed = true
            close(fd)
        }
        unlink(path)
    }

    private func flushPending(end: Bool) throws(SinkError) {
        var failure: SinkError?
        pending.withUnsafeBytes { raw in
            do throws(SinkError) {
                if cctx == nil {
                    try writeAll(raw)
                } else {
                    try compress(raw, end: end)
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        pending.removeAll(keepingCapacity: true)
    }

    private func compress(_ raw: UnsafeRawBufferPointer, end: Bool) throws(SinkError) {
        guard let cctx else { return }
        var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
        let mode = end ? ZSTD_e_end : ZSTD_e_continue
        while true {
            var output = ZSTD_outBuffer(dst: outBuffer, size: outCapacity, pos: 0)
            let remaining = ZSTD_compressStream2(cctx, &output, &input, mode)
            if ZSTD_isError(remaining) != 0 {
                throw SinkError(
                    path: path, message: "zstd compression failed: " + String(cString: ZSTD_getErrorName(remaining)))
            }
            if output.pos > 0 { try writeAll(UnsafeRawBufferPointer(start: outBuffer, count: output.pos)) }
            if end ? remaining == 0 : input.pos == input.size { break }
        }
    }

    private func writeAll(_ data: UnsafeRawBufferPointer) throws(SinkError) {
        guard let base = data.baseAddress else { return }
        hash.update(data)
        var written = 0
        while written < data.count {
            let r = Foundation.write(fd, base + written, data.count - written)
            if r < 0 {
                if errno == EINTR { continue }
                throw .errno(path, "write failed")
            }
            written += r
        }
        fileBytes += data.count
    }
}

/// Making files appear complete or not at all.
public enum AtomicFiles {
    /// Renames each temporary file to its final name, then `fsync`s the directories involved.
    ///
    /// Each file must already be flushed and synced (``ShardWriter/finish()`` does it).
    public static func commit(_ files: [(temporary: String, final: String)]) throws(SinkError) {
        var directories = Set<String>()
        for f in files {
            if rename(f.temporary, f.final) != 0 { throw .errno(f.final, "rename from \(f.temporary) failed") }
            directories.insert((f.final as NSString).deletingLastPathComponent)
        }
        for d in directories.sorted() { try syncDirectory(d) }
    }

    /// `fsync`s a directory so renames and creations in it survive a crash.
    public static func syncDirectory(_ path: String) throws(SinkError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .errno(path, "cannot open directory") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw .errno(path, "fsync of directory failed") }
    }

    /// Creates a directory and its parents.
    public static func makeDirectory(_ path: String) throws(SinkError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SinkError(path: path, message: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Removes a file if it exists.
    public static func remove(_ path: String) {
        unlink(path)
    }
}
