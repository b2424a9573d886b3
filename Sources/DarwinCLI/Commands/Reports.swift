import ArgumentParser
import DarwinCore
import DarwinRunner
import Foundation

/// Loads the report of a job folder or exits with a one-line error.
func loadReport(_ out: String) throws -> JobReport {
    do {
        return try JobReport(outputDirectory: absolute(out, base: FileManager.default.currentDirectoryPath))
    } catch {
        FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Prints JSON with a trailing newline.
func printJSON(_ value: JSONValue) {
    print(JSONWriter.string(value))
}

extension DarwinCommand {
    /// `darwin status OUT`.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tasks done, running, failed and pending per stage and phase, with throughput and ETA.")

        @Argument(help: "The job folder.")
        var out: String

        @Flag(name: .long, help: "Print JSON.")
        var json = false

        func run() throws {
            let status = StatusRenderer(report: try loadReport(out))
            if json { printJSON(status.json()) } else { print(status.table(), terminator: "") }
        }
    }

    /// `darwin stats OUT`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Documents and bytes in and out per stage and level; drops per step and rule; errors; histograms."
        )

        @Argument(help: "The job folder.")
        var out: String

        @Option(name: .long, help: "Only this stage.")
        var stage: String?

        @Flag(name: .long, help: "Print JSON.")
        var json = false

        func run() throws {
            let report = try loadReport(out)
            if let stage, !report.stages.contains(where: { $0.name == stage }) {
                throw ValidationError(
                    "no stage '\(stage)' (stages: \(report.stages.map(\.name).joined(separator: ", ")))")
            }
            let stats = StatsRenderer(report: report, stage: stage)
            if json { printJSON(stats.json()) } else { print(stats.table(), terminator: "") }
        }
    }

    /// `darwin inspect OUT --stage S`.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show documents of a stage, or those a step or rule dropped and why, or its input errors.")

        @Argument(help: "The job folder.")
        var out: String

        @Option(name: .long, help: "The stage.")
        var stage: String?

        @Option(
            name: .long,
            help:
                "Show a document's ancestors and descendants across the stages (documents made from it, chunks, joins)."
        )
        var lineage: String?

        @Option(name: .long, help: "Show documents this step (e.g. min_length) or rule (min_length:too_short) dropped.")
        var rejectedBy: String?

        @Flag(name: .long, help: "Show all dropped documents, whatever dropped them.")
        var rejected = false

        @Flag(name: .long, help: "Show the stage's input errors.")
        var errors = false

        @Option(name: .long, help: "Show the members of a near-duplicate cluster (minhash_dedup's cluster id).")
        var cluster: String?

        @Option(
            name: .long,
            help:
                "Only documents that have this field, a dotted path (e.g. darwin.refine.kept_original: chunks a guard refused; darwin.refine.attempts: documents retried)."
        )
        var has: String?

        @Option(
            name: .long,
            help: "Show N documents chosen by a hash of their id (deterministic), instead of the first ones.")
        var sample: Int?

        @Option(name: .long, help: "How many documents to show without --sample.")
        var limit: Int = 10

        @Option(name: .long, help: "Seed of --sample.")
        var seed: UInt64 = 0

        @Option(name: .long, help: "Characters of text shown per document.")
        var chars: Int = 600

        @Flag(name: .long, help: "Print the documents as JSON lines.")
        var json = false

        func validate() throws {
            if [rejectedBy != nil || rejected, errors, cluster != nil].filter({ $0 }).count > 1 {
                throw ValidationError("choose one of --rejected-by/--rejected, --errors and --cluster")
            }
            if let sample, sample < 1 { throw ValidationError("--sample must be at least 1") }
            if lineage == nil && stage == nil { throw ValidationError("--stage is required (or --lineage ID)") }
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let report = try loadReport(out)
            if let lineage {
                try showLineage(lineage, report: report)
                return
            }
            guard let stage, report.stages.contains(where: { $0.name == stage }) else {
                throw ValidationError(
                    "no stage '\(stage ?? "")' (stages: \(report.stages.map(\.name).joined(separator: ", ")))")
            }
            let selection: Inspector.Selection
            if errors {
                selection = .errors
            } else if let cluster {
                selection = .cluster(cluster)
            } else if rejectedBy != nil || rejected {
                selection = .rejected(by: rejectedBy)
            } else {
                selection = .kept
            }
            let inspector = Inspector(
                outputDirectory: report.outputDirectory, stage: stage, selection: selection, having: has)
            let entries: [Inspector.Entry]
            do {
                entries = try inspector.entries(limit: sample ?? limit, sampleSeed: sample == nil ? nil : seed)
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode.failure
            }
            if entries.isEmpty {
                FileHandle.standardError.write(Data("darwin: nothing matches\n".utf8))
                return
            }
            for e in entries {
                if json { printJSON(e.line) } else { print(Inspector.render(e, maxChars: chars)) }
            }
        }

        private func showLineage(_ id: String, report: JobReport) throws {
            let tracer = LineageTracer(
                outputDirectory: report.outputDirectory,
                stages: report.stages.sorted { $0.position < $1.position }.map(\.name))
            let trace: [LineageTracer.Appearance]
            do {
                trace = try tracer.trace(id)
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode.failure
            }
            guard !trace.isEmpty else {
                FileHandle.standardError.write(
                    Data("darwin: no document '\(id)' in any stage of \(report.outputDirectory)\n".utf8))
                throw ExitCode.failure
            }
            if json {
                for a in trace { printJSON(LineageTracer.json(a)) }
                return
            }
            for relation in [LineageTracer.Appearance.Relation.ancestor, .document, .descendant] {
                let rows = trace.filter { $0.relation == relation }
                guard !rows.isEmpty else { continue }
                print(relation == .ancestor ? "ancestors" : relation == .document ? "document" : "descendants")
                let shown = rows.prefix(limit * 10)
                for a in shown { print("  " + LineageTracer.render(a)) }
                if rows.count > shown.count { print("  … \(rows.count - shown.count) more (--json lists them all)") }
            }
        }
    }
}
