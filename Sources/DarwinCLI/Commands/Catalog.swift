import ArgumentParser
import DarwinCore
import DarwinRunner
import DarwinSteps
import Foundation

extension DarwinCommand {
    /// `darwin validate RECIPE`.
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a recipe (steps, parameters, levels, inputs) without running it.")

        @Argument(help: "The recipe (YAML).")
        var recipe: String

        func run() throws {
            let loader = RecipeLoader(registry: StepCatalog.registry)
            do {
                let r = try loader.load(path: recipe)
                let cwd = FileManager.default.currentDirectoryPath
                let inputs = try InputResolver.resolve(r.input, base: cwd, recipePath: recipe)
                try InputResolver.checkFolders(
                    r.input, base: cwd, output: absolute(r.output.path, base: cwd), outputLine: r.output.line,
                    recipePath: recipe)
                let plan = try JobPlan(recipe: r, inputs: inputs, outputDirectory: r.output.path)
                let tokenizing = try plan.checkTokenizers()
                print(
                    "\(recipe): valid · \(inputs.count) input shard(s), \(ByteSize.format(inputs.reduce(0) { $0 + $1.fileBytes })) · output \(r.output.path)"
                )
                for s in plan.stages {
                    let steps = s.spec.steps.map(\.name).joined(separator: ", ")
                    let phases =
                        s.phases.count > 1
                        ? " · \(s.phases.count) phases: " + s.phases.map(\.name).joined(separator: " → ") : ""
                    print("  \(s.spec.name) (\(s.level)): \(steps.isEmpty ? "no steps" : steps)\(phases)")
                    for step in s.spec.steps {
                        for line in step.descriptor.notes?(step.parameters) ?? [] { print("    \(step.name): \(line)") }
                    }
                    if let line = tokenizing[s.spec.name] { print("    " + line) }
                }
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }

    /// `darwin levels`.
    struct Levels: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The Data Darwinism levels and darwin's steps for each.")

        func run() throws {
            let registry = StepCatalog.registry
            let everywhere = registry.descriptors.filter { $0.levels.count == Level.allCases.count }.map(\.id)
            for level in Level.allCases {
                let steps = registry.descriptors.filter { $0.levels.contains(level) && !everywhere.contains($0.id) }
                    .map(\.id)
                print("\(level)  \(level.name) — \(level.summary)")
                print("    typical: \(level.typicalSteps)")
                if !steps.isEmpty { print("    darwin steps: \(steps.joined(separator: ", "))") }
            }
            if !everywhere.isEmpty { print("\nsteps usable at any level: \(everywhere.joined(separator: ", "))") }
        }
    }

    /// `darwin steps [NAME]`.
    struct Steps: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every step with its parameters and defaults.")

        @Argument(help: "Show one step in detail.")
        var name: String?

        @Option(name: .customLong("set"), help: "NAME=VALUE: a parameter value for the step's notes (repeatable).")
        var settings: [String] = []

        func run() throws {
            let registry = StepCatalog.registry
            guard let name else {
                var rows = [["step", "levels", "kind", "version", "summary"]]
                for d in registry.descriptors {
                    rows.append([
                        d.id, Self.levels(d.levels), Self.kind(d), "\(d.version)", d.summary,
                    ])
                }
                print(StatsRenderer.align(rows, rightAligned: []), terminator: "")
                print("\n`darwin steps NAME` shows a step's parameters.")
                return
            }
            guard let d = registry.descriptor(name) else {
                var message = "unknown step '\(name)'"
                if let near = nearest(name, in: registry.ids) { message += "; did you mean '\(near)'?" }
                throw ValidationError(message)
            }
            // --set values are checked before anything is printed; they only matter to a step's notes.
            let noteParameters = d.notes == nil && settings.isEmpty ? nil : try parameters(for: d)
            print(
                "\(d.id) (version \(d.version), \(Self.kind(d)), levels \(Self.levels(d.levels)))"
            )
            print("  \(d.summary)")
            print("  source: \(d.reference)")
            if !d.parameters.isEmpty {
                print("\nparameters")
                var rows = [["name", "type", "default", "what it does"]]
                for p in d.parameters {
                    let def = p.defaultValue.map { $0 == .null ? "none" : JSONWriter.string($0) } ?? "(required)"
                    rows.append([p.name, p.type.description, def, p.summary])
                }
                print(StatsRenderer.indent(StatsRenderer.align(rows, rightAligned: [])), terminator: "")
            }
            if !d.histograms.isEmpty {
                print("\nhistograms: " + d.histograms.map { "\($0.name) (\($0.summary))" }.joined(separator: ", "))
            }
            if let notes = d.notes, let p = noteParameters {
                print("\n" + (settings.isEmpty ? "with the defaults" : "with " + settings.joined(separator: ", ")))
                for line in notes(p) { print("  " + line) }
            }
            if !d.examples.isEmpty {
                print("\nexamples")
                for e in d.examples {
                    let params =
                        e.parameters.isEmpty
                        ? ""
                        : " with "
                            + e.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(JSONWriter.string($0.value))" }
                            .joined(separator: ", ")
                    let expect: String
                    switch e.expectation {
                    case .keep: expect = "keep"
                    case .drop(let rule): expect = "drop (\(d.id):\(rule))"
                    case .replace(let count): expect = "replaced by \(count) new documents"
                    case .add: expect = "kept, with new documents after it"
                    }
                    print("  \(e.document)\(params) → \(expect)")
                }
            }
        }

        /// The --set values (NAME=VALUE, VALUE read as JSON or else as a string) with the step's defaults.
        func parameters(for d: StepDescriptor) throws -> Parameters {
            var given: [(name: String, value: JSONValue)] = []
            for s in settings {
                guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                    throw ValidationError("--set takes NAME=VALUE (got '\(s)')")
                }
                let raw = String(s[s.index(after: eq)...])
                given.append((String(s[..<eq]), (try? JSONValue.parse(raw)) ?? .string(raw)))
            }
            do { return try Parameters.validate(given, against: d.parameters).get() } catch {
                throw ValidationError("\(error)")
            }
        }

        static func kind(_ d: StepDescriptor) -> String {
            d.globalWhen == nil ? d.kind.rawValue : "streaming or global"
        }

        static func levels(_ levels: [Level]) -> String {
            if levels.count == Level.allCases.count { return "L0–L9" }
            if levels.count > 2, let a = levels.first, let b = levels.last, b.rawValue - a.rawValue + 1 == levels.count
            {
                return "\(a)–\(b)"
            }
            return levels.map(\.description).joined(separator: ", ")
        }
    }
}
