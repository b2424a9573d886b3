import DarwinCore
import DarwinProvenance
import Foundation
import Yams

/// `darwin stats`: per stage and level, documents and bytes in and out; per step and rule, what was
/// removed; input errors; score histograms. As a terminal table or as JSON for scripts.
public struct StatsRenderer {
    public let report: JobReport
    public let stage: String?

    public init(report: JobReport, stage: String? = nil) {
        self.report = report
        self.stage = stage
    }

    private var summaries: [JobReport.StageSummary] {
        report.stageSummaries.filter { stage == nil || $0.name == stage }
    }

    // MARK: - Table

    /// The statistics as aligned terminal tables.
    public func table() -> String {
        var out = ""
        let job = report.job
        let state: String
        if report.isRunning {
            state = "running"
        } else if let f = job.finishedAt {
            state = "completed " + Self.timestamp(f)
        } else {
            state = "incomplete"
        }
        out += "job \(report.outputDirectory) · recipe \(job.recipePath) · darwin \(job.darwinVersion) · \(state)\n\n"
        // Stages whose steps make documents (chunks, merges) get two more columns.
        let creates = summaries.contains { $0.counts.docsCreated > 0 || $0.counts.docsConsumed > 0 }
        var header = ["stage", "level", "tasks", "docs in", "docs out", "kept", "rejected", "errors"]
        if creates { header += ["created", "consumed"] }
        var rows = [header + ["MB in", "MB out", "time"]]
        for s in summaries {
            let c = s.counts
            // Kept: the share of the documents the stage settled (read or made, and not consumed).
            var row = [
                s.name, "L\(s.level)", "\(s.tasksDone)/\(s.tasksTotal)", Format.count(c.docsIn),
                Format.count(c.docsOut),
                Format.percent(c.docsOut, of: c.docsIn + c.docsCreated - c.docsConsumed),
                Format.count(c.docsRejected), Format.count(c.docsErrored),
            ]
            if creates { row += [Format.count(c.docsCreated), Format.count(c.docsConsumed)] }
            rows.append(row + [Self.mb(c.bytesIn), Self.mb(c.bytesOut), Self.seconds(s.wallSeconds)])
        }
        out += Self.align(rows, rightAligned: Set(2..<rows[0].count))
        out += tokenTable()
        if stage == nil {
            let levels = levelRows()
            if levels.count > 2 || summaries.count > 1 {
                out += "\nby level\n" + Self.align(levels, rightAligned: Set(2...5))
            }
        }
        for s in summaries {
            let steps = report.steps(of: s.name).filter { $0.step != StageTokens.statisticsName }
            let errors = report.inputErrors[s.name] ?? [:]
            if steps.isEmpty && errors.isEmpty { continue }
            out += "\n\(s.name) · steps\n"
            var stepRows = [["step", "docs in", "dropped", "share", "rule", "docs", "MB", "time"]]
            for t in steps {
                let rules = t.stats.drops.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                let head = [
                    t.step, Format.count(t.stats.documentsIn), Format.count(t.stats.dropped),
                    Format.percent(t.stats.dropped, of: t.stats.documentsIn),
                ]
                if rules.isEmpty {
                    stepRows.append(head + ["–", "", "", Self.seconds(t.stats.seconds)])
                }
                for (i, (rule, n)) in rules.enumerated() {
                    let lead = i == 0 ? head : ["", "", "", ""]
                    stepRows.append(
                        lead + [
                            rule, Format.count(n), Self.mb(t.stats.dropBytes[rule] ?? 0),
                            i == 0 ? Self.seconds(t.stats.seconds) : "",
                        ])
                }
            }
            out += Self.indent(Self.align(stepRows, rightAligned: [1, 2, 3, 5, 6, 7]))
            let counters = steps.flatMap { t in
                t.stats.counters.sorted { $0.key < $1.key }.map { "\(t.step).\($0.key) \(Format.count($0.value))" }
            }
            if !counters.isEmpty { out += "  counters: " + counters.joined(separator: ", ") + "\n" }
            out += Self.modelTable(steps.map { ($0.step, $0.stats) })
            let making = steps.filter { $0.stats.created > 0 || $0.stats.consumed > 0 }.map {
                "\($0.step) created \(Format.count($0.stats.created)), consumed \(Format.count($0.stats.consumed))"
            }
            if !making.isEmpty { out += "  documents made: " + making.joined(separator: "; ") + "\n" }
            if !errors.isEmpty {
                out += report.inputErrorSummary(stage: s.name).map { "  " + $0 + "\n" }.joined()
            }
            for t in steps {
                for (name, h) in t.stats.histograms.sorted(by: { $0.key < $1.key }) where h.total > 0 {
                    out += "\n" + Self.indent(HistogramChart(histogram: h, title: "\(t.step).\(name)").render())
                }
            }
        }
        return out
    }

