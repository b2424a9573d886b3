import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinIO

/// L0 readers: WARC records to documents with their provenance, damaged records named and skipped, charsets
/// decoded, loose files read.
@Suite struct WARCReaderTests {
    let dir = TemporaryDirectory()
    static let sample = Repository.root + "/data/sample-web/debian-docs.warc.gz"
    let options = RawInputOptions(
        source: "web", contentTypes: RawInputOptions.defaultContentTypes, maxDocumentBytes: 1 << 20)

    func readAll(_ reader: any DocumentReader) throws -> (docs: [Document], errors: [ErrorRecord]) {
        var docs: [Document] = []
        var errors: [ErrorRecord] = []
        while let item = try reader.next() {
            switch item {
            case .document(let d): docs.append(d)
            case .error(let e): errors.append(e)
            }
        }
        return (docs, errors)
    }

    /// One WARC record as a gzip member.
    func member(_ text: String) throws -> [UInt8] {
        let path = dir.file("m-\(UUID().uuidString).gz")
        try Shards.writeGzip(Array(text.utf8), to: path)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func response(_ url: String, _ body: String, headers: String = "Content-Type: text/html") -> String {
        let http = "HTTP/1.1 200 OK\r\n\(headers)\r\n\r\n" + body
        return "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:\(url.count)-\(body.count)>\r\n"
            + "WARC-Date: 2026-01-02T03:04:05Z\r\nWARC-Target-URI: \(url)\r\n"
            + "Content-Length: \(http.utf8.count)\r\n\r\n" + http + "\r\n\r\n"
    }

    @Test func theSampleBecomesDocumentsWithProvenance() throws {
        let reader = try WARCReader(path: Self.sample, options: options)
        let (docs, errors) = try readAll(reader)
        #expect(errors.isEmpty)
        #expect(docs.count == 40)
        #expect(reader.counters["skipped.content_type.text/css"] == 1)
        #expect(reader.counters["skipped.content_type.application/pdf"] == 1)
        #expect(reader.counters["skipped.http_status_3xx"] == 1)
        #expect(reader.counters["records.request"] == 40)
        let first = try #require(docs.first)
        #expect(first.id.hasPrefix("urn:uuid:"))
        #expect(first.value(atPath: "url")?.stringValue?.hasPrefix("https://debian-handbook.info/") == true)
        #expect(first.value(atPath: "source") == "web")
        #expect(first.value(atPath: "metadata.fetch_date") == "2026-11-20T12:00:00Z")
        #expect(first.value(atPath: "metadata.http_status") == 200)
        #expect(first.value(atPath: "metadata.content_hash")?.stringValue?.count == 16)
        #expect(first.text.contains("<html"))
        // Legacy charsets, from the HTTP header or only from <meta>.
        let koi = try #require(docs.first { $0.value(atPath: "metadata.charset") == "koi8-r" })
        #expect(koi.value(atPath: "metadata.charset_source") == "http")
        #expect(koi.text.contains("Жизненный цикл выпуска"))
        let sjis = try #require(docs.first { $0.value(atPath: "metadata.charset") == "shift_jis" })
        #expect(sjis.value(atPath: "metadata.charset_source") == "meta")
        #expect(sjis.text.contains("ケーススタディ"))
    }

    @Test func aTruncatedMemberIsNamedAndEverythingBeforeItKept() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.sample)))
        let cut = dir.file("cut.warc.gz")
        try Data(bytes.prefix(bytes.count * 2 / 3)).write(to: URL(fileURLWithPath: cut))
        let (docs, errors) = try readAll(try WARCReader(path: cut, options: options))
        #expect(docs.count > 20 && docs.count < 40)
        #expect(errors.count == 1)
        #expect(errors.first?.kind == "truncated_stream" || errors.first?.kind == "truncated_warc")
        #expect(errors.first?.message.contains("byte") == true)
    }

    @Test func aCorruptMemberInTheMiddleSkipsOneRecord() throws {
        var file: [UInt8] = []
        for i in 0..<5 {
            var m = try member(response("https://example.org/\(i)", "<html><body><p>Page \(i) text.</p></body></html>"))
            if i == 2 { for k in 12..<min(m.count - 8, 40) { m[k] ^= 0x5A } }
            file += m
        }
        let path = dir.file("corrupt.warc.gz")
        try Data(file).write(to: URL(fileURLWithPath: path))
        let (docs, errors) = try readAll(try WARCReader(path: path, options: options))
        #expect(
            docs.map { $0.value(atPath: "url")?.stringValue ?? "" } == [0, 1, 3, 4].map { "https://example.org/\($0)" })
        #expect(errors.count == 1)
        #expect(errors.first?.kind == "corrupt_stream")
        #expect(errors.first?.fileOffset != nil)
    }

    @Test func malformedAndTruncatedPlainRecords() throws {
        let good = response("https://example.org/a", "<html><body><p>Alpha.</p></body></html>")
        let garbage = "this is not a warc header\r\nnor this\r\n\r\n"
        let truncated = String(
            response("https://example.org/c", "<html><body><p>Gamma.</p></body></html>").dropLast(30))
        let path = dir.file("plain.warc")
        try Data((good + garbage + good.replacingOccurrences(of: "/a", with: "/b") + truncated).utf8).write(
            to: URL(fileURLWithPath: path))
        let (docs, errors) = try readAll(try WARCReader(path: path, options: options))
        #expect(
            docs.map { $0.value(atPath: "url")?.stringValue ?? "" } == [
                "https://example.org/a", "https://example.org/b",
            ])
        #expect(errors.map(\.kind) == ["malformed_warc", "truncated_warc"])
        #expect(errors.last?.message.contains("truncated") == true)
    }

    @Test func chunkedAndCompressedBodiesAndWET() throws {
        let body = "<html><body><p>Chunked and compressed.</p></body></html>"
        let chunked = String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
        let gz = dir.file("body.gz")
        try Shards.writeGzip(Array(body.utf8), to: gz)
        let gzBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: gz)))
        let httpHead = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\n\r\n"
        let block = Array(httpHead.utf8) + gzBytes
        var warc =
            Array(
                ("WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:gz>\r\nWARC-Target-URI: https://e.org/gz\r\n"
                    + "Content-Length: \(block.count)\r\n\r\n").utf8) + block + Array("\r\n\r\n".utf8)
        warc += Array(
            response("https://e.org/chunked", chunked, headers: "Content-Type: text/html\r\nTransfer-Encoding: chunked")
                .utf8)
        let wet = "Plain text of a page, as Common Crawl's WET files hold it."
        warc += Array(
            ("WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Record-ID: <urn:uuid:wet>\r\nWARC-Target-URI: https://e.org/wet\r\n"
                + "Content-Type: text/plain\r\nContent-Length: \(wet.utf8.count)\r\n\r\n" + wet + "\r\n\r\n").utf8)
        let path = dir.file("mixed.warc")
        try Data(warc).write(to: URL(fileURLWithPath: path))
        let (docs, errors) = try readAll(try WARCReader(path: path, options: options))
        #expect(errors.isEmpty)
        #expect(docs.count == 3)
        #expect(docs[0].text == body && docs[1].text == body)
        #expect(docs[2].text == wet && docs[2].value(atPath: "metadata.content_type") == "text/plain")
    }

    @Test func charsetsAreDecodedInBrowserOrder() {
        // BOM beats everything; the HTTP header beats <meta>; <meta> beats detection.
        let bom = DecodedPage.decode([0xFF, 0xFE, 0x41, 0x00, 0xE9, 0x00], declared: "windows-1252", html: true)
        #expect(bom.text == "Aé" && bom.charsetSource == "bom")
        let latin: [UInt8] = Array("<meta charset=\"utf-8\"><p>caf".utf8) + [0xE9] + Array("</p>".utf8)
        let http = DecodedPage.decode(latin, declared: "ISO-8859-1", html: true)
        #expect(http.text.hasSuffix("café</p>") && http.charset == "windows-1252" && http.charsetSource == "http")
        let meta = DecodedPage.decode(
            Array("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"><p>".utf8) + [
                0xF0, 0xD2, 0xC9,
            ],
            declared: nil, html: true)
        #expect(meta.text.hasSuffix("<p>При") && meta.charsetSource == "meta")
        let utf8 = DecodedPage.decode(Array("<p>naïve</p>".utf8), declared: nil, html: true)
        #expect(utf8.text == "<p>naïve</p>" && utf8.charsetSource == "utf8")
        // Declared UTF-8 with a bad byte: replaced and counted, nothing else lost.
        let bad = DecodedPage.decode(Array("ok ".utf8) + [0xFF] + Array(" ok".utf8), declared: "utf-8", html: false)
        #expect(bad.text == "ok \u{FFFD} ok" && bad.invalid == 1)
        // Undeclared legacy bytes: detected or windows-1252, never dropped.
        let guess = DecodedPage.decode(
            Array("Gr".utf8) + [0xFC] + Array("\u{DF}e aus M".utf8), declared: nil, html: false)
        #expect(guess.text.hasPrefix("Grü"))
    }

    @Test func looseFilesBecomeDocuments() throws {
        let root = dir.file("site")
        try FileManager.default.createDirectory(atPath: root + "/docs", withIntermediateDirectories: true)
        var latin = Array("<html><head><meta charset='windows-1252'></head><body><p>Caf".utf8)
        latin += [0xE9] + Array("</p></body></html>".utf8)
        try Data(latin).write(to: URL(fileURLWithPath: root + "/index.html"))
        try Data("# Notes\n\nSome *markdown*.".utf8).write(to: URL(fileURLWithPath: root + "/docs/notes.md"))
        try Data("plain text".utf8).write(to: URL(fileURLWithPath: root + "/docs/a.txt"))
        let reader = FileTreeReader(root: root, files: ["docs/a.txt", "docs/notes.md", "index.html"], options: options)
        let (docs, errors) = try readAll(reader)
        #expect(errors.isEmpty)
        #expect(docs.map(\.id) == ["docs/a.txt", "docs/notes.md", "index.html"])
        #expect(
            docs.map { $0.value(atPath: "metadata.content_type")?.stringValue ?? "" } == [
                "text/plain", "text/markdown", "text/html",
            ])
        #expect(docs[2].text.contains("<p>Café</p>"))
        #expect(reader.counters["documents.text/html"] == 1)
    }

    // MARK: - Damaged records

    /// How a file's records are stored.
    enum Container: String, Sendable {
        case plain
        /// One gzip member per record, as crawlers write them.
        case gzipPerRecord
        /// The whole file as one gzip member.
        case gzipWhole
    }

    /// One way of damaging a record.
    enum Damage: String, Sendable, CaseIterable {
        case badVersion, missingLength, nonNumericLength, lengthPastNextRecord, lengthPastEnd, lengthTooSmall
        /// Bytes flipped inside the record's gzip member.
        case corruptMember
    }

    struct DamageCase: Sendable, CustomTestStringConvertible {
        var damage: Damage
        var container: Container
        /// Which of the file's records is damaged.
        var index: Int
        var testDescription: String { "\(damage) in record \(index) of a \(container) file" }

        static let recordCount = 12
        static let all: [DamageCase] = Damage.allCases.flatMap { damage in
            let containers: [Container] =
                damage == .corruptMember ? [.gzipPerRecord] : [.plain, .gzipPerRecord, .gzipWhole]
            return containers.flatMap { c in
                [0, 5, recordCount - 1].map { DamageCase(damage: damage, container: c, index: $0) }
            }
        }
    }

    /// Record `i`: a response; every third one is large (~300 KB), so a file is bigger than the reader's buffer.
    /// Its page holds a `WARC/1.1` line that is not a record header, which a rescan must pass over.
    func damageRecord(_ i: Int) -> String {
        let paragraphs = i % 3 == 1 ? 4_000 : 20
        let body =
            "<html><body>\nWARC/1.1\n<p>a page about the format, not a header</p>\n"
            + (0..<paragraphs).map { "<p>Page \(i), paragraph \($0): some words of text.</p>\n" }.joined()
            + "</body></html>"
        return response("https://example.org/\(i)", body)
    }

    /// `text` with its Content-Length changed by `f`.
    func withLength(_ text: String, _ f: (Int) -> String) throws -> String {
        let match = try #require(text.firstMatch(of: /Content-Length: (\d+)\r\n/))
        let length = try #require(Int(match.1))
        return text.replacingCharacters(in: match.range, with: "Content-Length: \(f(length))\r\n")
    }

    @Test(arguments: DamageCase.all)
    func oneDamagedRecordIsOneErrorAndEveryOtherRecordIsRead(_ c: DamageCase) throws {
        var records = (0..<DamageCase.recordCount).map(damageRecord)
        let next = c.index + 1 < records.count ? records[c.index + 1].utf8.count : 5_000
        let damaged = records[c.index]
        switch c.damage {
        case .badVersion: records[c.index] = "WARX" + damaged.dropFirst(4)
        case .missingLength:
            records[c.index] = try withLength(damaged) { _ in "" }.replacingOccurrences(
                of: "Content-Length: \r\n", with: "")
        case .nonNumericLength: records[c.index] = try withLength(damaged) { _ in "twelve" }
        case .lengthPastNextRecord: records[c.index] = try withLength(damaged) { String($0 + next / 2 + 13) }
        case .lengthPastEnd: records[c.index] = try withLength(damaged) { String($0 + 1_000_000_000) }
        case .lengthTooSmall: records[c.index] = try withLength(damaged) { String($0 - 40) }
        case .corruptMember: break
        }
        let plain = records.map { Array($0.utf8) }
        let expectedOffset = plain[..<c.index].reduce(0) { $0 + $1.count }
        var file: [UInt8]
        let expectedFileOffset: Int
        let path: String
        switch c.container {
        case .plain:
            file = plain.flatMap { $0 }
            expectedFileOffset = expectedOffset
            path = dir.file("damaged.warc")
        case .gzipPerRecord:
            var members = try gzipMembers(plain)
            if c.damage == .corruptMember {
                let mid = members[c.index].count / 2
                for k in (mid - 8)..<(mid + 8) { members[c.index][k] ^= 0x5A }
            }
            file = members.flatMap { $0 }
            expectedFileOffset = members[..<c.index].reduce(0) { $0 + $1.count }
            path = dir.file("damaged.warc.gz")
        case .gzipWhole:
            file = try gzipMembers([plain.flatMap { $0 }])[0]
            expectedFileOffset = 0
            path = dir.file("damaged.warc.gz")
        }
        try Data(file).write(to: URL(fileURLWithPath: path))

        let reader = try WARCReader(path: path, options: options)
        let (docs, errors) = try readAll(reader)
        let urls = docs.map { $0.value(atPath: "url")?.stringValue ?? "" }
        let expected = (0..<DamageCase.recordCount).filter { $0 != c.index }.map { "https://example.org/\($0)" }
        #expect(urls == expected, "every record but the damaged one is read")
        #expect(errors.count == 1, "\(errors.map(\.message))")
        let e = try #require(errors.first)
        #expect(e.offset == expectedOffset, "the error names the damaged record's first byte: \(e.message)")
        #expect(e.fileOffset == expectedFileOffset, "\(e.message)")
        let expectedKind: String
        switch c.damage {
        case .corruptMember: expectedKind = "corrupt_stream"
        case .lengthPastEnd where c.index == DamageCase.recordCount - 1,
            .lengthPastNextRecord where c.index == DamageCase.recordCount - 1:
            // Nothing follows: the file looks cut.
            expectedKind = "truncated_warc"
        default: expectedKind = "malformed_warc"
        }
        #expect(e.kind == expectedKind, "\(e.message)")
        #expect(e.message.contains("byte \(expectedOffset)"), "\(e.message)")
        #expect(reader.bufferCapacity == 1 << 20, "rescanning streams: the buffer does not grow")
    }

    /// Each of `parts` compressed as one gzip member (one `gzip` run for all of them).
    func gzipMembers(_ parts: [[UInt8]]) throws -> [[UInt8]] {
        let names = parts.indices.map { dir.file("part-\(UUID().uuidString)-\($0)") }
        for (name, bytes) in zip(names, parts) { try Data(bytes).write(to: URL(fileURLWithPath: name)) }
        _ = try Process.output("gzip", ["-n", "-f"] + names)
        return try names.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0 + ".gz"))) }
    }

    @Test(
        arguments: [
            ("WARC/1.0", true), ("WARC/1.1", true), ("WARC/0.17", true), ("WARC/1.0 ", true), ("WARX/1.0", false),
            ("WARC/", false), ("WARC/1.", false), ("WARC/.1", false), ("WARC/1.0x", false), ("WARC/1.0 1", false),
        ])
    func versionLines(line: String, valid: Bool) {
        #expect(WARCReader.isVersionLine(Array(line.utf8)) == valid, "\(line)")
    }
}
