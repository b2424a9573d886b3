import CDarwinJSON
import DarwinCore
import Foundation

/// How a shard file is compressed, from its name.
public enum ShardCompression: String, Sendable, CaseIterable {
    case none
    case gzip
    case zstd

    /// `.zst`/`.zstd` → zstd, `.gz` → gzip, anything else → none.
    public init(path: String) {
        if path.hasSuffix(".zst") || path.hasSuffix(".zstd") {
            self = .zstd
        } else if path.hasSuffix(".gz") {
            self = .gzip
        } else {
            self = .none
        }
    }

    /// Opens a file compressed this way as a stream of its decompressed bytes.
    func openSource(path: String, maxWindow: Int = ShardReader.defaultMaxWindow) throws(SourceError) -> any ByteSource {
        switch self {
        case .zstd: return try ZstdSource(path: path, maxWindow: maxWindow)
        case .gzip: return try GzipSource(path: path)
        case .none: return try PlainSource(path: path)
        }
    }
}

/// Reads the documents of one JSONL shard (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`), streaming.
///
/// Bad input never stops the shard where the format allows going on: malformed JSON, invalid
/// UTF-8, missing `id`/`text`, oversized lines and damaged compressed regions each come back as an
/// ``ErrorRecord`` naming the line and offsets, and reading continues.
public final class ShardReader {
    /// One item read from a shard.
    public enum Item {
        case document(Document)
        case error(ErrorRecord)
    }

    /// The file being read.
    public let path: String
    /// The longest line accepted as a document, in bytes.
    public let maxLineBytes: Int
    /// Lines read (documents, errors and blank lines).
    public private(set) var linesRead = 0
    /// Blank lines skipped.
    public private(set) var blankLines = 0
    /// Documents returned.
    public private(set) var documentsRead = 0
    /// Error records returned.
    public private(set) var errorsRead = 0

    /// Other field names for id, text and URL, and a default source (input.fields, input.source).
    public struct Mapping: Sendable, Equatable {
        public var id = "id"
        public var text = "text"
        public var url: String? = nil
        public var source: String? = nil
        public init(id: String = "id", text: String = "text", url: String? = nil, source: String? = nil) {
            self.id = id
            self.text = text
            self.url = url
            self.source = source
        }
        var isIdentity: Bool { id == "id" && text == "text" && url == nil && source == nil }
    }

    public var mapping = Mapping()
    private let source: ByteSource
    private let lines: LineReader
    private var scratch = [dj_member](repeating: dj_member(), count: 32)

    /// The default cap on a line: 64 MiB.
    public static let defaultMaxLineBytes = 64 << 20

    /// The default largest zstd window a frame may need: 128 MiB (zstd's own default limit, what `zstd -d`
    /// accepts without `--long`).
    public static let defaultMaxWindow = 128 << 20

    /// Opens a shard.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - maxLineBytes: Longer lines become `line_too_long` error records.
    ///   - maxWindow: The largest zstd window a frame may need (a power of two); a frame that needs more is
    ///     a `window_too_large` error record.
    /// - Throws: ``SourceError/io(path:message:)`` when the file cannot be opened.
    public init(
        path: String, maxLineBytes: Int = ShardReader.defaultMaxLineBytes, maxWindow: Int = ShardReader.defaultMaxWindow
    ) throws(SourceError) {
        self.path = path
        self.maxLineBytes = maxLineBytes
        source = try ShardCompression(path: path).openSource(path: path, maxWindow: maxWindow)
        lines = LineReader(source: source, maxLineBytes: maxLineBytes)
    }

    /// Decompressed bytes read so far.
    public var bytesRead: Int { lines.bytesRead }

    /// Current size of the line buffer, for memory checks.
    var lineBufferCapacity: Int { lines.bufferCapacity }

    /// Bytes of the file consumed so far.
    public var fileBytesRead: Int { source.fileOffset }

    /// Hashes the file's bytes (XXH3-128) as they are read, for ``contentHash()``; call before the first
    /// ``next()``.
    public func hashContent() {
        source.file.tap = StreamingHash128()
    }

    /// The XXH3-128 of every byte of the file, as 32 hex digits, once the shard has been read (the rest of
    /// the file is read first if needed); `nil` without ``hashContent()``.
    public func contentHash() throws(SourceError) -> String? {
        guard let tap = source.file.tap else { return nil }
        try source.file.drain()
        return tap.hexDigest
    }