    /// Tokens in and out per stage: counted with the job's tokenizer when it names one (the `tokens`
    /// pseudo-step of every task), otherwise an estimate from the bytes, labelled as one.
    public func tokenCounts() -> [(stage: String, tokensIn: Int?, tokensOut: Int, written: Int?, exact: Bool)] {
        var out: [(String, Int?, Int, Int?, Bool)] = []
        var previous: Int? = nil
        for s in report.stageSummaries {
            let counters = report.steps(of: s.name).first { $0.step == StageTokens.statisticsName }?.stats.counters
            let row: (String, Int?, Int, Int?, Bool)
            if let counters, let o = counters["out"] {
                row = (s.name, counters["in"] ?? previous, o, counters["written"], true)
            } else {
                row = (
                    s.name, (s.counts.bytesIn + Self.bytesPerToken / 2) / Self.bytesPerToken,
                    (s.counts.bytesOut + Self.bytesPerToken / 2) / Self.bytesPerToken, nil, false
                )
            }
            previous = row.2
            if stage == nil || s.name == stage { out.append(row) }
        }
        return out
    }

    /// The ratio an estimate assumes when the job names no tokenizer.
    public static let bytesPerToken = 4

    private func tokenTable() -> String {
        let counts = tokenCounts()
        guard !counts.isEmpty else { return "" }
        let exact = counts.allSatisfy(\.exact)
        var rows = [["stage", exact ? "tokens in" : "≈ tokens in", exact ? "tokens out" : "≈ tokens out", "written"]]
        for c in counts {
            rows.append([
                c.stage, c.tokensIn.map(Format.count) ?? "–", Format.count(c.tokensOut),
                c.written.map(Format.count) ?? "–",
            ])
        }
        let title =
            exact
            ? "\ntokens (counted with \(report.job.tokenizerPath ?? "the job's tokenizer"))\n"
            : "\ntokens ≈ estimate: UTF-8 bytes ÷ \(Self.bytesPerToken); add 'tokenizer: PATH/tokenizer.json' to the recipe for exact counts\n"
        return title + Self.align(rows, rightAligned: [1, 2, 3])
    }

    private func levelRows() -> [[String]] {
        var rows = [["level", "stages", "docs in", "docs out", "rejected", "errors"]]
        let byLevel = Dictionary(grouping: summaries, by: \.level)
        for level in byLevel.keys.sorted() {
            guard let list = byLevel[level], let first = list.first, let last = list.last else { continue }
            rows.append([
                "L\(level)", list.map(\.name).joined(separator: ", "), Format.count(first.counts.docsIn),
                Format.count(last.counts.docsOut), Format.count(list.reduce(0) { $0 + $1.counts.docsRejected }),
                Format.count(list.reduce(0) { $0 + $1.counts.docsErrored }),
            ])
        }
        return rows
    }

    // MARK: - JSON

