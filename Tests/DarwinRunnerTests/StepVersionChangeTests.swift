import DarwinCore
import DarwinRunner
import DarwinSteps
import DarwinTestSupport
import Foundation
import Testing

@Suite struct StepVersionChangeTests {
    let dir = TemporaryDirectory("darwin-version")

    /// A step that upper-cases the first letter of every document; `version` is set by the test.
    static func step(version: Int) -> StepDescriptor {
        StepDescriptor(
            id: "capitalize", version: version, levels: Level.allCases, summary: "test step", reference: "tests",
            kind: .streaming, parameters: [], make: { _ in .streaming(Capitalize()) })
    }

    struct Capitalize: StreamingStep {
        func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
            document.text = document.text.prefix(1).uppercased() + document.text.dropFirst()
            return .keep
        }
    }

    func run(version: Int, force: Bool) throws -> RunSummary {
        let registry = StepRegistry(StepCatalog.registry.descriptors + [Self.step(version: version)])
        let yaml = """
            input: {paths: [\(Repository.sampleDirectory)]}
            output: \(dir.path)/out
            stages:
              - {name: A, level: L2, steps: [min_length: {min: 10}]}
              - {name: B, level: L4, steps: [capitalize]}
              - {name: C, level: L4, steps: [set_field: {field: metadata.c, value: 1}]}
            """
        let recipe = try RecipeLoader(registry: registry).parse(text: yaml, path: dir.file("r.yaml"))
        let runner = JobRunner(
            recipe: recipe, baseDirectory: dir.path, outputDirectory: dir.path + "/out",
            options: RunOptions(workers: 2, force: force, progress: .none), control: RunControl(),
            console: Console(quiet: true))
        return try runner.run()
    }

    @Test func aBumpedVersionRedoesItsStageAndTheOnesAfterIt() throws {
        let first = try run(version: 1, force: false)
        #expect(first.succeeded && first.tasksRun == 12)
        #expect(try run(version: 1, force: false).tasksRun == 0, "nothing changed")
        do {
            _ = try run(version: 2, force: false)
            Issue.record("a changed step version was accepted")
        } catch {
            #expect("\(error)".contains("stage 'B': step capitalize version 1 → 2"), "\(error)")
            #expect("\(error)".contains("stage 'C' depends on a changed stage before it"), "\(error)")
        }
        let forced = try run(version: 2, force: true)
        #expect(forced.succeeded)
        #expect(forced.tasksRun == 8 && forced.tasksSkipped == 4, "B and C redone, A kept: \(forced.tasksRun)")
    }
}
