import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

/// darwin's L2 steps against datatrove 0.10 on the 739 real documents of data/sample (26 languages, Arabic,
/// Persian, Chinese, Japanese and Korean among them): the same keep/drop and the same rule for every
/// document and filter, the same language and score bit for bit, the same text after C4's line removal.
/// The expected decisions were recorded by scripts/gen/l2-reference-sample.
@Suite struct ReferenceAgreementTests {
    struct Expected {
        var outcome: String
        var detail: String
    }

    /// filter → document id → datatrove's decision.
    static let reference: [String: [String: Expected]] = {
        let path = Repository.root + "/Tests/DarwinStepsTests/Fixtures/l2-datatrove-sample.tsv"
        var table: [String: [String: Expected]] = [:]
        for line in ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
        where !line.hasPrefix("#") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            table[f[1], default: [:]][f[0]] = Expected(outcome: f[2], detail: f[3])
        }
        return table
    }()

    static let lists = Repository.root + "/.cache/url-lists/"
    static let filters: [(name: String, step: String, params: [String: JSONValue])] = [
        (
            "url_filter", "url_filter",
            [
                "block_domains": [.string(lists + "domains")], "block_urls": [.string(lists + "urls")],
                "banned_words": [.string(lists + "banned_words.txt")],
                "soft_banned_words": [.string(lists + "soft_banned_words.txt")],
                "banned_subwords": [.string(lists + "banned_subwords.txt")],
            ]
        ),
        (
            "language_id", "language_id",
            [
                "languages": ["en"], "threshold": 0.65,
                "model": .string(Repository.root + "/.cache/models/lid.176.ftz"),
            ]
        ),
        ("gopher_repetition", "gopher_repetition", ["words": "en"]),
        ("gopher_quality", "gopher_quality", ["words": "en"]),
        ("c4", "c4", [:]),
        ("c4 (FineWeb settings)", "c4", ["filter_no_terminal_punct": false]),
        ("fineweb_quality", "fineweb_quality", ["words": "en"]),
    ]

    static func fnv1a64(_ text: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static let documents: [Document] = Repository.sampleShards.flatMap { (try? Shards.documents($0)) ?? [] }

    @Test(arguments: filters.map(\.name))
    func sameDecisionsAsDatatrove(filter: String) throws {
        let spec = try #require(Self.filters.first { $0.name == filter })
        let expected = try #require(Self.reference[filter])
        #expect(Self.documents.count == 739)
        #expect(expected.count == 739)
        var step = try makeStep(spec.step, spec.params)
        var context = try context(for: spec.step)
        var differences: [String] = []
        var drops = 0
        for original in Self.documents {
            var doc = original
            let decision = try step.process(&doc, context: &context)
            let want = try #require(expected[doc.id], "\(doc.id) is not in the fixture")
            let got: (outcome: String, detail: String)
            switch decision {
            case .drop(let rule, _):
                drops += 1
                got = ("drop", filter == "language_id" ? "" : rule)
            default:
                got = ("keep", filter.hasPrefix("c4") ? Self.fnv1a64(doc.text) : "")
            }
            if filter == "language_id" {
                // "<language> <score>": the top label and its probability, bit for bit.
                let parts = want.detail.split(separator: " ")
                let language = doc.value(atPath: "metadata.language")?.stringValue
                let score = doc.value(atPath: "metadata.language_score")?.doubleValue
                if got.outcome != want.outcome || language != String(parts[0]) || score != Double(parts[1]) {
                    differences.append(
                        "\(doc.id): datatrove \(want.outcome) \(want.detail), darwin \(got.outcome) \(language ?? "-") \(score ?? -1)"
                    )
                }
            } else if got.outcome != want.outcome || got.detail != want.detail {
                differences.append(
                    "\(doc.id): datatrove \(want.outcome) \(want.detail), darwin \(got.outcome) \(got.detail)")
            }
        }
        #expect(differences.isEmpty, "\(differences.count) differences, e.g. \(differences.prefix(5))")
        #expect(drops == expected.values.filter { $0.outcome == "drop" }.count)
    }
}
