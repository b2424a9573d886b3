import DarwinCore
import DarwinIO
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

/// Runs the three phases of exact_dedup by hand over in-memory shards.
@Suite struct ExactDedupFilterTests {
    let dir = TemporaryDirectory()

    func run(_ shards: [[Document]], params: [String: JSONValue] = [:]) throws -> [[(String, Decision)]] {
        try runGlobal("exact_dedup", params, shards: shards, in: dir.path)
    }

    func dropped(_ r: [[(String, Decision)]]) -> [String: String] {
        var out: [String: String] = [:]
        for shard in r {
            for (id, d) in shard {
                if case .drop(let rule, let detail) = d {
                    #expect(rule == "duplicate")
                    out[id] = detail?.objectValue?["duplicate_of"]?.stringValue
                }
            }
        }
        return out
    }

    @Test func keepsTheFirstAcrossShardsAndNamesIt() throws {
        let r = try run(
            [
                [Document(id: "a", text: "Same text"), Document(id: "b", text: "other")],
                [Document(id: "c", text: "same   text"), Document(id: "d", text: "Same text\n")],
                [Document(id: "e", text: "Same text"), Document(id: "f", text: "other")],
            ], params: ["partitions": 3])
        #expect(dropped(r) == ["d": "a", "e": "a", "f": "b"], "whitespace-normalised by default; case kept")
    }

    @Test func normalizationChoices() throws {
        let shards = [
            [
                Document(id: "a", text: "Hello  World"), Document(id: "b", text: "hello world"),
                Document(id: "c", text: "Hello World"),
            ]
        ]
        #expect(dropped(try run(shards, params: ["normalize": "none"])) == [:])
        #expect(dropped(try run(shards, params: ["normalize": "whitespace"])) == ["c": "a"])
        #expect(dropped(try run(shards, params: ["normalize": "lowercase"])) == ["b": "a", "c": "a"])
        let greek = [[Document(id: "x", text: "ΚΑΛΗΜΕΡΑ κόσμε"), Document(id: "y", text: "καλημερα ΚΌΣΜΕ")]]
        #expect(dropped(try run(greek, params: ["normalize": "lowercase"])) == ["y": "x"], "Unicode case mapping")
    }

    @Test func otherFieldsAndMissingValues() throws {
        let shards = [
            [
                try Document.parse(#"{"id":"1","text":"a","url":"https://x.org/p"}"#),
                try Document.parse(#"{"id":"2","text":"b","url":"https://x.org/p"}"#),
                try Document.parse(#"{"id":"3","text":"c"}"#),
                try Document.parse(#"{"id":"4","text":"d"}"#),
            ]
        ]
        #expect(
            dropped(try run(shards, params: ["field": "url", "normalize": "none"])) == ["2": "1"],
            "documents without the field are never duplicates")
    }

    @Test func keepLongest() throws {
        let shards = [[Document(id: "short", text: "same   text")], [Document(id: "long", text: "same text")]]
        #expect(dropped(try run(shards, params: ["keep": "longest"])) == ["long": "short"], "3 spaces are longer")
        #expect(dropped(try run(shards)) == ["long": "short"])
        let other = [[Document(id: "a", text: "x y")], [Document(id: "b", text: "x  y")]]
        #expect(dropped(try run(other, params: ["keep": "longest"])) == ["a": "b"])
    }

    @Test(arguments: [
        ("HTTP://www.Example.com:80/a/#top", "example.com/a"),
        ("https://example.com/a", "example.com/a"),
        ("https://user@Example.COM:443/path?q=1", "example.com/path?q=1"),
        ("example.org/", "example.org"),
        ("https://example.org/?x=1", "example.org?x=1"),
    ])
    func urlNormalization(url: String, expected: String) {
        #expect(ExactDedupFilter.normalizeURL(url) == expected)
    }

    @Test func urlDedupKeepsTheLongestAndReadsMetadataURL() throws {
        func doc(_ id: String, _ text: String, url: String?, meta: String? = nil) -> Document {
            var fields: [(key: String, value: JSONValue)] = []
            if let url { fields.append((key: "url", value: .string(url))) }
            if let meta {
                fields.append((key: "metadata", value: .object(JSONObject([(key: "url", value: .string(meta))]))))
            }
            return Document(id: id, text: text, fields: fields)
        }
        let shards = [
            [doc("a", "short page", url: "http://www.x.org/p/"), doc("b", "other", url: "https://y.org/q")],
            [doc("c", "the complete page, longer", url: nil, meta: "https://X.org/p"), doc("d", "no url", url: nil)],
        ]
        let r = try runGlobal("url_dedup", [:], shards: shards, in: dir.path)
        let decisions = Dictionary(uniqueKeysWithValues: r.flatMap { $0 })
        #expect(decisions["c"] == .keep && decisions["b"] == .keep && decisions["d"] == .keep)
        guard case .drop(let rule, let detail) = decisions["a"] else {
            Issue.record("a kept")
            return
        }
        #expect(rule == "duplicate_url")
        #expect(detail?.objectValue?["duplicate_of"] == .string("c"))
    }
}
