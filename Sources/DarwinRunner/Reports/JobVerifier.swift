import DarwinCore
import DarwinIO
import DarwinProvenance
import Foundation

/// `darwin verify`: rereads every output file of a job and checks it against what provenance recorded.
///
/// Every file a done task recorded (path, XXH3-128 of the file's bytes, lines, file size) is read once as a
/// stream (``ShardScan``) and reported when it is missing, truncated (shorter than recorded, or its
/// compressed stream ends early) or altered (its checksum, lines or stream differ at the recorded size or
/// above). Files under a stage's `_work/` pass between the phases of global steps and are removed when the
/// stage completes (unless `--keep-intermediate`): such a file is checked while it is there, and its absence
/// is a problem only while its stage is incomplete, when a later phase still needs it.
///
/// Shards (`*.jsonl.zst`) in a stage's folder, `_rejected/` and `_errors/` included, that no done task
/// recorded are listed as warnings: a task interrupted between renaming its files and recording them
/// leaves such files (resuming redoes the task), and so does a file copied there by hand.
public struct JobVerifier {
    public init() {}

    /// Checks the job in `out` (absolute path).
    ///
    /// - Returns: what was checked and every file that does not match.
    /// - Throws: ``RunError/output(_:)`` when `out` holds no darwin job, ``RunError/provenance(_:)`` when its
    ///   provenance cannot be read.
    public func verify(out: String) throws(RunError) -> VerifyReport {
        let job = try JobReport(outputDirectory: out)
        let completeStages = Set(job.stageSummaries.filter(\.isComplete).map(\.name))
        let recorded = Self.recordedOutputs(of: job)
        var report = VerifyReport(outputDirectory: out, isRunning: job.isRunning)
        var stages: [String] = []
        for (stage, record) in recorded {
            let path = out + "/" + record.path
            if !FileManager.default.fileExists(atPath: path) && Self.isIntermediate(record.path, of: stage)
                && completeStages.contains(stage)
            {
                report.intermediateRemoved += 1
                continue
            }
            if stages.last != stage { stages.append(stage) }
            report.files += 1
            if let problem = Self.check(record, at: path, stage: stage, bytesRead: &report.bytes) {
                report.problems.append(problem)
            }
        }
        report.stages = stages
        report.warnings = Self.unexpectedFiles(in: job, recorded: Set(recorded.map(\.record.path)))
        return report
    }

    // MARK: - Recorded files

    /// The outputs of done tasks, in stage order, then by path. A path recorded by two tasks (which the runner
    /// does not do) is checked once, against the record of the task that finished last.
    static func recordedOutputs(of job: JobReport) -> [(stage: String, record: OutputFileRecord)] {
        var latest: [String: (stage: String, record: OutputFileRecord, finishedAt: Double)] = [:]
        for task in job.tasks where task.status == .done {
            let finishedAt = task.finishedAt ?? 0
            for output in task.outputs {
                if let seen = latest[output.path], seen.finishedAt > finishedAt { continue }
                latest[output.path] = (task.key.stage, output, finishedAt)
            }
        }
        let position = Dictionary(job.stages.map { ($0.name, $0.position) }, uniquingKeysWith: { a, _ in a })
        return latest.values
            .sorted { (position[$0.stage] ?? .max, $0.record.path) < (position[$1.stage] ?? .max, $1.record.path) }
            .map { ($0.stage, $0.record) }
    }

    /// Whether a recorded path lies in its stage's `_work/` folder.
    static func isIntermediate(_ path: String, of stage: String) -> Bool {
        path.hasPrefix(stage + "/_work/")
    }

