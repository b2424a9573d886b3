import CZlib
import DarwinCore
import Foundation

/// Reads a WARC or WET file (`.warc`, `.warc.gz` with one gzip member per record, `.wet`, `.wet.gz`),
/// streaming, one document per HTML response record (or per WET conversion record).
///
/// A response's HTTP headers give the content type and charset; records of other content types, HTTP
/// statuses other than 2xx, requests, metadata, revisits and warcinfo are skipped and counted. The page is
/// decoded to UTF-8 (HTTP charset, BOM, `<meta>`, then detection).
///
/// A damaged record — a bad version line, a missing or wrong `Content-Length` (one that does not end at the
/// record's CR LF CR LF), a truncated or corrupt gzip member — becomes one error record whose `offset` is the
/// record's first byte (`file_offset`: that byte in a plain file, the start of its gzip member in a `.gz`
/// file). Reading then goes on at the next record header after the damaged record's first line: a
/// `WARC/<major>.<minor>` line at a line start followed by header lines and a blank line, or, after a damaged
/// gzip member, the next member. A wrong `Content-Length` is found only after its block has been read, so
/// the reader goes back to the record (within its buffer, or by seeking the file, or decoding the record's
/// gzip member again) and scans from there, streaming.
public final class WARCReader: DocumentReader {
    public let path: String
    public let options: RawInputOptions
    public private(set) var counters: [String: Int] = [:]

    private let source: ByteSource
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var position = 0
    private var filled = 0
    /// Decompressed bytes before `buffer[0]`.
    private var base = 0
    private var atEnd = false
    /// A source error met while filling the buffer, reported with the record it broke.
    private var sourceError: SourceError?
    /// The file name, for ids and provenance.
    private let fileName: String
    /// A record header block longer than this is damaged (real ones are a few hundred bytes).
    static let maxHeaderBytes = 1 << 18

    public init(path: String, options: RawInputOptions) throws(SourceError) {
        self.path = path
        self.options = options
        source =
            path.hasSuffix(".gz") ? try GzipSource(path: path, tracksMembers: true) : try PlainSource(path: path)
        fileName = (path as NSString).lastPathComponent
    }

    public var fileBytesRead: Int { source.fileOffset }

    private var offset: Int { base + position }

    /// The size of the read buffer, for memory checks.
    var bufferCapacity: Int { buffer.count }

    // MARK: - Buffer

    /// Makes at least `n` bytes available; false if the stream ends (or breaks) first.
    private func fill(_ n: Int) throws(SourceError) -> Bool {
        if filled - position >= n { return true }
        if atEnd || sourceError != nil { return false }
        if position > 0 {
            let tail = filled - position
            if tail > 0 {
                let from = position
                buffer.withUnsafeMutableBytes { raw in
                    guard let b = raw.baseAddress else { return }
                    b.copyMemory(from: b + from, byteCount: tail)
                }
            }
            base += position
            filled = tail
            position = 0
            source.forgetRestartPoints(before: base)
        }
        if buffer.count < n { buffer += [UInt8](repeating: 0, count: n - buffer.count) }
        while filled < n {
            var got = 0
            var failure: SourceError?
            let start = filled
            buffer.withUnsafeMutableBytes { raw in
                do throws(SourceError) {
                    got = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
                } catch { failure = error }
            }
            if let failure {
                if case .io = failure { throw failure }
                sourceError = failure
                return false
            }
            if got == 0 {
                atEnd = true
                return filled - position >= n
            }
            filled += got
        }
        return true
    }

