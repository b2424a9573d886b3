import DarwinCore

/// Keeps a deterministic fraction of documents, chosen by a hash of their id and a seed.
///
/// The same id, seed and fraction always give the same decision, whatever the shard, worker count or
/// order, so a sample can be reproduced and extended (a larger fraction keeps a superset).
struct SampleFilter: StreamingStep {
    let fraction: Double
    let seed: UInt64?

    static let descriptor = StepDescriptor(
        id: "sample", version: 1, levels: Array(Level.allCases.dropFirst(2)),
        summary: "keep a deterministic fraction of documents, chosen by hashing their id with a seed",
        reference: "xxHash64 of the id: keep when hash/2^64 < fraction",
        kind: .streaming,
        parameters: [
            ParameterSpec("fraction", .number(min: 0, max: 1), default: nil, "share of documents kept (0…1)"),
            ParameterSpec("seed", .integer(min: 0), default: .null, "hash seed (the job's seed by default)"),
        ],
        examples: [
            StepExample(#"{"id":"a","text":"x"}"#, parameters: ["fraction": 1.0], expect: .keep),
            StepExample(#"{"id":"a","text":"x"}"#, parameters: ["fraction": 0.0], expect: .drop(rule: "not_sampled")),
        ],
        make: { p in
            .streaming(SampleFilter(fraction: p.double("fraction"), seed: p.optionalInt("seed").map { UInt64($0) }))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let u = Hashing.unitInterval(document.id, seed: seed ?? context.seed)
        return u < fraction ? .keep : .drop(rule: "not_sampled")
    }
}
