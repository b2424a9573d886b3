import DarwinCore
import Foundation

/// What identifies the content of an input file (or of a group of files) without trusting its name.
///
/// Size and modification time are read from the file system for free; the sample hash reads the first
/// and last 64 KiB; the content hash reads every byte (XXH3-128, several GB/s, so about the cost of a
/// cold read of the file). See ``InputShardRecord`` in provenance for how a job uses them.
public struct FileFingerprint: Sendable, Equatable {
    /// Bytes (summed over a group).
    public var size: Int
    /// Modification time in nanoseconds since 1970 (the latest of a group).
    public var modifiedNanoseconds: Int64

    public init(size: Int, modifiedNanoseconds: Int64) {
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
    }

    /// Bytes hashed at each end of a file by ``sampleHash(_:)``.
    public static let sampleBytes = 64 << 10

    /// Size and modification time of the files (one, or a `files` shard's group).
    ///
    /// - Throws: ``SourceError/io(path:message:)`` naming a file that cannot be read.
    public static func of(_ paths: [String]) throws(SourceError) -> FileFingerprint {
        var total = FileFingerprint(size: 0, modifiedNanoseconds: 0)
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw .io(path: path, message: String(cString: strerror(errno)))
            }
            total.size += Int(st.st_size)
            let ns = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            total.modifiedNanoseconds = max(total.modifiedNanoseconds, ns)
        }
        return total
    }

    /// XXH3-128 of each file's size and first and last ``sampleBytes`` bytes, as 32 hex digits.
    public static func sampleHash(_ paths: [String]) throws(SourceError) -> String {
        let hash = StreamingHash128()
        for path in paths {
            let size = try of([path]).size
            var header = ByteWriter()
            header.append(UInt64(size))
            header.bytes.withUnsafeBytes { hash.update($0) }
            let head = try BinaryFile.read(path, offset: 0, count: min(size, sampleBytes))
            head.withUnsafeBytes { hash.update($0) }
            if size > sampleBytes {
                let start = max(sampleBytes, size - sampleBytes)
                let tail = try BinaryFile.read(path, offset: start, count: size - start)
                tail.withUnsafeBytes { hash.update($0) }
            }
        }
        return hash.hexDigest
    }

    /// XXH3-128 of every byte of the files, in order (for a group, each file's size comes first), as 32 hex
    /// digits. Reads in 1 MiB blocks.
    public static func contentHash(_ paths: [String]) throws(SourceError) -> String {
        let hash = StreamingHash128()
        let grouped = paths.count > 1
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw .io(path: path, message: String(cString: strerror(errno))) }
            defer { close(fd) }
            if grouped {
                var header = ByteWriter()
                header.append(UInt64(try of([path]).size))
                header.bytes.withUnsafeBytes { hash.update($0) }
            }
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .io(path: path, message: "read failed: " + String(cString: strerror(errno)))
                }
                if n == 0 { break }
                buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        return hash.hexDigest
    }
}
