import Foundation

/// Writes a binary file in one go and `fsync`s it (for the small index files passed between phases).
public enum BinaryFile {
    /// Writes `bytes` to `path` (created or truncated) and syncs it to disk.
    public static func write(_ bytes: [UInt8], to path: String) throws(SinkError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(path, "cannot create") }
        defer { close(fd) }
        try writeFully(fd, bytes, at: 0, path: path)
        if fsync(fd) != 0 { throw .errno(path, "fsync failed") }
    }

    /// The size of the file at `path` in bytes (0 when it cannot be read).
    public static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
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
        var failure: SourceError?
        out.withUnsafeMutableBytes { raw in
            do throws(SourceError) { try readFully(fd, into: raw, at: offset, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
        return out
    }

    /// `pwrite` until every byte is written (retrying on EINTR).
    static func writeFully(_ fd: Int32, _ bytes: [UInt8], at position: Int, path: String) throws(SinkError) {
        var done = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            while done < raw.count {
                let r = pwrite(fd, base + done, raw.count - done, off_t(position + done))
                if r < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += r
            }
            return true
        }
        if !ok { throw .errno(path, "write failed") }
    }

    /// `pread` until `buffer` is full (retrying on EINTR); the file ending first is an error.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at position: Int, path: String)
        throws(SourceError)
    {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let r = pread(fd, base + done, buffer.count - done, off_t(position + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, message: "read failed: " + String(cString: strerror(errno)))
            }
            if r == 0 { throw .io(path: path, message: "unexpected end of file (truncated?)") }
            done += r
        }
    }
}

public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func append(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A writer holding these values.
    public init(values: [UInt64]) {
        bytes.reserveCapacity(values.count * 8)
        append(contentsOf: values)
    }

    /// Appends many values at once (little-endian platforms write the array's memory as it is).
    /// Raw bytes, as they are.
    public mutating func appendBytes(_ b: [UInt8]) { bytes += b }

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
        let w = try SectionedFileWriter(path: path, magic: magic, sections: sections.count)
        for section in sections {
            try w.append(bytes: section.bytes)
            try w.endSection()
        }
        try w.finish()
    }

    /// Section `index` of a file written with `magic` and `count` sections (`nil`: any count).
    ///
    /// - Throws: ``SourceError`` naming the file when it is not such a file, or is truncated.
    public static func section(
        _ index: Int, of path: String, magic: UInt32, count: Int? = nil, what: String = "phase file"
    ) throws(SourceError) -> ByteReader {
        let r = try bounds(index, of: path, magic: magic, count: count, what: what)
        return ByteReader(try BinaryFile.read(path, offset: r.lowerBound, count: r.count), path: path)
    }

    /// The byte range of section `index`, from the file's table.
    static func bounds(_ index: Int, of path: String, magic: UInt32, count: Int?, what: String) throws(SourceError)
        -> Range<Int>
    {
        var h = ByteReader(try BinaryFile.read(path, offset: 0, count: 8), path: path)
        let m = try h.uint32(), n = Int(try h.uint32())
        guard m == magic, count == nil || count == n else {
            throw .io(path: path, message: "not a \(what) of this step (written with other settings?)")
        }
        guard index >= 0, index < n else { throw .io(path: path, message: "has no section \(index) (of \(n))") }
        var o = ByteReader(try BinaryFile.read(path, offset: 8 + 8 * index, count: 16), path: path)
        let start = Int(try o.uint64()), end = Int(try o.uint64())
        guard start <= end else { throw .io(path: path, message: "corrupt section table") }
        return start..<end
    }
}

/// Reads one section of a ``SectionedFile`` as a stream of little-endian values, a chunk at a time, so that
/// memory stays at the chunk size however large the section is.
public final class SectionStream {
    public let path: String
    private let fd: Int32
    private var offset: Int
    private let end: Int
    private var buffer: [UInt8]
    private var position = 0
    private var filled = 0

