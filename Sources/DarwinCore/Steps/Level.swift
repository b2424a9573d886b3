/// A level of the Data Darwinism taxonomy: how deeply a stage processes its documents.
public enum Level: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case l0 = 0, l1, l2, l3, l4, l5, l6, l7, l8, l9

    /// `L0` … `L9`.
    public var description: String { "L\(rawValue)" }

    /// The level's name.
    public var name: String {
        switch self {
        case .l0: return "Data acquisition"
        case .l1: return "Format normalization"
        case .l2: return "Rule-based filtering"
        case .l3: return "Lightweight model filtering"
        case .l4: return "Generative refinement"
        case .l5: return "Cognitive completion"
        case .l6: return "Contextual completion"
        case .l7: return "Environment synthesis"
        case .l8: return "Ecosystem synthesis"
        case .l9: return "World synthesis"
        }
    }

    /// What the level does, in one line.
    public var summary: String {
        switch self {
        case .l0: return "brings raw sources in as canonical shards, with source and URL"
        case .l1: return "turns heterogeneous formats into clean unified text; sets aside only what has no text"
        case .l2: return "deterministic rules and dedup keep or drop documents"
        case .l3: return "small classifiers score, tag and select documents"
        case .l4: return "an LLM removes noise and repairs fragments, preserving meaning"
        case .l5: return "an LLM makes implicit reasoning explicit"
        case .l6: return "documents gain the context they lack"
        case .l7: return "model-built exercises and environments seeded by documents"
        case .l8: return "multi-role, multi-document synthesis"
        case .l9: return "whole synthetic worlds from seed specs"
        }
    }

    /// Typical steps, for `darwin levels`.
    public var typicalSteps: String {
        switch self {
        case .l0: return "read WARC/WET, HTML/text trees, JSONL(.gz/.zst)"
        case .l1: return "HTML main-content extraction, charset decoding, NFC, mojibake and whitespace repair"
        case .l2: return "language ID, Gopher, C4, FineWeb rules, URL filters, PII, exact and MinHash dedup"
        case .l3: return "fastText quality, educational-value and domain classifiers"
        case .l4: return "full rewrite or edit programs with drift guards"
        case .l5: return "terminology explanation, step expansion, question-answer synthesis"
        case .l6: return "grouping related documents, context augmentation"
        case .l7: return "verifiable problems with answers or tests"
        case .l8: return "dialogues, debates, multi-agent traces"
        case .l9: return "long-form consistent synthetic corpora"
        }
    }

    /// Parses `L2`, `l2` or `2`.
    public init?(parsing text: String) {
        var t = Substring(text)
        if t.first == "L" || t.first == "l" { t = t.dropFirst() }
        guard let n = Int(t), let level = Level(rawValue: n) else { return nil }
        self = level
    }

    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
}