    /// The next document or error record, or `nil` at the end of the shard.
    ///
    /// - Throws: ``SourceError/io(path:message:)`` when the operating system fails a read.
    public func next() throws(SourceError) -> Item? {
        while let event = try lines.next() {
            switch event {
            case .line(let bytes, let number, let offset):
                linesRead += 1
                if isBlank(bytes) {
                    blankLines += 1
                    continue
                }
                do throws(DocumentError) {
                    var doc = try Document.parse(bytes, scratch: &scratch, idKey: mapping.id, textKey: mapping.text)
                    if !mapping.isIdentity { applyMapping(&doc) }
                    documentsRead += 1
                    return .document(doc)
                } catch {
                    errorsRead += 1
                    return .error(
                        ErrorRecord(
                            shard: path, line: number, offset: offset, fileOffset: nil,
                            kind: error.kind, message: "line \(number): \(error.description)",
                            raw: Array(bytes), rawLength: bytes.count))
                }
            case .oversized(let number, let offset, let length, let prefix):
                linesRead += 1
                errorsRead += 1
                return .error(
                    ErrorRecord(
                        shard: path, line: number, offset: offset, fileOffset: nil, kind: "line_too_long",
                        message: "line \(number) is \(length) bytes, over the \(maxLineBytes)-byte cap",
                        raw: prefix, rawLength: length))
            case .sourceError(let e, let number, let offset):
                errorsRead += 1
                return .error(
                    ErrorRecord(
                        shard: path, line: number, offset: offset, fileOffset: e.fileOffset, kind: e.kind,
                        message: e.description + " (while reading line \(number))", raw: [], rawLength: 0))
            }
        }
        return nil
    }

    private func applyMapping(_ doc: inout Document) {
        if let path = mapping.url, doc.value(atPath: "url") == nil, let v = doc.value(atPath: path) {
            doc.setValue(v, atPath: "url")
        }
        if let s = mapping.source, doc.value(atPath: "source") == nil { doc.setValue(.string(s), atPath: "source") }
    }

    private func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for b in bytes where b != 0x20 && b != 0x09 && b != 0x0D { return false }
        return true
    }
}

/// Input that could not become a document: where it was and why.
public struct ErrorRecord: Sendable, Equatable {
    /// The input file.
    public let shard: String
    /// 1-based line number.
    public let line: Int
    /// Offset of the line in the decompressed stream.
    public let offset: Int
    /// Offset in the compressed file, for decompression errors.
    public let fileOffset: Int?
    /// snake_case kind (`malformed_json`, `invalid_utf8`, `missing_id`, `truncated_stream`, …).
    public let kind: String
    /// A one-line lower-case description.
    public let message: String
    /// The bad line (may be invalid UTF-8); only its first 4 KiB for a line over the length cap.
    public let raw: [UInt8]
    /// The bad line's full length.
    public let rawLength: Int

    public init(
        shard: String, line: Int, offset: Int, fileOffset: Int?, kind: String, message: String, raw: [UInt8],
        rawLength: Int
    ) {
        self.shard = shard
        self.line = line
        self.offset = offset
        self.fileOffset = fileOffset
        self.kind = kind
        self.message = message
        self.raw = raw
        self.rawLength = rawLength
    }

    /// The record as a JSON object, as written to `_errors/` shards.
    ///
    /// `raw` is the line decoded leniently (invalid bytes become U+FFFD); `raw_base64` keeps the exact
    /// bytes when they are not valid UTF-8, so nothing of the input is lost.
    public var json: JSONValue {
        var o = JSONObject([
            (key: "shard", value: .string(shard)), (key: "line", value: .number(JSONNumber(line))),
            (key: "offset", value: .number(JSONNumber(offset))),
        ])
        if let fileOffset { o["file_offset"] = .number(JSONNumber(fileOffset)) }
        o["kind"] = .string(kind)
        o["error"] = .string(message)
        if !raw.isEmpty {
            let valid = raw.withUnsafeBufferPointer { dj_validate_utf8($0.baseAddress, $0.count) } == raw.count
            o["raw"] = .string(String(decoding: raw, as: UTF8.self))
            if !valid { o["raw_base64"] = .string(Data(raw).base64EncodedString()) }
        }
        o["raw_length"] = .number(JSONNumber(rawLength))
        if raw.count < rawLength { o["raw_truncated"] = .bool(true) }
        return .object(o)
    }
}