    /// Section `index` of a file written with `magic` and `count` sections (`nil`: any count).
    public init(
        _ index: Int, of path: String, magic: UInt32, count: Int? = nil, what: String = "phase file",
        chunk: Int = 1 << 20
    ) throws(SourceError) {
        let range = try SectionedFile.bounds(index, of: path, magic: magic, count: count, what: what)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
        self.path = path
        self.fd = fd
        self.offset = range.lowerBound
        self.end = range.upperBound
        self.buffer = [UInt8](repeating: 0, count: max(64, chunk))
    }

    deinit { close(fd) }

    /// Whether every value has been read.
    public var isAtEnd: Bool { position >= filled && offset >= end }

    private func refill(_ need: Int) throws(SourceError) {
        // Keep the unread tail, then read up to a chunk more.
        let tail = filled - position
        if tail > 0 && position > 0 {
            for i in 0..<tail { buffer[i] = buffer[position + i] }
        }
        position = 0
        filled = tail
        let want = min(buffer.count - filled, end - offset)
        let (fd, at, start) = (self.fd, offset, filled)
        var failure: SourceError?
        buffer.withUnsafeMutableBytes { raw in
            do throws(SourceError) {
                try BinaryFile.readFully(
                    fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + want)]),
                    at: at, path: path)
            } catch { failure = error }
        }
        if let failure { throw failure }
        offset += want
        filled += want
        if filled < need { throw .io(path: path, message: "section ends inside a record (truncated?)") }
    }

    public func uint64() throws(SourceError) -> UInt64 {
        if filled - position < 8 { try refill(8) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(buffer[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    public func string() throws(SourceError) -> String {
        if filled - position < 4 { try refill(4) }
        var n = 0
        for i in 0..<4 { n |= Int(buffer[position + i]) << (8 * i) }
        position += 4
        if filled - position < n {
            if n > buffer.count { buffer += [UInt8](repeating: 0, count: n) }
            try refill(n)
        }
        let s = String(decoding: buffer[position..<(position + n)], as: UTF8.self)
        position += n
        return s
    }
}

/// Writes a ``SectionedFile`` section after section without holding it in memory: the sections are appended
/// as they come (through a buffer) and the offset table is written last.
public final class SectionedFileWriter {
    public let path: String
    private let fd: Int32
    private let magic: UInt32
    private let count: Int
    private var offsets: [UInt64] = []
    private var written: Int
    private var buffer = ByteWriter(capacity: 1 << 20)

    /// Creates (or truncates) `path` for `count` sections.
    public init(path: String, magic: UInt32, sections count: Int) throws(SinkError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .errno(path, "cannot create") }
        self.path = path
        self.fd = fd
        self.magic = magic
        self.count = count
        written = 8 + 8 * (count + 1)
        offsets = [UInt64(written)]
    }

    deinit { close(fd) }

    /// Appends to the current section.
    public func append(_ v: UInt64) throws(SinkError) {
        buffer.append(v)
        if buffer.bytes.count >= 1 << 20 { try flush() }
    }

    public func append(_ s: String) throws(SinkError) {
        buffer.append(s)
        if buffer.bytes.count >= 1 << 20 { try flush() }
    }

    /// Appends raw bytes to the current section.
    public func append(bytes: [UInt8]) throws(SinkError) {
        try flush()
        try BinaryFile.writeFully(fd, bytes, at: written, path: path)
        written += bytes.count
    }

    /// Ends the current section; the next values go to the next one.
    public func endSection() throws(SinkError) {
        try flush()
        offsets.append(UInt64(written))
    }

    private func flush() throws(SinkError) {
        let bytes = buffer.bytes
        guard !bytes.isEmpty else { return }
        try BinaryFile.writeFully(fd, bytes, at: written, path: path)
        written += bytes.count
        buffer = ByteWriter(capacity: 1 << 20)
    }

    /// Writes the offset table and syncs the file; every section must have been ended.
    public func finish() throws(SinkError) {
        try flush()
        guard offsets.count == count + 1 else {
            throw SinkError(path: path, message: "\(offsets.count - 1) sections written, \(count) declared")
        }
        var h = ByteWriter()
        h.append(magic)
        h.append(UInt32(count))
        for o in offsets { h.append(o) }
        try BinaryFile.writeFully(fd, h.bytes, at: 0, path: path)
        if fsync(fd) != 0 { throw .errno(path, "fsync failed") }
    }
}
