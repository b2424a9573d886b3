import DarwinCore
import DarwinIO
import Foundation

/// What a fastText model file says about itself before its matrices: that it is a fastText model of a version
/// darwin reads, whether it is a classifier, and its labels — read without loading the model, so that a recipe
/// is checked without the cost of opening what it names.
///
/// The layout (fastText `FastText::loadModel`): magic 793712314 and version 12 (int32 each), the training
/// arguments (12 int32 and a double; the 8th is the model kind, 3 = supervised), then the dictionary: size,
/// word and label counts (int32), token and prune-index counts (int64), and per entry a NUL-terminated word,
/// a count (int64) and a type (int8, 1 = label).
struct FastTextHeader {
    let isSupervised: Bool
    /// Labels without the `__label__` prefix, in the model's order.
    let labels: [String]

    static let magic: Int32 = 793_712_314
    static let version: Int32 = 12

    /// Reads the header of the model at `path`.
    ///
    /// - Throws: ``ParameterError`` for `parameter` naming the file and what is wrong with it.
    init(path: String, parameter: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ParameterError(parameter, "model file \(path) does not exist")
        }
        defer { try? handle.close() }
        var reader = Reader(handle: handle, path: path, parameter: parameter)
        guard try reader.int32() == Self.magic, try reader.int32() == Self.version else {
            throw ParameterError(
                parameter, "cannot load fastText model \(path): not a fastText model (wrong magic number or version)")
        }
        var arguments: [Int32] = []
        for _ in 0..<12 { arguments.append(try reader.int32()) }
        _ = try reader.bytes(8)  // t (double)
        isSupervised = arguments[7] == 3
        let size = Int(try reader.int32())
        _ = try reader.int32()  // words
        let labelCount = Int(try reader.int32())
        _ = try reader.bytes(8)  // tokens
        let pruneIndexSize = try reader.int64()
        guard size >= 0, labelCount >= 0, labelCount <= size else {
            throw ParameterError(parameter, "\(path): the dictionary header is damaged (truncated model?)")
        }
        var labels: [String] = []
        for _ in 0..<size {
            let word = try reader.cString()
            _ = try reader.bytes(8)
            if try reader.bytes(1).first == 1 {
                labels.append(word.hasPrefix("__label__") ? String(word.dropFirst(9)) : word)
            }
        }
        self.labels = labels
        // The matrices are skipped, not read: their headers say how long they are, and the file must end
        // exactly after them.
        // -1 when the dictionary was never pruned.
        if pruneIndexSize > 0 { try reader.skip(8 * Int(pruneIndexSize)) }
        for _ in 0..<2 { try reader.skipMatrix() }
        guard try reader.atEnd() else {
            throw ParameterError(parameter, "cannot load fastText model \(path): unexpected bytes after the model")
        }
    }

    /// Buffered reads from the file; running out is a truncated model.
    private struct Reader {
        let handle: FileHandle
        let path: String
        let parameter: String
        var buffer: [UInt8] = []
        var position = 0

        init(handle: FileHandle, path: String, parameter: String) {
            self.handle = handle
            self.path = path
            self.parameter = parameter
        }

        mutating func need(_ n: Int) throws {
            while buffer.count - position < n {
                let more = (try? handle.read(upToCount: 1 << 20)) ?? nil
                guard let more, !more.isEmpty else { throw truncated() }
                buffer = Array(buffer[position...]) + more
                position = 0
            }
        }

        mutating func bytes(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0 else { throw truncated() }
            try need(n)
            defer { position += n }
            return buffer[position..<(position + n)]
        }

        mutating func int64() throws -> Int64 {
            let b = try bytes(8)
            return Int64(bitPattern: b.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) })
        }

        /// Skips `n` bytes without reading them.
        mutating func skip(_ n: Int) throws {
            guard n >= 0 else { throw truncated() }
            let buffered = buffer.count - position
            if n <= buffered {
                position += n
                return
            }
            let target = (try? handle.offset()).map { Int($0) + (n - buffered) } ?? -1
            let size = (try? handle.seekToEnd()).map(Int.init) ?? -1
            guard target >= 0, target <= size else { throw truncated() }
            try? handle.seek(toOffset: UInt64(target))
            buffer = []
            position = 0
        }

        mutating func atEnd() throws -> Bool {
            guard buffer.count == position else { return false }
            let more = (try? handle.read(upToCount: 1)) ?? nil
            return more?.isEmpty ?? true
        }

        /// Skips a dense or product-quantized matrix (fastText `DenseMatrix::load`, `QuantMatrix::load`).
        mutating func skipMatrix() throws {
            let quantized = try bytes(1).first == 1
            if !quantized {
                let m = try int64(), n = try int64()
                guard m >= 0, n >= 0, m < 1 << 40, n < 1 << 20 else { throw truncated() }
                try skip(Int(m * n) * 4)
                return
            }
            let normalized = try bytes(1).first == 1
            let m = try int64()
            _ = try int64()
            let codeSize = try int32()
            try skip(Int(codeSize))
            try skipQuantizer()
            if normalized {
                try skip(Int(m))
                try skipQuantizer()
            }
        }

        private mutating func skipQuantizer() throws {
            let dim = try int32()
            _ = try int32()
            _ = try int32()
            _ = try int32()
            try skip(Int(dim) * 256 * 4)
        }

        private func truncated() -> ParameterError {
            ParameterError(parameter, "cannot load fastText model \(path): the file ends early (truncated model)")
        }

        mutating func int32() throws -> Int32 {
            let b = try bytes(4)
            return Int32(bitPattern: b.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) })
        }

        mutating func cString() throws -> String {
            var out: [UInt8] = []
            while true {
                guard let b = try bytes(1).first else { continue }
                if b == 0 { return String(decoding: out, as: UTF8.self) }
                out.append(b)
                if out.count > 1 << 20 {
                    throw ParameterError(parameter, "\(path): a dictionary word over 1 MiB (not a fastText model?)")
                }
            }
        }
    }
}
