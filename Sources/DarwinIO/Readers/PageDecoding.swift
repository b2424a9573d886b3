import CDarwinText
import DarwinCore

/// A web page or text file decoded to UTF-8, with where its charset came from.
public struct DecodedPage {
    public var text: String
    public var charset: String
    /// bom, http, meta, utf8, detected or fallback.
    public var charsetSource: String
    /// Bytes or sequences replaced by U+FFFD.
    public var invalid: Int

    /// Decodes `bytes` (an HTML page when `html`): BOM, then the HTTP charset, then `<meta>`, then valid UTF-8,
    /// then ICU's detector, then windows-1252.
    public static func decode(_ bytes: [UInt8], declared: String?, html: Bool) -> DecodedPage {
        var r = dc_result()
        let status = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { c in dc_decode(c.baseAddress, c.count, declared, html ? 1 : 0, &r) }
        }
        defer { dc_result_free(&r) }
        guard status == 0, let p = r.text else {
            return DecodedPage(
                text: String(decoding: bytes, as: UTF8.self), charset: "utf-8", charsetSource: "fallback", invalid: 0)
        }
        let text = String(
            decoding: UnsafeRawBufferPointer(start: p, count: r.length).bindMemory(to: UInt8.self), as: UTF8.self)
        let charset = withUnsafeBytes(of: r.charset) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let sources = ["bom", "http", "meta", "utf8", "detected", "fallback"]
        let source = Int(r.source) < sources.count ? sources[Int(r.source)] : "fallback"
        return DecodedPage(text: text, charset: charset, charsetSource: source, invalid: Int(r.invalid))
    }

    /// The document's metadata about its encoding.
    public var metadata: [(key: String, value: JSONValue)] {
        var m: [(key: String, value: JSONValue)] = [
            (key: "charset", value: .string(charset)), (key: "charset_source", value: .string(charsetSource)),
        ]
        if invalid > 0 { m.append((key: "invalid_bytes", value: .number(JSONNumber(invalid)))) }
        return m
    }

    /// XXH64 of the raw bytes, as 16 hex digits: the content hash of a raw document.
    public static func contentHash(_ bytes: [UInt8]) -> String {
        Hashing.hex(bytes.withUnsafeBytes { Hashing.xxh64($0) })
    }
}
