import DarwinCore
import Foundation
import Testing

@testable import DarwinSteps

/// A context for step `id` in an L2 stage, with the step's histograms.
func context(for id: String) throws -> StepContext {
    let d = try #require(StepCatalog.registry.descriptor(id))
    return StepContext(stage: "L2", step: id, shard: nil, seed: 0, histograms: d.histograms)
}

/// Runs one step on one document with parameters; returns the decision and the (possibly changed) document.
func run(
    _ id: String, _ params: [String: JSONValue] = [:], text: String, fields: [(key: String, value: JSONValue)] = []
)
    throws -> (decision: Decision, document: Document, context: StepContext)
{
    var step = try makeStep(id, params)
    var ctx = try context(for: id)
    var doc = Document(id: "t", text: text, fields: fields)
    let decision = try step.process(&doc, context: &ctx)
    return (decision, doc, ctx)
}

func rule(_ d: Decision) -> String? {
    if case .drop(let r, _) = d { return r }
    return nil
}

/// A paragraph of plain English prose (Gopher-quality text).
let englishProse = """
    The history of the printing press is the history of how ideas travelled. Before movable type, books were copied by hand, \
    which made them rare and expensive. With the press, a workshop could produce hundreds of copies of the same text, and \
    readers in distant cities could study the same words at the same time. This changed schools, churches and trade, and it \
    gave scientists a way to share their results and to correct each other. It is not an exaggeration to say that the modern \
    world began in those workshops, with ink, paper and patient hands.
    """
