import DarwinCore
import Foundation

/// How much bad input a job accepts before it fails: a count and a share of records, applied to each shard
/// and to the whole job.
///
/// A shard past the budget fails its task (the other tasks go on, and the run exits non-zero); a job past
/// it stops. The share is judged once ``minimumErrors`` errors were seen, so that one bad line in a
/// ten-line file is not a failure, and mid-shard once ``recordsBeforeEarlyCheck`` records were read, so
/// that a shard of pure junk fails early instead of being read to its end.
public struct ErrorBudget: Sendable, Equatable {
    /// Most input errors per shard and per job; `nil` for no limit (the default).
    public var maxErrors: Int?
    /// Largest share of records (documents and errors) that may be errors, per shard and per job.
    public var maxRate: Double

    /// The default share: a shard that is more than half errors fails.
    public static let defaultMaxRate = 0.5
    /// Errors needed before the share is judged.
    public static let minimumErrors = 10
    /// Records a shard must have read before its share is judged mid-shard.
    public static let recordsBeforeEarlyCheck = 1000
    /// Error records written per shard, each with the full bad input; past it errors are counted only.
    public static let recordsWrittenPerShard = 1000
    /// Errors per task kept in provenance as examples.
    public static let samplesPerTask = 5

    public init(maxErrors: Int? = nil, maxRate: Double = ErrorBudget.defaultMaxRate) {
        self.maxErrors = maxErrors
        self.maxRate = maxRate
    }

    /// Why `errors` out of `records` exceed the budget, or `nil`; `scope` names what is judged (`shard`,
    /// `job`). Mid-way (`final` false) the share is judged only after ``recordsBeforeEarlyCheck`` records.
    public func exceeded(errors: Int, records: Int, final: Bool, scope: String) -> String? {
        if let maxErrors, errors > maxErrors {
            return
                "too many input errors in the \(scope): \(Format.count(errors)) (more than --max-errors \(maxErrors))"
        }
        guard errors >= Self.minimumErrors, records > 0, final || records >= Self.recordsBeforeEarlyCheck else {
            return nil
        }
        let share = Double(errors) / Double(records)
        guard share > maxRate else { return nil }
        return
            "too many input errors in the \(scope): \(Format.count(errors)) of \(Format.count(records)) records (\(Format.percent(errors, of: records))), more than --max-error-rate \(maxRate)"
    }
}

/// Counts one shard's records and errors against the budget.
struct ShardErrorBudget {
    let budget: ErrorBudget
    private(set) var records = 0
    private(set) var errors = 0

    init(budget: ErrorBudget) { self.budget = budget }

    mutating func countRecord() { records += 1 }

    /// Counts an input error (a record that did not become a document).
    mutating func countError() {
        records += 1
        errors += 1
    }

    /// Counts a document already counted as a record that a step failed on.
    mutating func countDocumentError() { errors += 1 }

    /// Why the shard is past its budget, or `nil`. Cheap enough to call after every record.
    func exceeded(final: Bool) -> String? {
        guard errors > 0 else { return nil }
        return budget.exceeded(errors: errors, records: records, final: final, scope: "shard")
    }
}
