/// The type of a step parameter, with its constraints.
public enum ParameterType: Sendable, Equatable {
    /// A whole number, optionally within bounds.
    case integer(min: Int? = nil, max: Int? = nil)
    /// A number, optionally within bounds; integers are accepted.
    case number(min: Double? = nil, max: Double? = nil)
    case boolean
    case string
    /// A list of strings; a single string is accepted as a one-element list.
    case stringList
    /// One of the given strings.
    case choice([String])
    /// A byte count: an integer or a string with a unit (`8KB`, `64MiB`).
    case byteSize
    /// Any JSON value (for `set_field` values and similar).
    case json

    /// How the type reads in `darwin steps` and in errors.
    public var description: String {
        switch self {
        case .integer(let lo, let hi): return "integer" + Self.bounds(lo.map(Double.init), hi.map(Double.init))
        case .number(let lo, let hi): return "number" + Self.bounds(lo, hi)
        case .boolean: return "boolean"
        case .string: return "string"
        case .stringList: return "list of strings"
        case .choice(let options): return "one of " + options.joined(separator: ", ")
        case .byteSize: return "size (e.g. 8KB, 64MiB)"
        case .json: return "any value"
        }
    }

    private static func bounds(_ lo: Double?, _ hi: Double?) -> String {
        func f(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }
        switch (lo, hi) {
        case (nil, nil): return ""
        case (let lo?, nil): return " ≥ \(f(lo))"
        case (nil, let hi?): return " ≤ \(f(hi))"
        case (let lo?, let hi?): return " in \(f(lo))…\(f(hi))"
        }
    }

    /// Checks `value` against the type and returns its normal form, or a lower-case message.
    public func normalize(_ value: JSONValue) -> Result<JSONValue, ParameterTypeMismatch> {
        func fail(_ expected: String) -> Result<JSONValue, ParameterTypeMismatch> {
            .failure(ParameterTypeMismatch(message: "expected \(expected), got \(Self.show(value))"))
        }
        switch self {
        case .integer(let lo, let hi):
            guard case .number(let n) = value, let i = n.intValue else { return fail("an integer") }
            if let lo, i < lo { return fail("an integer ≥ \(lo)") }
            if let hi, i > hi { return fail("an integer ≤ \(hi)") }
            return .success(.number(JSONNumber(i)))
        case .number(let lo, let hi):
            guard let d = value.doubleValue, d.isFinite else { return fail("a number") }
            if let lo, d < lo { return fail("a number" + Self.bounds(lo, hi)) }
            if let hi, d > hi { return fail("a number" + Self.bounds(lo, hi)) }
            return .success(value)
        case .boolean:
            guard value.boolValue != nil else { return fail("true or false") }
            return .success(value)
        case .string:
            guard value.stringValue != nil else { return fail("a string") }
            return .success(value)
        case .stringList:
            if let s = value.stringValue { return .success(.array([.string(s)])) }
            guard let a = value.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
                return fail("a list of strings")
            }
            return .success(value)
        case .choice(let options):
            guard let s = value.stringValue, options.contains(s) else {
                return fail("one of " + options.joined(separator: ", "))
            }
            return .success(value)
        case .byteSize:
            if let i = value.intValue, i >= 0 { return .success(.number(JSONNumber(i))) }
            guard let s = value.stringValue, let bytes = ByteSize.parse(s) else {
                return fail("a size such as 8KB or 64MiB")
            }
            return .success(.number(JSONNumber(bytes)))
        case .json:
            return .success(value)
        }
    }

    private static func show(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return "'\(s)'"
        case .number(let n): return n.lexeme
        case .bool(let b): return String(b)
        default: return value.kindDescription
        }
    }
}

/// A value that does not fit a parameter's type.
public struct ParameterTypeMismatch: Error, Sendable {
    public let message: String
}

/// One parameter of a step.
public struct ParameterSpec: Sendable {
    public let name: String
    public let type: ParameterType
    /// The default; `nil` means the parameter is required. `.null` means "none" and is allowed.
    public let defaultValue: JSONValue?
    /// What the parameter does, with its source when it is a published threshold.
    public let summary: String
    /// Whether `null` is accepted (it switches the rule off).
    public let isNullable: Bool

    public init(
        _ name: String, _ type: ParameterType, default defaultValue: JSONValue?, _ summary: String,
        nullable: Bool = false
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.summary = summary
        self.isNullable = nullable || defaultValue == .null
    }

    /// Whether a recipe must give this parameter.
    public var isRequired: Bool { defaultValue == nil }
}

/// Validated parameters of one step, with defaults filled in.
public struct Parameters: Sendable, Equatable {
    /// Values by name, in normal form.
    public let values: [String: JSONValue]

    public init(_ values: [String: JSONValue]) { self.values = values }

    /// Checks raw values against the specs and fills in defaults.
    ///
    /// - Returns: the parameters, or the first problem as (parameter name, lower-case message).
    public static func validate(
        _ raw: [(name: String, value: JSONValue)], against specs: [ParameterSpec]
    ) -> Result<Parameters, ParameterError> {
        var values: [String: JSONValue] = [:]
        for (name, value) in raw {
            guard let spec = specs.first(where: { $0.name == name }) else {
                let known = specs.map(\.name)
                var message = "unknown parameter '\(name)'"
                if let near = nearest(name, in: known) { message += "; did you mean '\(near)'?" }
                if !known.isEmpty { message += " (parameters: \(known.joined(separator: ", ")))" }
                return .failure(ParameterError(name, message))
            }
            if value == .null, spec.isNullable {
                values[name] = .null
                continue
            }
            switch spec.type.normalize(value) {
            case .success(let v): values[name] = v
            case .failure(let e): return .failure(ParameterError(name, "parameter '\(name)': \(e.message)"))
            }
        }
        for spec in specs where values[spec.name] == nil {
            guard let d = spec.defaultValue else {
                return .failure(ParameterError(spec.name, "missing required parameter '\(spec.name)'"))
            }
            // Defaults go through the same normalisation as given values ("8KB" becomes 8000).
            if d != .null, case .success(let v) = spec.type.normalize(d) {
                values[spec.name] = v
            } else {
                values[spec.name] = d
            }
        }
        return .success(Parameters(values))
    }

