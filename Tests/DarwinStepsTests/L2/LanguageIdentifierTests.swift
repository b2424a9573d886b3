import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

/// Uses the real lid.176.ftz fetched by scripts/fetch-models (make test runs it first).
@Suite struct LanguageIdentifierTests {
    static let model = Repository.root + "/.cache/models/lid.176.ftz"

    @Test(arguments: [
        ("The quick brown fox jumps over the lazy dog while the children watch from the window.", "en"),
        ("Le renard brun saute par-dessus le chien paresseux pendant que les enfants regardent.", "fr"),
        ("我们今天去北京大学参观，然后在图书馆里读书。", "zh"),
        ("تعلم البرمجة خطوة بخطوة مع أمثلة عملية واضحة للمبتدئين", "ar"),
        ("ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ", "th"),
        ("日本語の文章を単語に分割します。", "ja"),
    ])
    func annotatesLanguage(text: String, language: String) throws {
        let r = try run("language_id", ["model": .string(Self.model), "annotate_only": true], text: text)
        #expect(r.decision == .keep)
        #expect(r.document.value(atPath: "metadata.language") == .string(language))
        let score = try #require(r.document.value(atPath: "metadata.language_score")?.doubleValue)
        #expect(score > 0.5 && score <= 1)
        #expect(r.context.stats.counters["language." + language] == 1)
    }

    @Test func keepsChosenLanguagesAboveTheThreshold() throws {
        let p: [String: JSONValue] = ["model": .string(Self.model), "languages": ["en"], "threshold": 0.65]
        #expect(try run("language_id", p, text: englishProse).decision == .keep)
        let fr = try run("language_id", p, text: "Le renard brun saute par-dessus le chien paresseux.")
        #expect(rule(fr.decision) == "other_language")
        let mixed = try run(
            "language_id", ["model": .string(Self.model), "languages": ["en"], "threshold": 0.999], text: "hello there")
        #expect(rule(mixed.decision) == "low_score")
    }

    @Test func cachedPredictionsEqualTheReferencePathBitForBit() throws {
        let model = try FastTextModel.shared(path: Self.model, parameter: "model")
        let predictor = try FastTextPredictor(model: model, cacheEntries: 64)
        var checked = 0
        for shard in Repository.sampleShards {
            for doc in try Shards.documents(shard).prefix(40) {
                let text = doc.text.replacingOccurrences(of: "\n", with: " ")
                let fast = try predictor.predict(text)
                let reference = predictor.predictReference(text)
                #expect(fast.map(\.label) == reference.map(\.label))
                #expect(fast.map(\.probability) == reference.map(\.probability), "\(doc.id)")
                checked += 1
            }
        }
        #expect(checked == 160)
    }

    @Test func bestLabelSearchAgreesWithTheFullSearch() throws {
        let model = try FastTextModel.shared(path: Self.model, parameter: "model")
        let predictor = try FastTextPredictor(model: model, cacheEntries: 1000)
        // Real documents, plus a token far longer than the cache keeps and text without any token.
        let texts =
            try Repository.sampleShards.flatMap { try Shards.documents($0).prefix(25).map(\.text) }
            + [String(repeating: "antidisestablishment", count: 300) + " and more words", "", " \t "]
        for text in texts {
            let line = text.replacingOccurrences(of: "\n", with: " ")
            let all = predictor.predictReference(line)
            for threshold: Float in [0, 0.3, 0.65, 0.99] {
                let best = try predictor.predictBest(line, threshold: threshold)
                #expect(best.first?.label == all.first?.label)
                #expect(best.first?.probability == all.first?.probability)
                let above = all.filter { $0.probability >= threshold + 1e-5 }.map(\.label)
                #expect(Set(above).isSubset(of: Set(best.map(\.label))), "threshold \(threshold)")
            }
            #expect(try predictor.predict(line).map(\.probability) == all.map(\.probability))
        }
    }

    @Test func unknownLanguageCodeIsARecipeError() {
        do {
            _ = try run("language_id", ["model": .string(Self.model), "languages": ["eng"]], text: "x")
            Issue.record("accepted 'eng'")
        } catch let e as ParameterError {
            #expect(e.parameter == "languages")
            #expect(
                e.message.hasPrefix("unknown language code 'eng' for lid.176.ftz; did you mean 'en'?"), "\(e.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func missingTruncatedAndWrongModelsAreClearErrors() throws {
        let dir = TemporaryDirectory()
        func message(_ path: String) -> String? {
            do {
                _ = try run("language_id", ["model": .string(path)], text: "x")
                return nil
            } catch let e as ParameterError {
                return e.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message(dir.file("none.ftz"))?.contains("does not exist") == true)
        let truncated = dir.file("truncated.ftz")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.model))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        #expect(message(truncated)?.contains("truncated") == true, "\(message(truncated) ?? "")")
        let text = dir.file("not-a-model.bin")
        try Data("this is not a model".utf8).write(to: URL(fileURLWithPath: text))
        #expect(message(text)?.contains("not a fastText model") == true, "\(message(text) ?? "")")
        let headerOnly = dir.file("header.bin")
        try bytes.prefix(100).write(to: URL(fileURLWithPath: headerOnly))
        #expect(message(headerOnly) != nil)
    }
}
