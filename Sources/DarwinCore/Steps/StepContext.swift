import Foundation

/// What a step can see and record while it runs inside a task.
public struct StepContext: Sendable {
    /// The stage's name.
    public let stage: String
    /// The step's name within the stage (its id, or `id#2` for a second use).
    public let step: String
    /// The shard being processed (`nil` in reduce phases).
    public let shard: ShardInfo?
    /// Position of the current document in the task's input stream (collect and apply phases).
    public var documentIndex: Int = 0
    /// The seed of the job, for steps that draw random numbers.
    public let seed: UInt64
    /// Counters and histograms recorded by the step.
    public package(set) var stats: StepStats
    /// The job's output folder (where a step keeps state shared by the job's tasks, such as a response cache);
    /// `nil` outside a job.
    public var jobFolder: String? = nil

    /// A context for one step in one task.
    public init(stage: String, step: String, shard: ShardInfo?, seed: UInt64, histograms: [HistogramSpec]) {
        self.stage = stage
        self.step = step
        self.shard = shard
        self.seed = seed
        self.stats = StepStats(histograms: histograms)
    }

    /// Adds to a named counter (e.g. `emails_masked`), shown by `darwin stats`.
    public mutating func count(_ counter: String, by amount: Int = 1) {
        stats.counters[counter, default: 0] += amount
    }

    /// Records a value in a histogram the step's descriptor declared.
    public mutating func observe(_ histogram: String, _ value: Double) {
        stats.observe(histogram, value)
    }

    /// Records a value in a histogram whose shape the step decides when it is built (one per label of a
    /// model, say); the histogram is created on first use.
    public mutating func observe(_ spec: HistogramSpec, _ value: Double) {
        if stats.histograms[spec.name] == nil { stats.histograms[spec.name] = Histogram(spec: spec) }
        stats.histograms[spec.name]?.add(value)
    }
}

/// Counters, drop counts per rule and histograms of one step in one task; summed across tasks.
public struct StepStats: Sendable, Equatable {
    /// Documents that reached the step.
    public var documentsIn = 0
    /// Documents the step dropped, per rule.
    public var drops: [String: Int] = [:]
    /// UTF-8 bytes of text of the documents the step dropped, per rule.
    public var dropBytes: [String: Int] = [:]
    /// Named counters the step reported.
    public var counters: [String: Int] = [:]
    /// Histograms by name.
    public var histograms: [String: Histogram] = [:]
    /// Seconds spent inside the step.
    public var seconds: Double = 0
    /// New documents the step made (chunks, added documents, merges).
    public var created = 0
    /// Documents the step replaced by others or merged away (neither kept nor dropped).
    public var consumed = 0

    /// Empty statistics with the given histograms.
    public init(histograms: [HistogramSpec] = []) {
        for spec in histograms { self.histograms[spec.name] = Histogram(spec: spec) }
    }

    /// Records a value in a declared histogram; undeclared names are a programming error.
    public mutating func observe(_ name: String, _ value: Double) {
        guard histograms[name] != nil else {
            preconditionFailure("histogram '\(name)' is not declared in the step's descriptor")
        }
        histograms[name]?.add(value)
    }

    /// Adds another task's statistics to these.
    public mutating func merge(_ other: StepStats) {
        documentsIn += other.documentsIn
        drops.merge(other.drops, uniquingKeysWith: +)
        dropBytes.merge(other.dropBytes, uniquingKeysWith: +)
        counters.merge(other.counters, uniquingKeysWith: +)
        for (name, h) in other.histograms {
            if histograms[name] == nil {
                histograms[name] = h
            } else {
                histograms[name]?.merge(h)
            }
        }
        seconds += other.seconds
        created += other.created
        consumed += other.consumed
    }

    /// Documents dropped by any rule.
    public var dropped: Int { drops.values.reduce(0, +) }
}

/// The shape of a histogram: value range, number of bins and spacing.
public struct HistogramSpec: Sendable, Equatable, Codable {
    /// Bin spacing.
    public enum Scale: String, Sendable, Codable {
        case linear
        /// Bins evenly spaced in log10; `lower` must be positive.
        case log
    }

    public let name: String
    public let lower: Double
    public let upper: Double
    public let bins: Int
    public let scale: Scale
    /// What the value is, for `darwin stats`.
    public let summary: String

    public init(name: String, lower: Double, upper: Double, bins: Int, scale: Scale, summary: String) {
        precondition(upper > lower && bins > 0 && (scale == .linear || lower > 0), "invalid histogram '\(name)'")
        self.name = name
        self.lower = lower
        self.upper = upper
        self.bins = bins
        self.scale = scale
        self.summary = summary
    }

    /// The lower edge of bin `i` (bin `bins` is the upper bound).
    public func edge(_ i: Int) -> Double {
        let f = Double(i) / Double(bins)
        switch scale {
        case .linear: return lower + f * (upper - lower)
        case .log: return pow(10, log10(lower) + f * (log10(upper) - log10(lower)))
        }
    }

    /// The bin of `value`: -1 below the range, `bins` above it. The last bin includes the upper bound, so
    /// that shares and probabilities of exactly 1 fall in the 0.95–1 bin.
    public func bin(of value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? bins : -1 }
        let f: Double
        switch scale {
        case .linear: f = (value - lower) / (upper - lower)
        case .log:
            guard value > 0 else { return -1 }
            f = (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
        }
        if f < 0 { return -1 }
        if f > 1 { return bins }
        return min(bins - 1, Int(f * Double(bins)))
    }
}

/// Counts of values per bin, with underflow and overflow, plus the exact sum, minimum and maximum.
public struct Histogram: Sendable, Equatable, Codable {
    public let spec: HistogramSpec
    public private(set) var counts: [Int]
    public private(set) var underflow = 0
    public private(set) var overflow = 0
    public private(set) var total = 0
    public private(set) var sum = 0.0
    public private(set) var minimum = Double.infinity
    public private(set) var maximum = -Double.infinity

    public init(spec: HistogramSpec) {
        self.spec = spec
        self.counts = Array(repeating: 0, count: spec.bins)
    }

    /// Counts one value.
    public mutating func add(_ value: Double) {
        let b = spec.bin(of: value)
        if b < 0 {
            underflow += 1
        } else if b >= spec.bins {
            overflow += 1
        } else {
            counts[b] += 1
        }
        total += 1
        if value.isFinite {
            sum += value
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }
    }

    /// Adds another histogram of the same spec.
    public mutating func merge(_ other: Histogram) {
        precondition(other.spec == spec, "merging histograms of different shapes")
        for i in counts.indices { counts[i] += other.counts[i] }
        underflow += other.underflow
        overflow += other.overflow
        total += other.total
        sum += other.sum
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
    }

    /// The mean of the recorded values, or `nil` when empty.
    public var mean: Double? { total > 0 ? sum / Double(total) : nil }

    /// An estimate of quantile `q` (0…1) from the bins, or `nil` when empty.
    public func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let target = q * Double(total)
        var seen = Double(underflow)
        if target <= seen { return minimum }
        for i in 0..<spec.bins {
            let c = Double(counts[i])
            if seen + c >= target, c > 0 {
                let lo = spec.edge(i), hi = spec.edge(i + 1)
                return lo + (hi - lo) * (target - seen) / c
            }
            seen += c
        }
        return maximum
    }
}
