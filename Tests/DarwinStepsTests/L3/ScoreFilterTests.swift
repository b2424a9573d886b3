import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

@Suite struct ScoreFilterTests {
    let dir = TemporaryDirectory()

    func doc(_ id: String, hq: Double?, source: String = "web") -> Document {
        var fields: [(key: String, value: JSONValue)] = []
        var m = JSONObject()
        m["source"] = .string(source)
        if let hq { m["quality"] = .object(JSONObject([(key: "hq", value: .number(JSONNumber(hq)))])) }
        fields.append((key: "metadata", value: .object(m)))
        return Document(id: id, text: "text of \(id)", fields: fields)
    }

    @Test func conditionDropsRecordTheExpressionAndValues() throws {
        var step = try makeStep("score_filter", ["expression": "metadata.quality.hq >= 0.3"])
        var kept = doc("a", hq: 0.5)
        var low = doc("b", hq: 0.1)
        var none = doc("c", hq: nil)
        #expect(try decide(&step, &kept).0 == .keep)
        guard case .drop(let rule, let detail) = try decide(&step, &low).0 else {
            Issue.record("kept a low score")
            return
        }
        #expect(rule == "expression")
        #expect(detail?.objectValue?["expression"] == .string("metadata.quality.hq >= 0.3"))
        #expect(detail?.objectValue?["values"]?.objectValue?["metadata.quality.hq"]?.doubleValue == 0.1)
        guard case .drop(let rule2, let detail2) = try decide(&step, &none).0 else {
            Issue.record("kept a document without the score")
            return
        }
        #expect(rule2 == "missing_value")
        #expect(detail2?.objectValue?["missing"] == .array([.string("metadata.quality.hq")]))
    }

    @Test func badParametersAreRecipeErrors() throws {
        let cases: [([String: JSONValue], String)] = [
            (["expression": "metadata.x >"], "cannot parse 'metadata.x >' at character 13: expression ends too early"),
            (["top_fraction": 0.1], "top_fraction needs the score field to rank by (score: metadata.x)"),
            (["score": "metadata.x"], "score is only used with top_fraction"),
            ([:], "give an expression, a top_fraction with its score, or both"),
        ]
        for (params, message) in cases {
            do {
                _ = try makeStep("score_filter", params)
                Issue.record("accepted \(params)")
            } catch let e as ParameterError {
                #expect(e.message == message)
            }
        }
        let d = try #require(StepCatalog.registry.descriptor("score_filter"))
        #expect(!d.isGlobal(Parameters(["expression": "metadata.x > 1"])))
        #expect(d.isGlobal(Parameters(["top_fraction": 0.1, "score": "metadata.x"])))
    }

    /// 40 documents in two groups with distinct and tied scores; the top 25 % of each group is kept, exactly
    /// ⌈0.25·n⌉, the same set however the documents are split into shards.
    @Test func topFractionPerGroupIsExactAndIndependentOfShards() throws {
        var docs: [Document] = []
        for i in 0..<40 {
            let source = i % 2 == 0 ? "books" : "web"
            let score = i < 8 ? 0.5 : Double(i % 7) / 10  // eight documents tie at 0.5
            docs.append(doc("d\(i)", hq: score, source: source))
        }
        docs.append(doc("missing", hq: nil, source: "web"))
        let params: [String: JSONValue] = [
            "top_fraction": 0.25, "score": "metadata.quality.hq", "group_by": "metadata.source", "partitions": 3,
        ]
        func kept(_ shards: [[Document]]) throws -> (Set<String>, [String: String]) {
            let sub = dir.file("run-\(shards.count)")
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            var keep = Set<String>(), rules: [String: String] = [:]
            for shard in try runGlobal("score_filter", params, shards: shards, in: sub) {
                for (id, d) in shard {
                    if d == .keep { keep.insert(id) } else if let r = rule(d) { rules[id] = r }
                }
            }
            return (keep, rules)
        }
        let (one, rulesOne) = try kept([docs])
        let (three, rulesThree) = try kept([Array(docs[0..<7]), Array(docs[7..<30]), Array(docs[30...])])
        let (reversed, _) = try kept([Array(docs.reversed())])
        #expect(one == three)
        #expect(one == reversed)
        #expect(rulesOne == rulesThree)
        #expect(rulesOne["missing"] == "missing_value")
        for source in ["books", "web"] {
            let group = docs.filter { $0.value(atPath: "metadata.source")?.stringValue == source && $0.id != "missing" }
            let keptInGroup = group.filter { one.contains($0.id) }
            #expect(keptInGroup.count == 5, "⌈0.25 × 20⌉ of \(source)")
            // Every kept score is at least every dropped score.
            let keptScores = keptInGroup.compactMap { $0.value(atPath: "metadata.quality.hq")?.doubleValue }
            let droppedScores = group.filter { !one.contains($0.id) }.compactMap {
                $0.value(atPath: "metadata.quality.hq")?.doubleValue
            }
            #expect(keptScores.min()! >= droppedScores.max()!)
        }
        #expect(rulesOne.values.filter { $0 == "below_top_fraction" }.count == 30)
    }

    @Test func conditionFirstThenFraction() throws {
        let docs = (0..<10).map { doc("d\($0)", hq: Double($0) / 10) }
        let r = try runGlobal(
            "score_filter",
            ["expression": "metadata.quality.hq >= 0.2", "top_fraction": 0.5, "score": "metadata.quality.hq"],
            shards: [docs], in: dir.path)
        let kept = r[0].filter { $0.1 == .keep }.map(\.0)
        #expect(kept == ["d6", "d7", "d8", "d9"], "half of the eight documents with hq >= 0.2")
        #expect(rule(r[0][0].1) == "expression")
        #expect(rule(r[0][5].1) == "below_top_fraction")
    }
}