    /// Reads one recorded file and compares it with its record.
    static func check(_ record: OutputFileRecord, at path: String, stage: String, bytesRead: inout Int)
        -> VerifyReport.Finding?
    {
        var finding = VerifyReport.Finding(path: record.path, stage: stage, kind: .missing, detail: "")
        finding.recordedLines = record.lines
        finding.recordedFileBytes = record.fileBytes
        finding.recordedChecksum = record.checksum
        guard FileManager.default.fileExists(atPath: path) else { return finding }
        let isShard = [".jsonl.zst", ".jsonl.gz", ".jsonl"].contains { record.path.hasSuffix($0) }
        if !isShard { return checkBinary(record, at: path, finding, bytesRead: &bytesRead) }
        let scan: ShardScan
        do {
            scan = try ShardScan(path: path)
        } catch {
            finding.kind = .unreadable
            finding.detail = "\(error)"
            return finding
        }
        bytesRead += scan.fileBytes
        finding.lines = scan.lines
        finding.fileBytes = scan.fileBytes
        finding.checksum = scan.checksum
        var facts: [String] = []
        if scan.lines != record.lines { facts.append(compared(scan.lines, record.lines, unit: "lines")) }
        if scan.fileBytes != record.fileBytes {
            facts.append(compared(scan.fileBytes, record.fileBytes, unit: "bytes"))
        }
        var endsEarly = false
        switch scan.streamError {
        case .truncated(let format, _)?:
            endsEarly = true
            facts.append("the \(format) stream ends early")
        case .corrupt(let format, _, let message)?:
            // Not the offset: the decoder reports where its last call began, which can be well before the damage.
            facts.append("corrupt \(format) data (\(message))")
        case .io(_, let message)?:
            facts.append(message)
        case .windowTooLarge?:
            facts.append("a zstd frame needs a larger window than darwin writes")
        case .checksumMismatch(let format, _)?:
            facts.append("a \(format) frame fails its checksum")
        case nil:
            break
        }
        if let error = scan.streamError { finding.streamError = error.description }
        let checksumDiffers = scan.checksum != record.checksum
        guard checksumDiffers || !facts.isEmpty else { return nil }
        finding.kind = scan.fileBytes < record.fileBytes || endsEarly ? .truncated : .altered
        finding.detail = facts.joined(separator: ", ")
        if checksumDiffers { finding.detail += (facts.isEmpty ? "" : "; ") + "checksum differs" }
        return finding
    }

    /// A token file (`.bin`, `.idx`, `.ds`…): its size and the checksum of its bytes.
    static func checkBinary(
        _ record: OutputFileRecord, at path: String, _ f: VerifyReport.Finding, bytesRead: inout Int
    ) -> VerifyReport.Finding? {
        var finding = f
        let size = BinaryFile.size(path)
        bytesRead += size
        finding.fileBytes = size
        let checksum: String
        do {
            checksum = try FileFingerprint.contentHash([path])
        } catch {
            finding.kind = .unreadable
            finding.detail = "\(error)"
            return finding
        }
        finding.checksum = checksum
        guard checksum != record.checksum || size != record.fileBytes else { return nil }
        finding.kind = size < record.fileBytes ? .truncated : .altered
        finding.detail =
            size != record.fileBytes
            ? compared(size, record.fileBytes, unit: "bytes") + "; checksum differs" : "checksum differs"
        return finding
    }

    /// `812 of 1,024 lines`, or `1,030 lines instead of 1,024`.
    private static func compared(_ found: Int, _ recorded: Int, unit: String) -> String {
        found < recorded
            ? "\(Format.count(found)) of \(Format.count(recorded)) \(unit)"
            : "\(Format.count(found)) \(unit) instead of \(Format.count(recorded))"
    }

    // MARK: - Unexpected files

    /// Shards in the stages' folders (`_work/` aside) that no done task recorded.
    static func unexpectedFiles(in job: JobReport, recorded: Set<String>) -> [VerifyReport.Finding] {
        var found: [VerifyReport.Finding] = []
        for stage in job.stages {
            let directory = job.outputDirectory + "/" + stage.name
            guard let walk = FileManager.default.enumerator(atPath: directory) else { continue }
            var paths: [String] = []
            while let relative = walk.nextObject() as? String {
                if relative == "_work" {
                    // The steps' own files between phases are not recorded one by one.
                    walk.skipDescendants()
                    continue
                }
                let path = stage.name + "/" + relative
                if relative.hasSuffix(".jsonl.zst") && !recorded.contains(path) { paths.append(path) }
            }
            for path in paths.sorted() {
                found.append(
                    VerifyReport.Finding(
                        path: path, stage: stage.name, kind: .unexpected, detail: "no done task recorded it"))
            }
        }
        return found
    }
}

