import DarwinCore
import DarwinTestSupport
import Testing

@testable import DarwinSteps

/// Walks every registered step: descriptors are complete and every example decides as documented.
@Suite struct StepRegistryTests {
    @Test(arguments: StepCatalog.registry.descriptors.map(\.id))
    func descriptorIsComplete(id: String) throws {
        let d = try #require(StepCatalog.registry.descriptor(id))
        #expect(!d.summary.isEmpty && !d.reference.isEmpty)
        #expect(!d.levels.isEmpty)
        #expect(d.version >= 1)
        #expect(d.id.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber }, "ids are snake_case")
        for p in d.parameters { #expect(!p.summary.isEmpty, "\(id).\(p.name) is documented") }
    }

    @Test(arguments: StepCatalog.registry.descriptors.flatMap { d in d.examples.indices.map { (d.id, $0) } })
    func examplesDecideAsDocumented(id: String, index: Int) throws {
        let d = try #require(StepCatalog.registry.descriptor(id))
        let example = d.examples[index]
        let raw = example.parameters.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        let params = try Parameters.validate(raw, against: d.parameters).get()
        guard case .streaming(var step) = try d.make(params) else {
            Issue.record("examples are only defined for streaming steps")
            return
        }
        var doc = try Document.parse(example.document)
        var ctx = StepContext(stage: "L2", step: id, shard: nil, seed: 0, histograms: d.histograms)
        let decision = try step.process(&doc, context: &ctx)
        switch (example.expectation, decision) {
        case (.keep, .keep): break
        case (.drop(let rule), .drop(let got, _)): #expect(got == rule)
        case (.replace(let count), .replace(let docs)): #expect(docs.count == count)
        default: Issue.record("\(id) example \(index): expected \(example.expectation), got \(decision)")
        }
    }
}