    /// One line without its CR LF; nil at the end of the stream. Lines over 64 KB are cut.
    private func line() throws(SourceError) -> [UInt8]? {
        var scanned = 0
        while true {
            let found: Int? = buffer.withUnsafeBytes { raw in
                guard filled - position - scanned > 0, let b = raw.baseAddress else { return nil }
                let p = memchr(b + position + scanned, 0x0A, filled - position - scanned)
                return p.map { b.distance(to: $0) }
            }
            if let nl = found {
                var end = nl
                if end > position && buffer[end - 1] == 0x0D { end -= 1 }
                let l = Array(buffer[position..<end])
                position = nl + 1
                return l
            }
            scanned = filled - position
            let more = scanned < 1 << 16 ? try fill(scanned + 1) : false
            if !more {
                if filled == position { return nil }
                let l = Array(buffer[position..<filled])
                position = filled
                return l
            }
        }
    }

    /// Up to `count` bytes (fewer only if the stream ends or breaks).
    private func bytes(_ count: Int) throws(SourceError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(count, 1 << 24))
        var left = count
        while left > 0 {
            if filled == position, !(try fill(1)) { break }
            let n = min(left, filled - position)
            out += buffer[position..<(position + n)]
            position += n
            left -= n
        }
        return out
    }

    /// Skips `count` bytes; returns how many were skipped.
    private func skip(_ count: Int) throws(SourceError) -> Int {
        var left = count
        while left > 0 {
            if filled == position, !(try fill(1)) { break }
            let n = min(left, filled - position)
            position += n
            left -= n
        }
        return count - left
    }

    // MARK: - Records

    /// Where a record begins: its decompressed offset, and where decoding can start again to reach it.
    private struct RecordStart {
        var offset: Int
        var restart: SourcePosition?
    }

    public func next() throws(SourceError) -> ShardReader.Item? {
        while true {
            if sourceError != nil { return .error(broken(nil)) }
            guard let first = try headerLine() else {
                if sourceError != nil { continue }
                return nil
            }
            let record = RecordStart(offset: first.offset, restart: source.restartPoint(forOutput: first.offset))
            let at = record.offset
            if sourceError != nil { return .error(broken(record)) }
            guard Self.isVersionLine(first.line) else {
                let shown = String(decoding: first.line.prefix(40), as: UTF8.self)
                return .error(try damaged(record, "not a WARC record header at byte \(at): '\(shown)'"))
            }
            var headers: [String: String] = [:]
            var headerEnded = false
            while let l = try line() {
                if l.isEmpty {
                    headerEnded = true
                    break
                }
                Self.addHeader(l[...], to: &headers)
                if offset - at > Self.maxHeaderBytes { break }
            }
            if sourceError != nil { return .error(broken(record)) }
            guard headerEnded else {
                return .error(
                    try damaged(
                        record, "WARC record at byte \(at) has no blank line within \(Self.maxHeaderBytes) bytes",
                        orTruncated: "WARC record at byte \(at) is truncated: the file ends in its header"))
            }
            guard let lengthText = headers["content-length"], let length = Int(lengthText), length >= 0 else {
                let found = headers["content-length"].map { "'\($0.prefix(40))'" } ?? "none"
                return .error(
                    try damaged(record, "WARC record at byte \(at) has no valid Content-Length (found \(found))"))
            }
            let type = headers["warc-type"] ?? "unknown"
            let wanted = type == "response" || type == "resource" || type == "conversion"
            let keep = min(length, options.maxDocumentBytes + (type == "response" ? 1 << 16 : 0))
            var block: [UInt8] = []
            let blockStart = offset
            if wanted {
                block = try bytes(keep)
                if block.count == keep && length > keep {
                    _ = try skip(length - keep)
                }
            } else {
                _ = try skip(length)
            }
            if sourceError != nil { return .error(broken(record)) }
            let got = offset - blockStart
            if got < length {
                return .error(
                    try damaged(
                        record,
                        "WARC record at byte \(at): its Content-Length (\(length)) runs past the end of the file",
                        orTruncated:
                            "WARC record at byte \(at) is truncated: the file ends after \(got) of its \(length) bytes")
                )
            }
            guard try recordEnds() else {
                return .error(
                    try damaged(
                        record,
                        "WARC record at byte \(at): its Content-Length (\(length)) does not end the record "
                            + "(no CR LF CR LF after the block)"))
            }
            counters["records." + type, default: 0] += 1
            guard wanted else { continue }
            if let item = document(type: type, headers: headers, block: block, fullLength: length, at: at) {
                return item
            }
        }
    }

    /// The next non-blank line and its offset.
    private func headerLine() throws(SourceError) -> (line: [UInt8], offset: Int)? {
        while true {
            let at = offset
            guard let l = try line() else { return nil }
            if l.isEmpty { continue }
            return (l, at)
        }
    }

    /// Whether the block just read ends its record, consuming the end: CR LF CR LF (LF LF from careless
    /// writers), or fewer line ends right before the next `WARC/` line or the end of the data.
    ///
    /// A `Content-Length` too large or too small puts the end of the block elsewhere, almost never before
    /// one of these.
    private func recordEnds() throws(SourceError) -> Bool {
        let complete = !(try fill(9))
        let n = min(filled - position, 9)
        let end: Int? = buffer.withUnsafeBytes { raw in
            let b = UnsafeRawBufferPointer(rebasing: raw[position..<(position + n)])
            let (cr, lf): (UInt8, UInt8) = (0x0D, 0x0A)
            if n >= 4 && b[0] == cr && b[1] == lf && b[2] == cr && b[3] == lf { return 4 }
            if n >= 2 && b[0] == lf && b[1] == lf { return 2 }
            if complete && b.allSatisfy({ $0 == cr || $0 == lf }) { return n }
            let lineEnd = n >= 2 && b[0] == cr && b[1] == lf ? 2 : n >= 1 && b[0] == lf ? 1 : 0
            return b.dropFirst(lineEnd).starts(with: Self.versionPrefix) ? lineEnd : nil
        }
        guard let end else { return false }
        position += end
        return true
    }

    // MARK: - Damaged records

    /// The record at `record` is damaged (not a stream problem): names it, and moves to the next record header
    /// after its first line.
    ///
    /// - Parameters:
    ///   - message: What is wrong; where reading goes on is added.
    ///   - truncated: Said instead, as `truncated_warc`, when no record header follows (the file was cut).
    private func damaged(_ record: RecordStart, _ message: String, orTruncated truncated: String? = nil)
        throws(SourceError) -> ErrorRecord
    {
        if try rewind(to: record) { _ = try line() }
        let next = try resync()
        if let truncated, next == nil {
            return self.record(kind: "truncated_warc", at: record.offset, fileOffset: record.restart?.file, truncated)
        }
        let resumed = next.map { "; reading goes on at the next record, byte \($0)" } ?? ""
        return self.record(
            kind: "malformed_warc", at: record.offset, fileOffset: record.restart?.file, message + resumed)
    }

    /// Puts the read position back at the start of `record`; false if the source cannot go back that far.
    private func rewind(to record: RecordStart) throws(SourceError) -> Bool {
        if record.offset >= base && record.offset <= base + filled {
            position = record.offset - base
            return true
        }
        guard let point = record.restart, point.output <= record.offset else { return false }
        try source.restart(at: point)
        base = point.output
        position = 0
        filled = 0
        atEnd = false
        sourceError = nil
        let gap = record.offset - point.output
        return try skip(gap) == gap
    }

    private static let versionPrefix = Array("WARC/".utf8)

    /// Skips to the next record header: a `WARC/<major>.<minor>` line at a line start, followed by header
    /// lines and a blank line. Returns its offset, or nil at the end of the data (everything skipped).
    ///
    /// Streams: only the bytes being looked at (at most a header block) are held.
    private func resync() throws(SourceError) -> Int? {
        while true {
            let candidate: Int? = buffer.withUnsafeBytes { raw in
                guard let b = raw.baseAddress else { return nil }
                var p = max(position, 1)
                while p + 5 <= filled {
                    guard let hit = memchr(b + p, Int32(UInt8(ascii: "W")), filled - p) else { return nil }
                    let i = b.distance(to: hit)
                    if i + 5 > filled { return nil }
                    if raw[i - 1] == 0x0A, memcmp(b + i, "WARC/", 5) == 0 { return i }
                    p = i + 1
                }
                return nil
            }
            if let i = candidate {
                position = i
                if try isHeaderBlock() { return offset }
                position += 1
                continue
            }
            // Keep the last bytes, which may begin a header, and the byte before them.
            position = max(position, filled - 5)
            guard try fill(filled - position + 1) else {
                position = filled
                return nil
            }
        }
    }

    /// Whether the bytes at `position` are a whole record header block (reading more as needed).
    private func isHeaderBlock() throws(SourceError) -> Bool {
        while true {
            let complete = atEnd || sourceError != nil
            let verdict: Bool? = buffer.withUnsafeBytes { raw in
                Self.headerBlock(UnsafeRawBufferPointer(rebasing: raw[position..<filled]), complete: complete)
            }
            if let verdict { return verdict }
            guard filled - position < Self.maxHeaderBytes, try fill(filled - position + 1) else { return false }
        }
    }

    /// Whether `bytes` start with a record header block: a version line, `Name: value` lines (or folded
    /// continuation lines) and a blank line; nil if they end first and more may come (`complete` false).
    static func headerBlock(_ bytes: UnsafeRawBufferPointer, complete: Bool) -> Bool? {
        var i = 0
        var fields = 0
        while true {
            guard let nl = bytes[i...].firstIndex(of: 0x0A) else { return complete ? false : nil }
            var end = nl
            if end > i && bytes[end - 1] == 0x0D { end -= 1 }
            let line = bytes[i..<end]
            i = nl + 1
            if line.startIndex == 0 {
                guard isVersionLine(line) else { return false }
            } else if line.isEmpty {
                return fields > 0
            } else if line.first == 0x20 || line.first == 0x09 {
                guard fields > 0 else { return false }
            } else {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                    line[..<colon].allSatisfy(isTokenByte)
                else { return false }
                fields += 1
            }
        }
    }

    /// Whether a line is a WARC version line: `WARC/` and a `<major>.<minor>` version (trailing blanks allowed).
    static func isVersionLine<Line: Collection<UInt8>>(_ line: Line) -> Bool {
        guard line.starts(with: versionPrefix) else { return false }
        // major digits, ".", minor digits, then only blanks
        var part = 0
        var digits = 0
        for c in line.dropFirst(5) {
            switch (part, c) {
            case (0...1, UInt8(ascii: "0")...UInt8(ascii: "9")): digits += 1
            case (0, UInt8(ascii: ".")) where digits > 0: (part, digits) = (1, 0)
            case (1...2, 0x20) where digits > 0, (1...2, 0x09) where digits > 0: part = 2
            default: return false
            }
        }
        return part >= 1 && digits > 0
    }

    /// A byte allowed in a header name (an RFC 9110 token character).
    private static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return tokenPunctuation.contains(c)
        }
    }

    private static let tokenPunctuation = Array("!#$%&'*+-.^_`|~".utf8)

    /// The record at `record` (or, between records, the damaged member itself) was cut short by a damaged or
    /// truncated compressed stream: named with the stream's problem at the record's first byte; reading starts
    /// again wherever the source found its next member.
    private func broken(_ record: RecordStart?) -> ErrorRecord {
        let e = sourceError
        sourceError = nil
        let damaged = source.damagedStart
        position = filled
        let at = record?.offset ?? damaged?.output ?? offset
        let fileOffset = record != nil ? record?.restart?.file : damaged?.file
        let what = record != nil ? "WARC record at byte \(at) is cut short: " : "WARC data at byte \(at) is lost: "
        return self.record(
            kind: e?.kind ?? "truncated_warc", at: at, fileOffset: fileOffset ?? e?.fileOffset,
            what + (e?.description ?? "the stream broke"))
    }

    private func record(kind: String, at offset: Int, fileOffset: Int?, _ message: String) -> ErrorRecord {
        ErrorRecord(
            shard: path, line: 0, offset: offset, fileOffset: fileOffset, kind: kind, message: message, raw: [],
            rawLength: 0)
    }

    private func skipped(_ reason: String) -> ShardReader.Item? {
        counters["skipped." + reason, default: 0] += 1
        return nil
    }

    private func document(type: String, headers: [String: String], block: [UInt8], fullLength: Int, at offset: Int)
        -> ShardReader.Item?
    {
        var payload = block[...]
        var mime = ""
        var charset: String? = nil
        var status: Int? = nil
        if type == "response" {
            // HTTP status line and headers.
            guard let http = HTTPHead(block) else { return skipped("not_http") }
            status = http.status
            guard (200..<300).contains(http.status) else { return skipped("http_status_\(http.status / 100)xx") }
            (mime, charset) = Self.contentType(http.headers["content-type"] ?? "")
            payload = block[http.bodyStart...]
            if http.headers["transfer-encoding"]?.lowercased().contains("chunked") == true,
                let body = Self.dechunk(payload)
            {
                payload = body[...]
            }
            if let encoding = http.headers["content-encoding"]?.lowercased(),
                encoding == "gzip" || encoding == "deflate"
            {
                guard let body = Self.inflate(payload, gzip: encoding == "gzip") else {
                    return skipped("content_encoding")
                }
                payload = body[...]
            } else if let encoding = http.headers["content-encoding"]?.lowercased(), !encoding.isEmpty,
                encoding != "identity"
            {
                return skipped("content_encoding")
            }
        } else {
            (mime, charset) = Self.contentType(headers["content-type"] ?? "")
            if type == "conversion" && mime.isEmpty { mime = "text/plain" }
        }
        if type != "conversion" {
            if mime.isEmpty { mime = Self.sniff(payload) }
            guard options.contentTypes.contains(mime) else { return skipped("content_type." + mime) }
        }
        guard !payload.isEmpty else { return skipped("empty") }
        var raw = Array(payload)
        var truncated = false
        if raw.count > options.maxDocumentBytes {
            raw.removeSubrange(options.maxDocumentBytes...)
            truncated = true
        }
        let isHTML = mime.contains("html")
        let decoded = DecodedPage.decode(raw, declared: type == "conversion" ? "utf-8" : charset, html: isHTML)
        var id = headers["warc-record-id"] ?? ""
        if id.hasPrefix("<") && id.hasSuffix(">") { id = String(id.dropFirst().dropLast()) }
        if id.isEmpty { id = fileName + "#" + String(offset) }
        var metadata = JSONObject([
            (key: "content_type", value: .string(type == "conversion" ? "text/plain" : mime))
        ])
        for (k, v) in decoded.metadata { metadata[k] = v }
        if let date = headers["warc-date"] { metadata["fetch_date"] = .string(date) }
        if let status { metadata["http_status"] = .number(JSONNumber(status)) }
        metadata["content_hash"] = .string(DecodedPage.contentHash(raw))
        if truncated { metadata["truncated"] = .bool(true) }
        metadata["warc"] = .object(
            JSONObject([
                (key: "file", value: .string(fileName)), (key: "offset", value: .number(JSONNumber(offset))),
                (key: "type", value: .string(type)),
            ]))
        var fields: [(key: String, value: JSONValue)] = [(key: "source", value: .string(options.source))]
        if let url = headers["warc-target-uri"] { fields.append((key: "url", value: .string(url))) }
        fields.append((key: "metadata", value: .object(metadata)))
        counters["documents." + (type == "conversion" ? "text/plain" : mime), default: 0] += 1
        return .document(Document(id: id, text: decoded.text, fields: fields))
    }

    // MARK: - HTTP

    struct HTTPHead {
        var status: Int
        var headers: [String: String]
        var bodyStart: Int

        init?(_ block: [UInt8]) {
            // Headers end at the first blank line (CRLF CRLF, or LF LF from careless writers).
            var i = block.startIndex
            var lines: [ArraySlice<UInt8>] = []
            var lineStart = i
            var end: Int? = nil
            while i < block.endIndex && i < block.startIndex + (1 << 16) {
                if block[i] == 0x0A {
                    var e = i
                    if e > lineStart && block[e - 1] == 0x0D { e -= 1 }
                    if e == lineStart {
                        end = i + 1
                        break
                    }
                    lines.append(block[lineStart..<e])
                    lineStart = i + 1
                }
                i += 1
            }
            guard let end, let first = lines.first, first.starts(with: Array("HTTP/".utf8)) else { return nil }
            let parts = first.split(separator: 0x20, maxSplits: 2)
            guard parts.count >= 2, let code = Int(String(decoding: parts[1], as: UTF8.self)) else { return nil }
            status = code
            headers = [:]
            for l in lines.dropFirst() { WARCReader.addHeader(l, to: &headers) }
            bodyStart = end
        }
    }

    /// A `Name: value` header line (WARC or HTTP) into `headers`, the name in lower case; other lines are ignored.
    static func addHeader(_ line: ArraySlice<UInt8>, to headers: inout [String: String]) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        headers[name] = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// The media type (lower case, no parameters) and charset of a Content-Type value.
    static func contentType(_ value: String) -> (String, String?) {
        let parts = value.split(separator: ";")
        let mime = parts.first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        var charset: String? = nil
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "charset" {
                charset = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
            }
        }
        return (mime, charset)
    }

    /// A media type from the first bytes when the headers give none.
    static func sniff(_ payload: ArraySlice<UInt8>) -> String {
        let head = String(decoding: payload.prefix(512), as: UTF8.self).lowercased()
        if head.contains("<html") || head.contains("<!doctype html") || head.contains("<body") { return "text/html" }
        if head.hasPrefix("%pdf") { return "application/pdf" }
        return "application/octet-stream"
    }

    /// A chunked body joined; nil if it is not validly chunked (some writers store it already joined).
    static func dechunk(_ body: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var i = body.startIndex
        while i < body.endIndex {
            var j = i
            while j < body.endIndex && body[j] != 0x0A { j += 1 }
            guard j < body.endIndex else { return nil }
            let sizeText =
                String(decoding: body[i..<j], as: UTF8.self)
                .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            guard let size = Int(sizeText, radix: 16) else { return nil }
            i = j + 1
            if size == 0 { return out }
            guard i + size <= body.endIndex else { return nil }
            out += body[i..<(i + size)]
            i += size
            while i < body.endIndex && (body[i] == 0x0D || body[i] == 0x0A) { i += 1 }
        }
        return out
    }

    /// A gzip or zlib body inflated (at most 64 MiB); nil if it is not valid.
    static func inflate(_ body: ArraySlice<UInt8>, gzip: Bool) -> [UInt8]? {
        var stream = z_stream()
        guard czlib_inflate_init2(&stream, gzip ? 15 + 16 : 15 + 32) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var input = Array(body)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let ok: Bool = input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            while true {
                let (r, produced) = chunk.withUnsafeMutableBufferPointer { c -> (Int32, Int) in
                    stream.next_out = c.baseAddress
                    stream.avail_out = uInt(c.count)
                    let r = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (r, c.count - Int(stream.avail_out))
                }
                out += chunk[0..<produced]
                if r == Z_STREAM_END { return true }
                if r != Z_OK || out.count > 64 << 20 || (produced == 0 && stream.avail_in == 0) { return false }
            }
        }
        return ok ? out : nil
    }
}
