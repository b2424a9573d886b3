import DarwinCore
import DarwinIO
import DarwinRunner
import DarwinSteps
import DarwinTestSupport
import Foundation
import Testing

/// A batched step whose batches come back after random delays, in any order: it annotates every document
/// with its place in its batch, drops some, fails some, splits some into two and adds a document after
/// others. Only in tests.
private struct DelayedBatchStep: BatchStep {
    static let descriptor = StepDescriptor(
        id: "delayed_batch", version: 1, levels: Level.allCases, summary: "test step: random delays",
        reference: "tests", kind: .batched,
        parameters: [BatchParameters.batchSize(default: 7), BatchParameters.inFlight(default: 3)],
        make: { _ in .batched(DelayedBatchStep()) })

    func process(_ batch: [Document], context: inout StepContext) async throws -> [BatchOutcome] {
        try await Task.sleep(nanoseconds: UInt64.random(in: 0..<3_000_000))
        context.count("batches")
        let ctx = context
        return batch.enumerated().map { i, doc in
            var d = doc
            d.setValue(.number(JSONNumber(i)), atPath: "metadata.batch_position")
            d.setValue(.string(batch[0].id), atPath: "metadata.batch_first")
            let h = Hashing.xxh64(doc.id)
            switch h % 10 {
            case 0: return BatchOutcome(document: d, decision: .drop(rule: "unlucky"))
            case 1: return .failed(d, "this document fails")
            case 2:
                let half = d.text.count / 2
                let parts = [String(d.text.prefix(half)), String(d.text.dropFirst(half))]
                return BatchOutcome(
                    document: d,
                    decision: .replace(
                        parts.enumerated().map { Document.derived(from: d, context: ctx, index: $0, text: $1) }))
            case 3:
                let extra = Document.derived(from: d, context: ctx, index: 0, text: "a question about " + d.id)
                return BatchOutcome(document: d, decision: .add([extra]))
            default: return .keep(d)
            }
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(5))) struct BatchedStepTests {
    let dir = TemporaryDirectory("darwin-batched")

    func run(_ out: String, workers: Int) throws -> [String: Data] {
        let registry = StepRegistry(StepCatalog.registry.descriptors + [DelayedBatchStep.descriptor])
        let yaml = """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/\(out)
            stages:
              - name: L4
                level: L4
                steps:
                  - set_field: {field: metadata.before, value: 1}
                  - delayed_batch: {batch_size: 5, in_flight: 4}
                  - set_field: {field: metadata.after, value: true}
            """
        let recipe = try RecipeLoader(registry: registry).parse(text: yaml, path: dir.file(out + ".yaml"))
        let runner = JobRunner(
            recipe: recipe, baseDirectory: dir.path, outputDirectory: dir.path + "/" + out,
            options: RunOptions(workers: workers, progress: .none), control: RunControl(),
            console: Console(quiet: true))
        let summary = try runner.run()
        #expect(summary.succeeded, "\(summary.failures)")
        var files: [String: Data] = [:]
        for rel in Shards.files(under: dir.path + "/" + out) where rel != "recipe.yaml" {
            files[rel] = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/" + out + "/" + rel))
        }
        return files
    }

    /// Batches do not wait for a thread of Swift's shared pool: with every one of its threads held by
    /// callers blocked until their own work ends (as a test run or a server may hold them), the job still ends.
    @Test func batchesRunWhileEveryPooledThreadIsHeld() throws {
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let blockers = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)  // this test holds one more
        for _ in 0..<blockers {
            Task.detached {
                held.signal()
                release.wait()
            }
        }
        defer { for _ in 0..<blockers { release.signal() } }
        // Alone, the blockers take the free pooled threads; among other tests, those tests hold them already.
        var started = 0
        while started < blockers, held.wait(timeout: .now() + 5) == .success { started += 1 }
        let files = try run("held", workers: 2)
        #expect(files.keys.contains("L4/part-00000.jsonl.zst"))
    }

    @Test func outputIsTheSameWhateverOrderBatchesComeBackIn() throws {
        let reference = try run("ref", workers: 2)
        #expect(reference.keys.contains("L4/_rejected/part-00000.jsonl.zst"))
        #expect(reference.keys.contains("L4/_errors/part-00000.jsonl.zst"))
        let kept = try Shards.documents(dir.path + "/ref/L4/part-00000.jsonl.zst")
        #expect(kept.contains { $0.id.hasSuffix("#L4:delayed_batch:1") }, "split documents")
        #expect(kept.allSatisfy { $0.value(atPath: "metadata.after") == .bool(true) }, "later steps see new documents")
        // Children sit where their parent was: each split pair is consecutive, in order.
        for (i, d) in kept.enumerated() where d.id.hasSuffix("#L4:delayed_batch:1") {
            #expect(i > 0 && kept[i - 1].id == d.id.dropLast(1) + "0")
        }
        let errors = try Shards.lines(dir.path + "/ref/L4/_errors/part-00000.jsonl.zst")
        #expect(errors.allSatisfy { $0.contains("step delayed_batch failed on document") })
        for (i, workers) in [1, 2, 1, 2, 2].enumerated() {
            let again = try run("run\(i)", workers: workers)
            #expect(again.keys.sorted() == reference.keys.sorted())
            for (k, v) in reference where again[k] != v { Issue.record("run \(i), --workers \(workers): \(k) differs") }
        }
    }
}