    /// A deterministic JSON rendering (keys sorted), for hashing and display.
    public var canonicalJSON: String {
        JSONWriter.string(.object(JSONObject(values.keys.sorted().map { (key: $0, value: values[$0] ?? .null) })))
    }

    // MARK: Typed access (parameters are validated before a step is made)

    public func int(_ name: String) -> Int { values[name]?.intValue ?? 0 }
    public func optionalInt(_ name: String) -> Int? { values[name]?.intValue }
    public func double(_ name: String) -> Double { values[name]?.doubleValue ?? 0 }
    public func optionalDouble(_ name: String) -> Double? { values[name]?.doubleValue }
    public func bool(_ name: String) -> Bool { values[name]?.boolValue ?? false }
    public func string(_ name: String) -> String { values[name]?.stringValue ?? "" }
    public func optionalString(_ name: String) -> String? { values[name]?.stringValue }
    public func strings(_ name: String) -> [String] { values[name]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public func json(_ name: String) -> JSONValue { values[name] ?? .null }
}

/// Suggests the name a typo most likely meant, or `nil` when none is close.
///
/// Names are compared without case, with `-` and spaces read as `_`. The distance counts an insertion, a
/// deletion, a substitution or a swap of two neighbouring characters as one edit (optimal string alignment), so
/// `mni` is one edit from `min` and two from `max`; a name made of a candidate's words in another order
/// (`bytes_max`) is one edit from it. A candidate is close when the distance is at most 1 for names of up to three
/// characters, else at most a third of the shorter name's length (at least 2). Of the close candidates the nearest
/// wins; on a tie, the one sharing the longest subsequence with the name (`ky` is `key`, not `k`), then the first
/// listed. Without a close candidate, a name of four or more characters that begins exactly one candidate
/// (`min_prob`) suggests it.
public func nearest(_ name: String, in candidates: [String]) -> String? {
    let typed = Suggestion.normal(name)
    guard !typed.isEmpty else { return nil }
    var best: (index: Int, distance: Int, common: Int)?
    for (index, candidate) in candidates.enumerated() {
        let known = Suggestion.normal(candidate)
        var distance = Suggestion.editDistance(typed, known)
        if distance > 1 && Suggestion.sameWords(typed, known) { distance = 1 }
        let shorter = min(typed.count, known.count)
        guard distance <= (shorter <= 3 ? 1 : max(2, shorter / 3)) else { continue }
        let common = Suggestion.commonSubsequence(typed, known)
        if let b = best, (b.distance, -b.common) <= (distance, -common) { continue }
        best = (index, distance, common)
    }
    if let best { return candidates[best.index] }
    let extended = candidates.filter { Suggestion.normal($0).starts(with: typed) }
    return typed.count >= 4 && extended.count == 1 ? extended[0] : nil
}

/// The measures ``nearest(_:in:)`` compares names with.
private enum Suggestion {
    static func normal(_ name: String) -> [Character] {
        name.lowercased().map { $0 == "-" || $0 == " " ? "_" : $0 }
    }

    /// Edits (insertions, deletions, substitutions, swaps of neighbours) from `a` to `b`.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    /// Whether both names have the same two or more `_`-separated words, in any order.
    static func sameWords(_ a: [Character], _ b: [Character]) -> Bool {
        let wa = a.split(separator: "_").map { String($0) }.sorted()
        return wa.count > 1 && wa == b.split(separator: "_").map { String($0) }.sorted()
    }

    /// The length of the longest common subsequence.
    static func commonSubsequence(_ a: [Character], _ b: [Character]) -> Int {
        var previous = [Int](repeating: 0, count: b.count + 1)
        for ca in a {
            var current = [0]
            current.reserveCapacity(b.count + 1)
            for (j, cb) in b.enumerated() {
                current.append(ca == cb ? previous[j] + 1 : max(previous[j + 1], current[j]))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// Byte sizes written with units.
public enum ByteSize {
    /// Parses `8KB`, `8 kB`, `64MiB`, `1G`, `512` (bytes). Decimal units are powers of 1000, binary of 1024.
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingSpaces()
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits) else { return nil }
        let unit = String(t.dropFirst(digits.count)).trimmingSpaces().lowercased()
        let factor: Double
        switch unit {
        case "", "b": factor = 1
        case "k", "kb": factor = 1e3
        case "m", "mb": factor = 1e6
        case "g", "gb": factor = 1e9
        case "t", "tb": factor = 1e12
        case "kib": factor = 1024
        case "mib": factor = 1024 * 1024
        case "gib": factor = 1024 * 1024 * 1024
        case "tib": factor = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let value = number * factor
        guard value.isFinite, value >= 0, value < 9e18 else { return nil }
        return Int(value)
    }

    /// `1.5 MB`, `312 KB`, `12 B` (decimal units).
    public static func format(_ bytes: Int) -> String {
        let b = Double(bytes)
        if b >= 1e12 { return String(format1(b / 1e12)) + " TB" }
        if b >= 1e9 { return String(format1(b / 1e9)) + " GB" }
        if b >= 1e6 { return String(format1(b / 1e6)) + " MB" }
        if b >= 1e3 { return String(format1(b / 1e3)) + " KB" }
        return "\(bytes) B"
    }

    private static func format1(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
