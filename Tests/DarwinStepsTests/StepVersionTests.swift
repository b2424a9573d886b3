import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

/// The step version table: for every step and version, a hash of what the step makes of its examples.
///
/// `Fixtures/step-versions.tsv` holds `step<TAB>version<TAB>hash` rows, one per step and version; rows of old
/// versions stay as history. The hash is the XXH3-128 of every example's outcome in order: the decision (`keep`,
/// or `drop`, the rule and its detail) and the document as the step left it. A step whose output changes
/// without a new version fails here, and so does a version without a row, so the table changes only on purpose.
/// `DARWIN_PRINT_STEP_VERSIONS=1` prints the rows of the current code (`scripts/gen/step-versions`).
@Suite struct StepVersionTests {
    static let table = "Tests/DarwinStepsTests/Fixtures/step-versions.tsv"

    /// One row of the table.
    struct Row: Equatable {
        let step: String
        let version: Int
        let hash: String
        let line: Int
    }

    /// The rows of the table, and a message for every malformed line.
    static func read() throws -> (rows: [Row], malformed: [String]) {
        let text = try String(contentsOfFile: Repository.root + "/" + table, encoding: .utf8)
        var rows: [Row] = []
        var malformed: [String] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, let version = Int(fields[1]), version >= 1, fields[2].count == 32,
                fields[2].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
            else {
                malformed.append("\(table):\(n + 1): expected step<TAB>version<TAB>32 hex digits, got '\(line)'")
                continue
            }
            rows.append(Row(step: fields[0], version: version, hash: fields[2], line: n + 1))
        }
        return (rows, malformed)
    }

    /// Fields whose values are a model's numbers: they follow the model file and the CPU's arithmetic (the
    /// model's content hash is part of a stage's fingerprint), not the step's code, so the table hashes their
    /// presence and type only.
    static let modelFields: [String: [String]] = [
        "perplexity_score": ["metadata.perplexity", "metadata.perplexity_bpb"],
        "llm_score": ["metadata.llm_score", "metadata.llm_score_reason"],
        "refine": ["text", "darwin.refine"],
        "complete": ["text", "darwin.complete"],
    ]

    /// Steps whose new documents are a model's writing: the table records that they made some, not what.
    static let modelDocuments: Set<String> = ["qa_synthesis"]

    /// The outcome of one example as the bytes the table hashes: the decision (with the new documents of a
    /// replacement or an addition, one a line), then the document as the step left it.
    static func record(_ outcome: ExampleOutcome, step: String = "") -> String {
        var outcome = outcome
        for field in modelFields[step] ?? [] {
            guard let value = outcome.document.value(atPath: field) else { continue }
            let kind: String =
                switch value {
                case .number: "<number>"
                case .string: "<string>"
                default: "<other>"
                }
            outcome.document.setValue(.string(kind), atPath: field)
        }
        func lines(_ documents: [Document]) -> String {
            modelDocuments.contains(step) ? "\n<model documents>" : documents.map { "\n" + $0.jsonString }.joined()
        }
        let decision: String
        switch outcome.decision {
        case .keep: decision = "keep"
        case .drop(let rule, let detail): decision = "drop\t\(rule)\t" + JSONWriter.string(detail ?? .null)
        case .replace(let documents):
            decision = "replace\t" + (modelDocuments.contains(step) ? "n" : "\(documents.count)") + lines(documents)
        case .add(let documents):
            decision = "add\t" + (modelDocuments.contains(step) ? "n" : "\(documents.count)") + lines(documents)
        }
        return decision + "\n" + outcome.document.jsonString + "\n"
    }

    /// The hash of a step's examples' outcomes, as 32 hex digits.
    static func hash(_ d: StepDescriptor) async throws -> String {
        let h = Hashing.xxh128(try await runExamples(of: d).map { record($0, step: d.id) }.joined())
        return Hashing.hex(h.high) + Hashing.hex(h.low)
    }

    @Test(arguments: StepCatalog.registry.descriptors.map(\.id))
    func outputIsRecordedForTheCurrentVersion(id: String) async throws {
        let d = try #require(StepCatalog.registry.descriptor(id))
        let hash = try await Self.hash(d)
        let rows = try Self.read().rows.filter { $0.step == id }
        if let newest = rows.map(\.version).max(), newest > d.version {
            Issue.record("\(Self.table) records \(id) version \(newest), but the step is at version \(d.version)")
        }
        guard let row = rows.first(where: { $0.version == d.version }) else {
            Issue.record(
                """
                \(Self.table) has no row for \(id) version \(d.version); add this row (keep the others):
                \(id)\t\(d.version)\t\(hash)
                """)
            return
        }
        let next = d.version + 1
        #expect(
            row.hash == hash,
            """
            \(id)'s output changed: its examples now hash to \(hash), but \(Self.table):\(row.line) records \
            \(row.hash) for version \(d.version). Bump the step's version to \(next) in its descriptor and add this \
            row to the table, keeping the old ones:
            \(id)\t\(next)\t\(hash)
            (Only when the examples themselves were added or edited, and the step's behaviour is unchanged, replace \
            the hash of the version \(d.version) row instead.)
            """)
    }

    @Test func tableIsWellFormedAndNamesKnownStepsOnce() throws {
        let (rows, malformed) = try Self.read()
        for message in malformed { Issue.record(Comment(rawValue: message)) }
        var seen: [String: Int] = [:]
        for row in rows {
            #expect(
                StepCatalog.registry.descriptor(row.step) != nil,
                "\(Self.table):\(row.line): no step '\(row.step)' in the catalog")
            let key = "\(row.step)\t\(row.version)"
            if let first = seen[key] {
                Issue.record(
                    "\(Self.table):\(row.line): \(row.step) version \(row.version) again (first on line \(first))")
            }
            seen[key] = row.line
        }
    }

    /// With `DARWIN_PRINT_STEP_VERSIONS=1`, prints the row of every step for the current code.
    @Test func printsTheRowsWhenAsked() async throws {
        guard ProcessInfo.processInfo.environment["DARWIN_PRINT_STEP_VERSIONS"] == "1" else { return }
        var rows: [String] = []
        for d in StepCatalog.registry.descriptors.sorted(by: { $0.id < $1.id }) {
            rows.append("\(d.id)\t\(d.version)\t\(try await Self.hash(d))")
        }
        print(rows.joined(separator: "\n"))
    }
}
