import DarwinCore
import Foundation

/// Diagnostics on stderr, one line each, cooperating with a live progress line.
public final class Console: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var liveLine: String?
    /// Whether stderr is a terminal.
    public let isTerminal: Bool
    /// Informational messages are dropped when quiet.
    public let quiet: Bool

    public init(quiet: Bool = false) {
        self.quiet = quiet
        self.isTerminal = isatty(STDERR_FILENO) == 1
    }

    public func info(_ message: String) { if !quiet { emit("darwin: " + message) } }
    public func warning(_ message: String) { emit("darwin: warning: " + message) }
    public func error(_ message: String) { emit("darwin: error: " + message) }
    /// A warning of several lines: the first prefixed, the others indented beneath it.
    public func warning(lines: [String]) {
        guard let first = lines.first else { return }
        emit((["darwin: warning: " + first] + lines.dropFirst().map { "  " + $0 }).joined(separator: "\n"))
    }

    private func emit(_ line: String) {
        lock.withLock {
            var out = ""
            if liveLine != nil { out += "\r\u{1B}[K" }
            out += line + "\n"
            if let live = liveLine { out += live }
            FileHandle.standardError.write(Data(out.utf8))
        }
    }

    /// Replaces the live progress line (terminal only); `nil` clears it.
    func setLiveLine(_ line: String?) {
        lock.withLock {
            var out = "\r\u{1B}[K"
            if let line { out += line }
            liveLine = line
            FileHandle.standardError.write(Data(out.utf8))
        }
    }
}

/// Shows progress: a live line on a terminal, a plain line every few seconds elsewhere.
final class ProgressReporter {
    private let style: ProgressStyle
    private let interval: Double
    private let console: Console
    private let started = monotonicSeconds()
    private var lastShown = 0.0
    private var isLive: Bool {
        switch style {
        case .live: return true
        case .auto: return console.isTerminal
        case .plain, .none: return false
        }
    }

    init(style: ProgressStyle, interval: Double, console: Console) {
        self.style = style
        self.interval = interval
        self.console = console
        lastShown = started
    }

    func tick(scheduler: TaskScheduler, counters: ProgressCounters, inputs: [InputShard]) {
        guard style != .none else { return }
        if totalWork == nil { totalWork = scheduler.remainingPassBytes(inputs: inputs) }
        let now = monotonicSeconds()
        let every = isLive ? 0.5 : interval
        guard now - lastShown >= every else { return }
        lastShown = now
        guard let line = describe(scheduler: scheduler, counters: counters, now: now) else { return }
        if isLive {
            console.setLiveLine(line)
        } else {
            console.info(line)
        }
    }

    func finish(scheduler: TaskScheduler, counters: ProgressCounters) {
        if isLive { console.setLiveLine(nil) }
    }

    private func describe(scheduler: TaskScheduler, counters: ProgressCounters, now: Double) -> String? {
        let c = counters.snapshot
        let elapsed = max(now - started, 0.001)
        let tasks = scheduler.localProgress
        var parts: [String] = []
        if let active = scheduler.activePhase {
            var what = "\(active.stage.spec.name) (\(active.stage.level))"
            if active.stage.phases.count > 1 {
                what += " phase \(active.phase.index + 1)/\(active.stage.phases.count) \(active.phase.name)"
            }
            let unit = { if case .pass = active.phase.kind { return "shards" } else { return "partitions" } }()
            parts.append(what)
            parts.append("\(unit) \(active.done)/\(active.total)")
        }
        parts.append("tasks \(tasks.done)/\(tasks.total)")
        parts.append("\(Format.count(c.docs)) docs")
        parts.append("\(Format.count(Int(Double(c.docs) / elapsed))) docs/s")
        parts.append(String(format: "%.1f MB/s", Double(c.bytes) / elapsed / 1e6))
        if let total = totalWork, c.fileBytes > 0, tasks.total > tasks.done {
            // Input read so far sets the pace for what is left (shards of later passes are assumed no
            // larger than the input shards, so the estimate errs long).
            let eta = elapsed * Double(max(0, total - c.fileBytes)) / Double(c.fileBytes)
            parts.append("ETA " + Format.duration(eta))
        }
        return parts.joined(separator: " · ")
    }

    /// Input bytes this run has to read, measured at the first tick.
    private var totalWork: Int?
}

/// Number and duration formatting for terminal output.
public enum Format {
    /// `12,345`.
    public static func count(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `0:32`, `12:05`, `3:02:10`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }

    /// `12.3 %`.
    public static func percent(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "–" }
        return String(format: "%.1f %%", Double(part) * 100 / Double(whole))
    }
}