    /// The statistics as JSON (stable keys, for scripts).
    public func json() -> JSONValue {
        func n(_ i: Int) -> JSONValue { .number(JSONNumber(i)) }
        func d(_ x: Double) -> JSONValue { .number(JSONNumber((x * 1000).rounded() / 1000)) }
        var stages: [JSONValue] = []
        let tokens = Dictionary(tokenCounts().map { ($0.stage, $0) }, uniquingKeysWith: { a, _ in a })
        for s in summaries {
            var o = JSONObject()
            o["name"] = .string(s.name)
            o["level"] = n(s.level)
            o["tasks_done"] = n(s.tasksDone)
            o["tasks_total"] = n(s.tasksTotal)
            o["complete"] = .bool(s.isComplete)
            o["docs_in"] = n(s.counts.docsIn)
            o["docs_out"] = n(s.counts.docsOut)
            o["docs_rejected"] = n(s.counts.docsRejected)
            o["docs_errored"] = n(s.counts.docsErrored)
            o["docs_created"] = n(s.counts.docsCreated)
            o["docs_consumed"] = n(s.counts.docsConsumed)
            o["bytes_in"] = n(s.counts.bytesIn)
            o["bytes_out"] = n(s.counts.bytesOut)
            if let t = tokens[s.name] {
                // Exact counts with the job's tokenizer, or an estimate (bytes ÷ 4) flagged as one.
                o["tokens_in"] = t.tokensIn.map(n) ?? .null
                o["tokens_out"] = n(t.tokensOut)
                if let w = t.written { o["tokens_written"] = n(w) }
                o["tokens_estimated"] = .bool(!t.exact)
            }
            o["bytes_rejected"] = n(s.counts.bytesRejected)
            o["wall_seconds"] = d(s.wallSeconds)
            o["task_seconds"] = d(s.taskSeconds)
            o["input_errors"] = .object(
                JSONObject(
                    (report.inputErrors[s.name] ?? [:]).sorted { $0.key < $1.key }.map {
                        (key: $0.key, value: n($0.value))
                    }))
            o["steps"] = .array(
                report.steps(of: s.name).map { t in
                    var so = JSONObject()
                    so["step"] = .string(t.step)
                    so["position"] = n(t.position)
                    so["docs_in"] = n(t.stats.documentsIn)
                    so["dropped"] = n(t.stats.dropped)
                    so["created"] = n(t.stats.created)
                    so["consumed"] = n(t.stats.consumed)
                    so["seconds"] = d(t.stats.seconds)
                    so["drops"] = .object(
                        JSONObject(t.stats.drops.sorted { $0.key < $1.key }.map { (key: $0.key, value: n($0.value)) }))
                    so["drop_bytes"] = .object(
                        JSONObject(
                            t.stats.dropBytes.sorted { $0.key < $1.key }.map { (key: $0.key, value: n($0.value)) }))
                    so["counters"] = .object(
                        JSONObject(
                            t.stats.counters.sorted { $0.key < $1.key }.map { (key: $0.key, value: n($0.value)) }))
                    so["histograms"] = .object(
                        JSONObject(
                            t.stats.histograms.sorted { $0.key < $1.key }.map { (name, h) in
                                var ho = JSONObject()
                                ho["scale"] = .string(h.spec.scale.rawValue)
                                ho["edges"] = .array((0...h.spec.bins).map { .number(JSONNumber(h.spec.edge($0))) })
                                ho["counts"] = .array(h.counts.map(n))
                                ho["underflow"] = n(h.underflow)
                                ho["overflow"] = n(h.overflow)
                                ho["total"] = n(h.total)
                                // Share of values at or above each edge: what a threshold there keeps.
                                var above = h.total
                                var atLeast: [JSONValue] = []
                                for i in 0...h.spec.bins {
                                    if i == 0 { above -= h.underflow }
                                    atLeast.append(
                                        .number(JSONNumber(h.total > 0 ? Double(above) / Double(h.total) : 0)))
                                    if i < h.spec.bins { above -= h.counts[i] }
                                }
                                ho["share_at_or_above_edge"] = .array(atLeast)
                                if let m = h.mean { ho["mean"] = .number(JSONNumber(m)) }
                                if h.total > 0 {
                                    ho["min"] = .number(JSONNumber(h.minimum))
                                    ho["max"] = .number(JSONNumber(h.maximum))
                                }
                                return (key: name, value: .object(ho))
                            }))
                    return .object(so)
                })
            stages.append(.object(o))
        }
        var root = JSONObject()
        root["output"] = .string(report.outputDirectory)
        root["recipe"] = .string(report.job.recipePath)
        root["recipe_hash"] = .string(report.job.recipeHash)
        root["darwin_version"] = .string(report.job.darwinVersion)
        root["running"] = .bool(report.isRunning)
        root["finished_at"] = report.job.finishedAt.map { .string(Self.timestamp($0)) } ?? .null
        root["stages"] = .array(stages)
        root["levels"] = .array(levelJSON())
        return .object(root)
    }

