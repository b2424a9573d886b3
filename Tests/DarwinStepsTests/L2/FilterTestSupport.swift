import DarwinCore
import DarwinIO
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

/// Runs a global step's three phases by hand over in-memory shards (collect every shard, every reduce
/// partition, then apply to every shard); returns each shard's (id, decision) pairs.
func runGlobal(
    _ id: String, _ params: [String: JSONValue], shards: [[Document]], in directory: String
) throws -> [[(String, Decision)]] {
    try runGlobalDocuments(id, params, shards: shards, in: directory).map { $0.map { ($0.id, $0.decision) } }
}

/// As ``runGlobal(_:_:shards:in:)``, with every document as the applier left it.
func runGlobalDocuments(
    _ id: String, _ params: [String: JSONValue], shards: [[Document]], in directory: String
) throws -> [[(id: String, decision: Decision, document: Document)]] {
    let d = try #require(StepCatalog.registry.descriptor(id))
    let p = try Parameters.validate(params.map { (name: $0.key, value: $0.value) }, against: d.parameters).get()
    guard case .global(let step) = try d.make(p) else { throw StepError(.shard, "not global") }
    let infos = shards.indices.map { ShardInfo(index: $0, name: "s\($0)") }
    func commit(_ ws: GlobalWorkspace) throws { try AtomicFiles.commit(ws.pendingOutputs) }
    func workspace() -> GlobalWorkspace { GlobalWorkspace(directory: directory, temporarySuffix: ".tmp") }
    for (i, docs) in shards.enumerated() {
        let ws = workspace()
        var c = try step.makeCollector(shard: infos[i], workspace: ws)
        var ctx = StepContext(stage: "L", step: id, shard: infos[i], seed: 0, histograms: [])
        for (j, doc) in docs.enumerated() {
            ctx.documentIndex = j
            try c.collect(doc, context: &ctx)
        }
        try c.finish(context: &ctx)
        try commit(ws)
    }
    for (phase, rp) in step.reducePhases.enumerated() {
        for partition in 0..<rp.partitions {
            let ws = workspace()
            var ctx = StepContext(stage: "L", step: id, shard: nil, seed: 0, histograms: d.histograms)
            try step.reduce(phase: phase, partition: partition, shards: infos, workspace: ws, context: &ctx)
            try commit(ws)
        }
    }
    var out: [[(id: String, decision: Decision, document: Document)]] = []
    for (i, docs) in shards.enumerated() {
        var a = try step.makeApplier(shard: infos[i], workspace: workspace())
        var ctx = StepContext(stage: "L", step: id, shard: infos[i], seed: 0, histograms: [])
        var results: [(id: String, decision: Decision, document: Document)] = []
        for (j, doc) in docs.enumerated() {
            ctx.documentIndex = j
            var d = doc
            let decision = try a.process(&d, context: &ctx)
            results.append((doc.id, decision, d))
        }
        out.append(results)
    }
    return out
}
