import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

@Suite struct LineDedupFilterTests {
    let dir = TemporaryDirectory()

    func run(_ shards: [[Document]], _ params: [String: JSONValue] = [:]) throws -> [String: (Decision, Document)] {
        let sub = dir.file("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        var out: [String: (Decision, Document)] = [:]
        for shard in try runGlobalDocuments("line_dedup", params, shards: shards, in: sub) {
            for r in shard { out[r.id] = (r.decision, r.document) }
        }
        return out
    }

    let footer = "Copyright 2024 Example Corp. All rights reserved."
    let nav = "Home | Products | About us | Contact"

    @Test func laterCopiesOfLinesAreCutFirstStays() throws {
        let a = Document(id: "a", text: "\(nav)\nThe first article talks about gardens and tomatoes.\n\(footer)")
        let b = Document(id: "b", text: "\(nav)\nThe second article is about bicycles in the city.\nShort\n\(footer)")
        let c = Document(id: "c", text: "\(nav)\n\(footer)")
        let r = try run([[a], [b, c]])
        #expect(r["a"]?.0 == .keep)
        #expect(r["a"]?.1.text == a.text, "first occurrences stay")
        #expect(r["b"]?.0 == .keep)
        #expect(r["b"]?.1.text == "The second article is about bicycles in the city.\nShort")
        #expect(r["b"]?.1.value(atPath: "metadata.dedup.lines_removed") == 2)
        guard case .drop(let rule, _)? = r["c"]?.0 else {
            Issue.record("c kept")
            return
        }
        #expect(rule == "all_duplicate")
        // The same decisions whatever the shards.
        let one = try run([[a, b, c]])
        #expect(one["b"]?.1.text == r["b"]?.1.text)
    }

    @Test func shortLinesParagraphsAndCase() throws {
        let a = Document(id: "a", text: "Intro\n\nA paragraph that appears twice in the corpus.\nIt has two lines.")
        let b = Document(
            id: "b", text: "Intro\n\nA PARAGRAPH THAT APPEARS TWICE IN THE CORPUS.\nIt has two lines.\n\nNew text here."
        )
        let para = try run([[a, b]], ["unit": "paragraph", "lowercase": true, "min_chars": 10])
        #expect(para["b"]?.1.text == "Intro\n\nNew text here.", "'Intro' is under min_chars and stays")
        let caseSensitive = try run([[a, b]], ["unit": "paragraph", "min_chars": 10])
        #expect(caseSensitive["b"]?.1.text == b.text)
    }
}