    private func levelJSON() -> [JSONValue] {
        let byLevel = Dictionary(grouping: summaries, by: \.level)
        return byLevel.keys.sorted().compactMap { level in
            guard let list = byLevel[level], let first = list.first, let last = list.last else { return nil }
            var o = JSONObject()
            o["level"] = .number(JSONNumber(level))
            o["stages"] = .array(list.map { .string($0.name) })
            o["docs_in"] = .number(JSONNumber(first.counts.docsIn))
            o["docs_out"] = .number(JSONNumber(last.counts.docsOut))
            o["bytes_in"] = .number(JSONNumber(first.counts.bytesIn))
            o["bytes_out"] = .number(JSONNumber(last.counts.bytesOut))
            o["docs_rejected"] = .number(JSONNumber(list.reduce(0) { $0 + $1.counts.docsRejected }))
            o["docs_errored"] = .number(JSONNumber(list.reduce(0) { $0 + $1.counts.docsErrored }))
            return .object(o)
        }
    }

    // MARK: - Formatting helpers

    static func mb(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1e6) }

    static func seconds(_ s: Double) -> String {
        s < 60 ? String(format: "%.1f s", s) : Format.duration(s)
    }

    public static func timestamp(_ t: Double) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: t)) + " UTC"
    }

    /// What each model step did: requests, cache hits, model calls, tokens and their rate, latency
    /// percentiles, retries by cause, failures by reason and finish reasons (steps that count `requests`).
    static func modelTable(_ steps: [(name: String, stats: StepStats)]) -> String {
        let models = steps.filter { $0.stats.counters["requests"] != nil }
        guard !models.isEmpty else { return "" }
        var rows = [
            [
                "model step", "requests", "cache hits", "calls", "prompt tok", "output tok", "tok/s", "p50 ms",
                "p90 ms",
                "p99 ms",
            ]
        ]
        var notes: [String] = []
        for (name, stats) in models {
            let c = stats.counters
            let tokens = (c["prompt_tokens"] ?? 0) + (c["completion_tokens"] ?? 0)
            let rate = stats.seconds > 0 && (c["model_calls"] ?? 0) > 0 ? Double(tokens) / stats.seconds : 0
            let latency = stats.histograms["latency_ms"]
            let p = { (q: Double) -> String in
                latency.flatMap { $0.quantile(q) }.map { String(format: "%.0f", $0) } ?? "–"
            }
            rows.append([
                name, Format.count(c["requests"] ?? 0), Format.count(c["cache_hits"] ?? 0),
                Format.count(c["model_calls"] ?? 0), Format.count(c["prompt_tokens"] ?? 0),
                Format.count(c["completion_tokens"] ?? 0), rate > 0 ? String(format: "%.0f", rate) : "–", p(0.5),
                p(0.9),
                p(0.99),
            ])
            if let text = c["text_tokens"], text > 0, let answers = c["answer_tokens"] {
                let chunks = c["chunks"].map { " in \(Format.count($0)) chunks" } ?? ""
                notes.append(
                    "\(name) output tokens per input token: "
                        + String(format: "%.2f", Double(answers) / Double(text))
                        + " (\(Format.count(answers)) written for \(Format.count(text)) read\(chunks))")
            }
            for group in ["chunk", "guard", "qa", "retries", "failures", "finish"] {
                let items = c.filter { $0.key.hasPrefix(group + ".") }.sorted { $0.key < $1.key }
                if items.isEmpty { continue }
                let listed = items.map { "\($0.key.dropFirst(group.count + 1)) \(Format.count($0.value))" }
                notes.append("\(name) \(group): " + listed.joined(separator: ", "))
            }
        }
        var out = "\n" + Self.indent(Self.align(rows, rightAligned: Set(1...9)))
        out += notes.map { "  " + $0 + "\n" }.joined()
        out +=
            "  (tok/s: prompt and output tokens per second of the step's time; latency: percentiles estimated from the histogram)\n"
        return out
    }

    public static func indent(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(
            separator: "\n")
    }

    /// Aligns rows into columns separated by two spaces; the first row is the header.
    public static func align(_ rows: [[String]], rightAligned: Set<Int>) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = Array(repeating: 0, count: width)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        var out = ""
        for r in rows {
            var cells: [String] = []
            for i in 0..<width {
                let c = i < r.count ? r[i] : ""
                let pad = String(repeating: " ", count: widths[i] - c.count)
                cells.append(rightAligned.contains(i) ? pad + c : c + pad)
            }
            var line = cells.joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

/// A histogram drawn with bars, one bin a line, cumulative share beside each.
public struct HistogramChart {
    public let histogram: Histogram
    public let title: String
    public var width = 40

    public init(histogram: Histogram, title: String) {
        self.histogram = histogram
        self.title = title
    }

    public func render() -> String {
        let h = histogram
        var out = "\(title) — \(h.spec.summary) (n=\(Format.count(h.total))"
        if let m = h.mean { out += String(format: ", mean %.4g", m) }
        out += String(format: ", min %.4g, max %.4g)\n", h.minimum, h.maximum)
        // Show the bins between the first and last non-empty ones.
        guard let first = h.counts.firstIndex(where: { $0 > 0 }), let last = h.counts.lastIndex(where: { $0 > 0 })
        else {
            if h.underflow > 0 { out += "  all \(h.underflow) values below \(h.spec.lower)\n" }
            if h.overflow > 0 { out += "  all \(h.overflow) values above \(h.spec.upper)\n" }
            return out
        }
        let peak = max(1, h.counts.max() ?? 1, h.underflow, h.overflow)
        var cumulative = h.underflow
        func bar(_ n: Int) -> String {
            let full = Int((Double(n) / Double(peak) * Double(width)).rounded(.up))
            return String(repeating: "█", count: n > 0 ? max(1, full) : 0)
        }
        func edge(_ x: Double) -> String { String(format: "%.4g", x) }
        var rows: [[String]] = []
        // "≤": share of values up to the bin's upper edge; "≥": share from its lower edge up, i.e. what a
        // threshold at that edge would keep.
        if h.underflow > 0 {
            rows.append([
                "< " + edge(h.spec.lower), Format.count(h.underflow), Format.percent(cumulative, of: h.total),
                Format.percent(h.total, of: h.total), bar(h.underflow),
            ])
        }
        var i = first
        while i <= last {
            let above = h.total - cumulative
            // Three or more empty bins in a row take one line.
            var j = i
            while j <= last && h.counts[j] == 0 { j += 1 }
            if j - i >= 3 {
                rows.append([
                    edge(h.spec.edge(i)) + " – " + edge(h.spec.edge(j)), "0", Format.percent(cumulative, of: h.total),
                    Format.percent(above, of: h.total), "",
                ])
                i = j
                continue
            }
            cumulative += h.counts[i]
            rows.append([
                edge(h.spec.edge(i)) + " – " + edge(h.spec.edge(i + 1)), Format.count(h.counts[i]),
                Format.percent(cumulative, of: h.total), Format.percent(above, of: h.total), bar(h.counts[i]),
            ])
            i += 1
        }
        if h.overflow > 0 {
            let above = h.total - cumulative
            cumulative += h.overflow
            rows.append([
                "> " + edge(h.spec.upper), Format.count(h.overflow), Format.percent(cumulative, of: h.total),
                Format.percent(above, of: h.total), bar(h.overflow),
            ])
        }
        out += StatsRenderer.align([["bin", "count", "≤ bin", "≥ bin", ""]] + rows, rightAligned: [1, 2, 3])
        return out
    }
}

extension JobRecord {
    /// The recipe's top-level `tokenizer:`, if it names one.
    var tokenizerPath: String? {
        guard case .mapping(let top)? = try? Yams.compose(yaml: recipeText) else { return nil }
        return top["tokenizer"]?.string
    }
}
