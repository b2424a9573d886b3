import Foundation
import Synchronization

/// Shared stop flag of a run: set by SIGINT/SIGTERM or by a fatal error, checked by tasks between documents.
public final class RunControl: Sendable {
    /// Why the run is stopping.
    public enum StopReason: Int, Sendable {
        case none = 0
        case interrupt = 2  // SIGINT
        case terminate = 15  // SIGTERM
        case fatal = 100  // a `--strict` error or a failure that ends the run
    }

    private let reason = Atomic<Int>(0)

    public init() {}

    /// Asks every task to stop; the first reason wins.
    public func requestStop(_ why: StopReason) {
        _ = reason.compareExchange(expected: 0, desired: why.rawValue, ordering: .relaxed)
    }

    /// Whether a stop was requested.
    public var isStopping: Bool { reason.load(ordering: .relaxed) != 0 }

    /// The reason of the stop, or `.none`.
    public var stopReason: StopReason { StopReason(rawValue: reason.load(ordering: .relaxed)) ?? .fatal }
}

/// Crash points for testing durability: `DARWIN_CRASH_AT=<point>:<n>` kills the process with SIGKILL the
/// n-th time `point` is reached. Points: `task-start`, `mid-task`, `before-commit`, `after-commit`,
/// `after-done`, `reduce`.
///
/// Reading an unset environment variable is all this costs in normal runs.
public enum CrashPoints {
    private static let target: (point: String, count: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["DARWIN_CRASH_AT"] else { return nil }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let n = Int(parts[1]), n > 0 else { return nil }
        return (String(parts[0]), n)
    }()
    private static let hits = Mutex<Int>(0)

    /// Marks that `point` was reached; kills the process if this is the configured hit.
    public static func reach(_ point: String) {
        guard let target, target.point == point else { return }
        let n = hits.withLock { h in
            h += 1
            return h
        }
        if n == target.count { kill(getpid(), SIGKILL) }
    }

    /// Whether any crash point is configured.
    public static var isArmed: Bool { target != nil }
}

/// Live counters for the progress line, updated by workers in batches.
public final class ProgressCounters: Sendable {
    private struct State {
        var docs = 0
        var bytes = 0
        var fileBytes = 0
        var stage = ""
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds a batch of documents.
    public func add(docs: Int, bytes: Int, fileBytes: Int, stage: String) {
        state.withLock {
            $0.docs += docs
            $0.bytes += bytes
            $0.fileBytes += fileBytes
            $0.stage = stage
        }
    }

    /// Documents, text bytes and input file bytes so far, and the stage last reported.
    public var snapshot: (docs: Int, bytes: Int, fileBytes: Int, stage: String) {
        state.withLock { ($0.docs, $0.bytes, $0.fileBytes, $0.stage) }
    }
}

/// Monotonic time in seconds.
@inline(__always)
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Wall-clock time in seconds since 1970.
func wallClock() -> Double { Date().timeIntervalSince1970 }
