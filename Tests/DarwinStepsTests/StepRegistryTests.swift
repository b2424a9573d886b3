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
        #expect(!d.examples.isEmpty, "\(id) has examples (the version table hashes their output)")
    }

    @Test(arguments: StepCatalog.registry.descriptors.map(\.id))
    func examplesDecideAsDocumented(id: String) async throws {
        let d = try #require(StepCatalog.registry.descriptor(id))
        for (index, outcome) in try await runExamples(of: d).enumerated() {
            switch (outcome.example.expectation, outcome.decision) {
            case (.keep, .keep): break
            case (.drop(let rule), .drop(let got, _)): #expect(got == rule, "\(id) example \(index)")
            case (.add, .add): break
            case (.replace(let count), .replace(let documents)):
                #expect(documents.count == count, "\(id) example \(index)")
            default:
                Issue.record("\(id) example \(index): expected \(outcome.example.expectation), got \(outcome.decision)")
            }
        }
    }
}

/// What a step made of one of its documented examples.
struct ExampleOutcome {
    let example: StepExample
    let decision: Decision
    /// The document as the step left it.
    var document: Document
}

/// Runs every example of a step, in order.
///
/// A streaming example runs alone through a new instance of the step, a batched one as a batch of one. Global
/// examples (a global step, or
/// `score_filter` with `top_fraction`) that share their parameters run together through the step's collect,
/// reduce and apply phases, as one shard in the order they are listed: a duplicate needs its original beside it.
/// Paths in example parameters are relative to the checkout, where `swift test` runs.
func runExamples(of d: StepDescriptor) async throws -> [ExampleOutcome] {
    var decided: [Int: (Decision, Document)] = [:]
    var groups: [(parameters: [String: JSONValue], examples: [Int])] = []
    for (index, example) in d.examples.enumerated() {
        let raw = example.parameters.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        let params = try Parameters.validate(raw, against: d.parameters).get()
        if d.isGlobal(params) {
            if let g = groups.firstIndex(where: { $0.parameters == example.parameters }) {
                groups[g].examples.append(index)
            } else {
                groups.append((example.parameters, [index]))
            }
            continue
        }
        var document = try Document.parse(example.document)
        var context = StepContext(stage: "L2", step: d.id, shard: nil, seed: 0, histograms: d.histograms)
        switch try d.make(params) {
        case .streaming(var step): decided[index] = (try step.process(&document, context: &context), document)
        case .batched(let step):
            let outcome = try #require(try await step.process([document], context: &context).first)
            decided[index] = (outcome.decision, outcome.document)
        case .global: Issue.record("\(d.id) example \(index): parameters of a streaming use made a global step")
        }
    }
    for group in groups {
        let directory = TemporaryDirectory("darwin-examples")
        let documents = try group.examples.map { try Document.parse(d.examples[$0].document) }
        let shard = try #require(
            try runGlobalDocuments(d.id, group.parameters, shards: [documents], in: directory.path).first)
        for (k, index) in group.examples.enumerated() { decided[index] = (shard[k].decision, shard[k].document) }
    }
    return try d.examples.indices.map { index in
        let (decision, document) = try #require(decided[index], "\(d.id) example \(index) ran")
        return ExampleOutcome(example: d.examples[index], decision: decision, document: document)
    }
}
