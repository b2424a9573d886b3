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
}
