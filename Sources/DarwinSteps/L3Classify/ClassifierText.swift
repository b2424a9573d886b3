import DarwinCore
import Foundation

/// How a document's text is turned into the line a fastText classifier reads, the same way when training
/// (`darwin train-classifier`) and when classifying (`fasttext_classify`).
///
/// fastText reads a line and splits it on whitespace; newlines and other separators are spaces to it.
/// Optionally the text is cut to its first `maxChars` characters (Unicode scalars) and then its first
/// `maxTokens` whitespace-separated tokens, and lower-cased (Unicode case mapping).
public struct ClassifierText: Sendable, Equatable, Codable {
    public var lowercase: Bool
    /// 0 = no limit.
    public var maxChars: Int
    /// 0 = no limit.
    public var maxTokens: Int

    public init(lowercase: Bool = false, maxChars: Int = 0, maxTokens: Int = 0) {
        self.lowercase = lowercase
        self.maxChars = maxChars
        self.maxTokens = maxTokens
    }

    enum CodingKeys: String, CodingKey {
        case lowercase
        case maxChars = "max_chars"
        case maxTokens = "max_tokens"
    }

    /// Whether the text goes to fastText unchanged.
    public var isIdentity: Bool { !lowercase && maxChars <= 0 && maxTokens <= 0 }

    /// The text as the classifier reads it.
    public func apply(_ text: String) -> String {
        if isIdentity { return text }
        var t = Substring(text)
        if maxChars > 0, t.unicodeScalars.count > maxChars {
            let end = t.unicodeScalars.index(t.unicodeScalars.startIndex, offsetBy: maxChars)
            t = Substring(t.unicodeScalars[..<end])
        }
        if maxTokens > 0 { t = Self.firstTokens(t, maxTokens) }
        if lowercase { return TextBytes.isASCII(String(t)) ? asciiLower(t) : t.lowercased() }
        return String(t)
    }

    /// A training line: `__label__<label> <text>`, with the text on one line and tokens that fastText would
    /// read as labels removed (at prediction fastText skips them, so training does not see them either).
    public func trainingLine(labels: [String], text: String) -> String {
        var t = apply(text)
        if t.contains("__label__") {
            t = t.split(whereSeparator: Self.isSeparator).filter { !$0.hasPrefix("__label__") }.joined(separator: " ")
        }
        var line = labels.map { "__label__" + $0 + " " }.joined()
        line.reserveCapacity(line.utf8.count + t.utf8.count + 1)
        for c in t.unicodeScalars { line.unicodeScalars.append(c == "\n" || c == "\r" ? " " : c) }
        return line
    }

    /// fastText's token separators.
    static func isSeparator(_ c: Character) -> Bool {
        c == " " || c == "\n" || c == "\r\n" || c == "\r" || c == "\t" || c == "\u{0B}" || c == "\u{0C}" || c == "\0"
    }

    private static func firstTokens(_ t: Substring, _ n: Int) -> Substring {
        let bytes = Array(t.utf8)
        var tokens = 0
        var i = 0
        while i < bytes.count {
            while i < bytes.count && isSeparatorByte(bytes[i]) { i += 1 }
            if i == bytes.count { break }
            if tokens == n { break }
            while i < bytes.count && !isSeparatorByte(bytes[i]) { i += 1 }
            tokens += 1
        }
        // `i` is at a separator (ASCII) or the end: a character boundary.
        let end = t.utf8.index(t.utf8.startIndex, offsetBy: i)
        return t[..<end]
    }

    @inline(__always)
    private static func isSeparatorByte(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == 0x0B || b == 0x0C || b == 0
    }

    private func asciiLower(_ t: Substring) -> String {
        String(decoding: t.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

/// What `darwin train-classifier` writes beside a model (`<model>.json`): how to prepare text for it, how it
/// was trained and how it scored on validation. `fasttext_classify` reads the preparation from it.
public struct ClassifierCard: Sendable, Codable, Equatable {
    public struct LabelScore: Sendable, Codable, Equatable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Validation documents with this label.
        public var support: Int
    }

    public struct Validation: Sendable, Codable, Equatable {
        public var documents: Int
        public var accuracy: Double
        public var macroF1: Double
        public var labels: [String: LabelScore]

        enum CodingKeys: String, CodingKey {
            case documents, accuracy, labels
            case macroF1 = "macro_f1"
        }
    }

    public var format = "darwin-classifier/1"
    public var labels: [String]
    public var text: ClassifierText
    public var arguments: FastTextTrainingArguments
    public var trainDocuments: [String: Int]
    public var validation: Validation?
    public var validationFraction: Double
    public var splitSeed: UInt64
    public var quantized: Bool

    enum CodingKeys: String, CodingKey {
        case format, labels, text, arguments, validation, quantized
        case trainDocuments = "train_documents"
        case validationFraction = "validation_fraction"
        case splitSeed = "split_seed"
    }

    /// The card beside a model file, if there is one.
    public static func beside(model path: String) throws -> ClassifierCard? {
        let card = cardPath(for: path)
        guard FileManager.default.fileExists(atPath: card) else { return nil }
        do {
            return try JSONDecoder().decode(ClassifierCard.self, from: Data(contentsOf: URL(fileURLWithPath: card)))
        } catch {
            throw ParameterError(
                "model", "\(card): not a classifier card written by darwin train-classifier (\(error))")
        }
    }

    /// `model.bin` → `model.json`.
    public static func cardPath(for model: String) -> String {
        for ext in [".bin", ".ftz"] where model.hasSuffix(ext) { return String(model.dropLast(ext.count)) + ".json" }
        return model + ".json"
    }

    public func write(besideModel path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try (e.encode(self) + Data("\n".utf8)).write(
            to: URL(fileURLWithPath: Self.cardPath(for: path)), options: .atomic)
    }
}
