import DarwinCore
import DarwinTestSupport
import Testing

@testable import DarwinSteps

func makeStep(_ id: String, _ params: [String: JSONValue]) throws -> any StreamingStep {
    let d = try #require(StepCatalog.registry.descriptor(id))
    let p = try Parameters.validate(params.map { (name: $0.key, value: $0.value) }, against: d.parameters).get()
    guard case .streaming(let s) = try d.make(p) else { throw StepError(.shard, "not streaming") }
    return s
}

func decide(_ step: inout any StreamingStep, _ doc: inout Document, seed: UInt64 = 0) throws -> (Decision, StepContext)
{
    let d = StepCatalog.registry.descriptors.first { _ in true }
    var ctx = StepContext(
        stage: "L2", step: "s", shard: nil, seed: seed,
        histograms: StepCatalog.registry.descriptor("min_length")?.histograms ?? d?.histograms ?? [])
    let decision = try step.process(&doc, context: &ctx)
    return (decision, ctx)
}

@Suite struct MinLengthFilterTests {
    @Test(arguments: [
        ("chars", "日本語の文章です", 8, true),
        ("chars", "日本語の文章です", 9, false),
        ("bytes", "日本語の文章です", 24, true),
        ("bytes", "日本語の文章です", 25, false),
        ("words", "three  plain\twords", 3, true),
        ("words", "three  plain\twords", 4, false),
        ("words", "مرحبا بالعالم الجميل", 3, true),
    ])
    func units(unit: String, text: String, min: Int, kept: Bool) throws {
        var step = try makeStep("min_length", ["min": .number(JSONNumber(min)), "unit": .string(unit)])
        var doc = Document(id: "x", text: text)
        let (decision, ctx) = try decide(&step, &doc)
        #expect((decision == .keep) == kept)
        if !kept, case .drop(let rule, let detail) = decision {
            #expect(rule == "too_short")
            #expect(detail?.objectValue?["min"]?.intValue == min)
        }
        #expect(ctx.stats.histograms["length"]?.total == 1)
    }

    @Test func maxBelowMinIsRefused() {
        #expect(throws: ParameterError.self) { try makeStep("min_length", ["min": 10, "max": 5]) }
    }
}

@Suite struct SampleFilterTests {
    @Test func deterministicAndCloseToTheFraction() throws {
        var step = try makeStep("sample", ["fraction": 0.3])
        var kept: [String] = []
        for i in 0..<10_000 {
            var doc = Document(id: "id-\(i)", text: "t")
            if try decide(&step, &doc, seed: 42).0 == .keep { kept.append(doc.id) }
        }
        #expect(abs(Double(kept.count) / 10_000 - 0.3) < 0.02)
        var again: [String] = []
        var step2 = try makeStep("sample", ["fraction": 0.3])
        for i in 0..<10_000 {
            var doc = Document(id: "id-\(i)", text: "t")
            if try decide(&step2, &doc, seed: 42).0 == .keep { again.append(doc.id) }
        }
        #expect(kept == again)
        // A larger fraction keeps a superset.
        var step3 = try makeStep("sample", ["fraction": 0.5])
        var bigger = Set<String>()
        for i in 0..<10_000 {
            var doc = Document(id: "id-\(i)", text: "t")
            if try decide(&step3, &doc, seed: 42).0 == .keep { bigger.insert(doc.id) }
        }
        #expect(Set(kept).isSubset(of: bigger))
        // The explicit seed overrides the job seed.
        var seeded = try makeStep("sample", ["fraction": 0.3, "seed": 42])
        var doc = Document(id: "id-1", text: "t")
        #expect(try decide(&seeded, &doc, seed: 999).0 == (kept.contains("id-1") ? .keep : .drop(rule: "not_sampled")))
    }
}

@Suite struct SetFieldAnnotatorTests {
    @Test func setsNestedFieldsAndRespectsOverwrite() throws {
        var step = try makeStep("set_field", ["field": "metadata.license", "value": "cc-by-sa"])
        var doc = try Document.parse(#"{"id":"a","text":"t","metadata":{"lang":"en"}}"#)
        #expect(try decide(&step, &doc).0 == .keep)
        #expect(doc.jsonString == #"{"id":"a","text":"t","metadata":{"lang":"en","license":"cc-by-sa"}}"#)

        var keep = try makeStep("set_field", ["field": "metadata.lang", "value": "fr", "overwrite": false])
        let (_, ctx) = try decide(&keep, &doc)
        #expect(doc.value(atPath: "metadata.lang") == "en")
        #expect(ctx.stats.counters["kept_existing"] == 1)
    }

    @Test(arguments: ["id", "text", "darwin.level", "a..b", ""])
    func refusedFields(field: String) {
        #expect(throws: ParameterError.self) { try makeStep("set_field", ["field": .string(field), "value": 1]) }
    }
}
