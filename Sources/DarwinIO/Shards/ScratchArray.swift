#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A fixed-size array of plain values, zero-filled, held either on the heap or in a memory-mapped scratch file.
///
/// A step with a memory budget puts its large working arrays here: within the budget they live on the heap;
/// beyond it they live in a file the kernel pages in and out, so the process's own memory stays bounded and
/// the resident part is page cache the kernel can reclaim. The file is unlinked as soon as it is mapped, so
/// nothing is left behind however the process ends.
public final class ScratchArray<Element: BitwiseCopyable> {
    public let count: Int
    public let base: UnsafeMutablePointer<Element>
    private let mappedBytes: Int

    /// `file`: where to map the array (`nil`: on the heap).
    public init(count: Int, file: String?) throws(SinkError) {
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Element>.stride
        if let file {
            let fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .errno(file, "cannot create scratch file") }
            defer { close(fd) }
            unlink(file)
            guard ftruncate(fd, off_t(bytes)) == 0 else { throw .errno(file, "cannot size scratch file") }
            let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            guard let p, p != MAP_FAILED else { throw .errno(file, "cannot map scratch file") }
            base = p.bindMemory(to: Element.self, capacity: max(1, count))
            mappedBytes = bytes
        } else {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: MemoryLayout<Element>.alignment)
            memset(raw, 0, bytes)
            base = raw.bindMemory(to: Element.self, capacity: max(1, count))
            mappedBytes = 0
        }
    }

    deinit {
        if mappedBytes > 0 {
            munmap(UnsafeMutableRawPointer(base), mappedBytes)
        } else {
            UnsafeMutableRawPointer(base).deallocate()
        }
    }

    /// Whether the array lives in a mapped file.
    public var isMapped: Bool { mappedBytes > 0 }

    @inline(__always) public subscript(i: Int) -> Element {
        get { base[i] }
        set { base[i] = newValue }
    }
}

/// Strings appended one after another and read back by offset, on the heap or in an unlinked scratch file.
public final class ScratchStrings {
    /// Strings as ``ByteWriter`` writes them (a 4-byte length, then the UTF-8).
    private var heap = ByteWriter()
    private let fd: Int32
    private let path: String
    private var pending = ByteWriter()
    private var written = 0
    private var mapped: UnsafeRawBufferPointer?

    /// `file`: where to keep the strings (`nil`: on the heap).
    public init(file: String?) throws(SinkError) {
        path = file ?? ""
        if let file {
            fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw .errno(file, "cannot create scratch file") }
            unlink(file)
        } else {
            fd = -1
        }
    }

    deinit {
        if let mapped, let b = mapped.baseAddress { munmap(UnsafeMutableRawPointer(mutating: b), mapped.count) }
        if fd >= 0 { close(fd) }
    }

    /// Appends `s`; returns the offset to read it back from.
    public func append(_ s: String) throws(SinkError) -> UInt64 {
        if fd < 0 {
            let at = heap.bytes.count
            heap.append(s)
            return UInt64(at)
        }
        let at = written + pending.bytes.count
        pending.append(s)
        if pending.bytes.count >= 1 << 20 { try flush() }
        return UInt64(at)
    }

    private func flush() throws(SinkError) {
        guard !pending.bytes.isEmpty else { return }
        try BinaryFile.writeFully(fd, pending.bytes, at: written, path: path)
        written += pending.bytes.count
        pending = ByteWriter(capacity: 1 << 20)
    }

    /// Ends appending; strings can be read from here on.
    public func seal() throws(SinkError) {
        guard fd >= 0, mapped == nil else { return }
        try flush()
        guard written > 0 else { return }
        let p = mmap(nil, written, PROT_READ, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw .errno(path, "cannot map scratch file") }
        mapped = UnsafeRawBufferPointer(start: p, count: written)
    }

    /// The string appended at `offset` (after ``seal()``).
    public func string(at offset: UInt64) -> String {
        let o = Int(offset)
        func read(_ b: UnsafeRawBufferPointer) -> String {
            var n = 0
            for i in 0..<4 { n |= Int(b[o + i]) << (8 * i) }
            return String(decoding: UnsafeRawBufferPointer(rebasing: b[(o + 4)..<(o + 4 + n)]), as: UTF8.self)
        }
        if fd < 0 { return heap.bytes.withUnsafeBytes(read) }
        guard let mapped else { return "" }
        return read(mapped)
    }
}