/// What ``JobVerifier`` found; Codable for `darwin verify --json`.
public struct VerifyReport: Sendable, Codable, Equatable {
    /// One file that does not match its record, or that no record names.
    public struct Finding: Sendable, Codable, Equatable {
        /// What is wrong with a file.
        public enum Kind: String, Sendable, Codable {
            /// A done task recorded it and it is not there.
            case missing
            /// Shorter than recorded, or its compressed stream ends early.
            case truncated
            /// Not shorter than recorded, but different: checksum, lines or a corrupt stream.
            case altered
            /// It cannot be read (permissions, not a file, an I/O error).
            case unreadable
            /// A shard in a stage folder that no done task recorded: a warning.
            case unexpected
        }

        /// Relative to the job folder, as recorded (`L2/part-00003.jsonl.zst`).
        public var path: String
        public var stage: String
        public var kind: Kind
        /// What differs, e.g. `812 of 1,024 lines; checksum differs`.
        public var detail: String
        public var recordedLines: Int?
        public var lines: Int?
        public var recordedFileBytes: Int?
        public var fileBytes: Int?
        public var recordedChecksum: String?
        public var checksum: String?
        /// The first problem of the compressed stream, if any.
        public var streamError: String?

        public init(path: String, stage: String, kind: Kind, detail: String) {
            self.path = path
            self.stage = stage
            self.kind = kind
            self.detail = detail
        }

        /// One line: `L2/part-00003.jsonl.zst: truncated: 812 of 1,024 lines; checksum differs`.
        public var line: String {
            let head = path + ": " + (kind == .unexpected ? "unexpected file" : kind.rawValue)
            return detail.isEmpty ? head : head + ": " + detail
        }

        enum CodingKeys: String, CodingKey {
            case path, stage, kind, detail, lines, checksum
            case recordedLines = "recorded_lines"
            case recordedFileBytes = "recorded_file_bytes"
            case fileBytes = "file_bytes"
            case recordedChecksum = "recorded_checksum"
            case streamError = "stream_error"
        }
    }

    /// The job folder.
    public var outputDirectory: String
    /// Whether a run was working on the job while it was verified.
    public var isRunning: Bool
    /// Stages with recorded files, in order.
    public var stages: [String] = []
    /// Recorded files checked (missing ones included).
    public var files = 0
    /// Bytes read.
    public var bytes = 0
    /// Recorded `_work/` files removed when their stage completed, as the runner does (not checked).
    public var intermediateRemoved = 0
    /// Missing, truncated, altered and unreadable files.
    public var problems: [Finding] = []
    /// Unexpected files.
    public var warnings: [Finding] = []

    public init(outputDirectory: String, isRunning: Bool) {
        self.outputDirectory = outputDirectory
        self.isRunning = isRunning
    }

    /// Whether every recorded file matches (warnings aside).
    public var allMatch: Bool { problems.isEmpty }

    /// One line per problem and warning, then a summary:
    /// `verified 40 files of 3 stages, 12.3 MB: all match`.
    public func text() -> String {
        var out = ""
        for f in problems { out += f.line + "\n" }
        for f in warnings { out += f.line + " (warning)\n" }
        out += "verified \(Self.plural(files, "file")) of \(Self.plural(stages.count, "stage")), "
        out += StatsRenderer.mb(bytes) + " MB: "
        out += problems.isEmpty ? "all match" : Self.plural(problems.count, "problem")
        if !warnings.isEmpty { out += "; " + Self.plural(warnings.count, "unexpected file") }
        return out + "\n"
    }

    private static func plural(_ n: Int, _ noun: String) -> String {
        "\(Format.count(n)) \(noun)\(n == 1 ? "" : "s")"
    }

    enum CodingKeys: String, CodingKey {
        case stages, files, bytes, problems, warnings
        case outputDirectory = "job"
        case isRunning = "running"
        case intermediateRemoved = "intermediate_removed"
    }
}
