import Foundation

/// Writes a binary file in one go and `fsync`s it (for the small index files passed between phases).
public enum BinaryFile {
    /// Writes `bytes` to `path` (created or truncated) and syncs it to disk.
    public static func write(_ bytes: [UInt8], to path: String) throws(SinkError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(path, "cannot create") }
        defer { close(fd) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            while written < raw.count {
                let r = Foundation.write(fd, base + written, raw.count - written)
                if r < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += r
            }
            return true
        }
        if !ok { throw .errno(path, "write failed") }
        if fsync(fd) != 0 { throw .errno(path, "fsync failed") }
    }

    /// Reads `count` bytes at `offset` of `path`.
    public static func read(_ path: String, offset: Int = 0, count: Int? = nil) throws(SourceError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        let size = Int(st.st_size)
        let n = count ?? max(0, size - offset)
        guard offset >= 0, offset + n <= size else {
            throw .io(path: path, message: "file is \(size) bytes, cannot read \(n) at \(offset) (truncated?)")
        }
        var out = [UInt8](repeating: 0, count: n)
        var done = 0
        var failure: SourceError?
        out.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            while done < n {
                let r = pread(fd, base + done, n - done, off_t(offset + done))
                if r < 0 {
                    if errno == EINTR { continue }
                    failure = .io(path: path, message: "read failed: " + String(cString: strerror(errno)))
                    return
                }
                if r == 0 {
                    failure = .io(path: path, message: "unexpected end of file")
                    return
                }
                done += r
            }
        }
        if let failure { throw failure }
        return out
    }
}

/// Little-endian encoding helpers for binary records.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func append(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends many values at once (little-endian platforms write the array's memory as it is).
    public mutating func append(contentsOf values: [UInt64]) {
        #if _endian(little)
            values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
            for v in values { append(v) }
        #endif
    }

    public mutating func append(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { u in
            append(UInt32(u.count))
            bytes.append(contentsOf: u)
        }
    }

    /// Overwrites 8 bytes at `offset`.
    public mutating func set(_ v: UInt64, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { raw in
            for (i, b) in raw.enumerated() { bytes[offset + i] = b }
        }
    }
}

/// Reads little-endian records written by ``ByteWriter``; reading past the end is an error.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var position: Int
    public let path: String

    public init(_ bytes: [UInt8], path: String, position: Int = 0) {
        self.bytes = bytes
        self.path = path
        self.position = position
    }

    public var isAtEnd: Bool { position >= bytes.count }

    public mutating func uint64() throws(SourceError) -> UInt64 {
        guard position + 8 <= bytes.count else { throw truncated() }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    public mutating func uint32() throws(SourceError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw truncated() }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    public mutating func string() throws(SourceError) -> String {
        let n = Int(try uint32())
        guard position + n <= bytes.count else { throw truncated() }
        let s = String(decoding: bytes[position..<(position + n)], as: UTF8.self)
        position += n
        return s
    }

    private func truncated() -> SourceError {
        .io(path: path, message: "record file ends early at byte \(position) (corrupt or truncated)")
    }
}

/// A file of numbered sections, as global steps pass data between phases: one section per partition
/// (collect files) or per shard (decision files), each read on its own without reading the others.
///
/// Layout: magic (UInt32), section count (UInt32), count + 1 section offsets (UInt64), then the sections.
public enum SectionedFile {
    /// Writes the sections, in order, under `magic`.
    public static func write(_ sections: [ByteWriter], magic: UInt32, to path: String) throws(SinkError) {
        var w = ByteWriter()
        w.append(magic)
        w.append(UInt32(sections.count))
        var offset = 8 + 8 * (sections.count + 1)
        for s in sections {
            w.append(UInt64(offset))
            offset += s.bytes.count
        }
        w.append(UInt64(offset))
        var bytes = w.bytes
        bytes.reserveCapacity(offset)
        for s in sections { bytes += s.bytes }
        try BinaryFile.write(bytes, to: path)
    }

    /// Section `index` of a file written with `magic` and `count` sections (`nil`: any count).
    ///
    /// - Throws: ``SourceError`` naming the file when it is not such a file, or is truncated.
    public static func section(
        _ index: Int, of path: String, magic: UInt32, count: Int? = nil, what: String = "phase file"
    ) throws(SourceError) -> ByteReader {
        var h = ByteReader(try BinaryFile.read(path, offset: 0, count: 8), path: path)
        let m = try h.uint32(), n = Int(try h.uint32())
        guard m == magic, count == nil || count == n else {
            throw .io(path: path, message: "not a \(what) of this step (written with other settings?)")
        }
        guard index >= 0, index < n else { throw .io(path: path, message: "has no section \(index) (of \(n))") }
        var o = ByteReader(try BinaryFile.read(path, offset: 8 + 8 * index, count: 16), path: path)
        let start = Int(try o.uint64()), end = Int(try o.uint64())
        guard start <= end else { throw .io(path: path, message: "corrupt section table") }
        return ByteReader(try BinaryFile.read(path, offset: start, count: end - start), path: path)
    }
}
