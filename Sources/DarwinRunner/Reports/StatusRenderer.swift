import DarwinCore
import DarwinProvenance
import Foundation

/// `darwin status`: tasks done, running, failed and pending per stage and phase, throughput and ETA.
public struct StatusRenderer {
    public let report: JobReport

    public init(report: JobReport) { self.report = report }

    /// Task counts of one phase.
    public struct PhaseStatus: Sendable {
        public var stage: String
        public var phase: Int
        public var name: String
        public var total: Int
        public var counts: [TaskStatus: Int]
        public var docsPerSecond: Double?
        public var bytesPerSecond: Double?
        public var etaSeconds: Double?
    }

    /// Every phase of every stage, in order.
    public var phases: [PhaseStatus] {
        let running = report.isRunning
        let workers = max(1, report.runs.last?.workers ?? 1)
        var out: [PhaseStatus] = []
        for stage in report.stages {
            for (i, phase) in report.phases(of: stage).enumerated() {
                let tasks = report.tasks.filter { $0.key.stage == stage.name && $0.key.phase == i }
                var counts: [TaskStatus: Int] = [:]
                for t in tasks {
                    // A task marked running by a process that is gone was interrupted.
                    let status = t.status == .running && !running ? TaskStatus.interrupted : t.status
                    counts[status, default: 0] += 1
                }
                counts[.pending, default: 0] += max(0, phase.tasks - tasks.count)
                let done = tasks.filter { $0.status == .done }
                var p = PhaseStatus(stage: stage.name, phase: i, name: phase.name, total: phase.tasks, counts: counts)
                let work = done.reduce(0.0) { $0 + ($1.seconds ?? 0) }
                let docs = done.reduce(0) { $0 + $1.counts.docsIn }
                if work > 0, docs > 0 {
                    let bytes = done.reduce(0) { $0 + $1.counts.bytesIn }
                    // Work seconds are per worker; the job runs `workers` of them at once.
                    p.docsPerSecond = Double(docs) / work * Double(workers)
                    p.bytesPerSecond = Double(bytes) / work * Double(workers)
                    let left = phase.tasks - done.count
                    if left > 0 { p.etaSeconds = work / Double(done.count) * Double(left) / Double(workers) }
                }
                out.append(p)
            }
        }
        return out
    }

    /// The status as a terminal table.
    public func table() -> String {
        var out = "job \(report.outputDirectory) · "
        if report.isRunning, let run = report.runs.last(where: { $0.status == "running" }) {
            out += "running (pid \(run.pid) on \(run.host), \(run.workers) workers)\n\n"
        } else if let f = report.job.finishedAt {
            out += "completed \(StatsRenderer.timestamp(f))\n\n"
        } else if let last = report.runs.last {
            // A run still marked running whose lock is free ended without recording it (killed).
            let status = last.status == "running" ? "killed" : last.status
            out += "stopped (last run \(status)\(last.message.map { ": " + $0 } ?? ""))\n\n"
        } else {
            out += "not started\n\n"
        }
        var rows = [["stage", "phase", "done", "running", "failed", "pending", "docs/s", "MB/s", "ETA"]]
        for p in phases {
            let c = p.counts
            rows.append([
                p.stage, p.name, "\(c[.done] ?? 0)/\(p.total)", "\(c[.running] ?? 0)", "\(c[.failed] ?? 0)",
                "\((c[.pending] ?? 0) + (c[.interrupted] ?? 0))", p.docsPerSecond.map { Format.count(Int($0)) } ?? "",
                p.bytesPerSecond.map { String(format: "%.1f", $0 / 1e6) } ?? "",
                p.etaSeconds.map(Format.duration) ?? "",
            ])
        }
        out += StatsRenderer.align(rows, rightAligned: Set(2...8))
        let errors = report.inputErrorSummary()
        if !errors.isEmpty { out += "\n" + errors.joined(separator: "\n") + "\n" }
        let failed = report.tasks.filter { $0.status == .failed }
        if !failed.isEmpty {
            out += "\nfailed tasks (rerun `darwin resume \(report.outputDirectory)` to retry):\n"
            for t in failed {
                out += "  \(t.key.stage)/\(t.shard) (\(t.phaseName), \(t.attempts) attempt(s)): \(t.error ?? "")\n"
            }
        }
        return out
    }

    /// The status as JSON.
    public func json() -> JSONValue {
        var root = JSONObject()
        root["output"] = .string(report.outputDirectory)
        root["running"] = .bool(report.isRunning)
        root["complete"] = .bool(report.job.finishedAt != nil)
        root["phases"] = .array(
            phases.map { p in
                var o = JSONObject()
                o["stage"] = .string(p.stage)
                o["phase"] = .number(JSONNumber(p.phase))
                o["name"] = .string(p.name)
                o["total"] = .number(JSONNumber(p.total))
                for s in TaskStatus.allCases { o[s.rawValue] = .number(JSONNumber(p.counts[s] ?? 0)) }
                if let v = p.docsPerSecond { o["docs_per_second"] = .number(JSONNumber(v.rounded())) }
                if let v = p.bytesPerSecond { o["bytes_per_second"] = .number(JSONNumber(v.rounded())) }
                if let v = p.etaSeconds { o["eta_seconds"] = .number(JSONNumber(v.rounded())) }
                return .object(o)
            })
        root["failed"] = .array(
            report.tasks.filter { $0.status == .failed }.map { t in
                .object(
                    JSONObject([
                        (key: "stage", value: .string(t.key.stage)), (key: "phase", value: .string(t.phaseName)),
                        (key: "shard", value: .string(t.shard)), (key: "error", value: .string(t.error ?? "")),
                    ]))
            })
        return .object(root)
    }
}
