import DarwinCore
import DarwinIO
import Foundation

/// Trains a fastText classifier from labelled JSONL shards, as `darwin train-classifier` does.
///
/// Documents are labelled by the file they come from (positives vs negatives) or by a field. Each document
/// goes to validation when a hash of its id (with the seed) falls under the validation fraction, otherwise
/// to training, so the split does not depend on file order. Training lines are shuffled by a seeded hash of
/// the id and written to a fastText training file; the model is trained with libfasttext (one thread by
/// default, which makes the model depend only on data, arguments and seed), scored on validation, saved as
/// `.bin` (and `.ftz` when quantized) with a card (`.json`) saying how to prepare text for it.
public struct ClassifierTrainer {
    /// Where labelled documents come from.
    public struct Source: Sendable {
        /// Shard files, in order.
        public var files: [String]
        /// The label of every document in these files; nil when `labelField` names it.
        public var label: String?

        public init(files: [String], label: String?) {
            self.files = files
            self.label = label
        }
    }

    public var sources: [Source]
    /// Dotted path of the label field (a string, a number or a list of them) for sources without a label.
    public var labelField: String?
    /// Renames labels read from `labelField` (several values may share a label); values not in the map are
    /// skipped as unlabelled.
    public var labelMap: [String: String]?
    public var text = ClassifierText()
    public var arguments = FastTextTrainingArguments()
    public var validationFraction = 0.1
    public var seed: UInt64 = 0
    /// At most this many training documents per label (0: all), chosen by the seeded hash.
    public var maxPerLabel = 0
    /// Also write a quantized `.ftz` beside the `.bin`.
    public var quantize = false
    /// Quantization: keep this many rows of the input matrix (0: all), then retrain.
    public var quantizeCutoff = 0
    /// Keep the fastText training and validation files beside the model (`<name>.train.txt`, `.valid.txt`).
    public var keepData = false

    public init(sources: [Source]) { self.sources = sources }

    /// What training produced.
    public struct Report: Sendable {
        public var model: String
        public var quantizedModel: String?
        public var card: ClassifierCard
        public var inputErrors: [String]
        public var unlabelled: Int
        public var seconds: Double
    }

    public enum Failure: Error, CustomStringConvertible {
        case input(String)
        case training(String)
        public var description: String {
            switch self {
            case .input(let m), .training(let m): return m
            }
        }
    }

    /// Reads the sources, trains, evaluates and writes `<output>.bin`, `<output>.json` (and `<output>.ftz`).
    ///
    /// - Parameters:
    ///   - output: the model path (`models/quality.bin`); `.bin` is added when missing.
    ///   - log: progress lines for the terminal.
    public func run(output: String, log: @escaping (String) -> Void = { _ in }) throws -> Report {
        let start = Date()
        let model = output.hasSuffix(".bin") ? output : output + ".bin"
        let base = String(model.dropLast(4))
        let directory = (model as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let scratch = base + ".darwin-training"
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // 1. Labelled lines: training lines to an unshuffled file with a sort key each, validation to its own.
        let unshuffled = scratch + "/unshuffled.txt"
        let validPath = keepData ? base + ".valid.txt" : scratch + "/valid.txt"
        let trainPath = keepData ? base + ".train.txt" : scratch + "/train.txt"
        guard FileManager.default.createFile(atPath: unshuffled, contents: nil),
            FileManager.default.createFile(atPath: validPath, contents: nil),
            let trainOut = FileHandle(forWritingAtPath: unshuffled),
            let validOut = FileHandle(forWritingAtPath: validPath)
        else { throw Failure.input("cannot write training files under \(scratch)") }
        struct Line {
            var key: UInt64
            var offset: Int
            var length: Int
            var label: String
        }
        var lines: [Line] = []
        var validationCount = 0
        var errors: [String] = []
        var unlabelled = 0
        var trainBuffer = [UInt8](), validBuffer = [UInt8]()
        var trainBytes = 0
        for source in sources {
            for file in source.files {
                let reader: ShardReader
                do { reader = try ShardReader(path: file) } catch { throw Failure.input("\(error)") }
                while true {
                    let item: ShardReader.Item?
                    do { item = try reader.next() } catch { throw Failure.input("\(file): \(error)") }
                    guard let item else { break }
                    guard case .document(let d) = item else {
                        if case .error(let e) = item { errors.append("\(file): \(e.message)") }
                        continue
                    }
                    let labels = source.label.map { [$0] } ?? labelsOf(d)
                    guard !labels.isEmpty else {
                        unlabelled += 1
                        continue
                    }
                    let line = text.trainingLine(labels: labels, text: d.text)
                    if Hashing.unitInterval(d.id, seed: seed) < validationFraction {
                        validationCount += 1
                        validBuffer += Array(line.utf8) + [0x0A]
                        if validBuffer.count > 1 << 20 {
                            validOut.write(Data(validBuffer))
                            validBuffer.removeAll(keepingCapacity: true)
                        }
                    } else {
                        let bytes = Array(line.utf8)
                        lines.append(
                            Line(
                                key: Hashing.xxh64(d.id, seed: seed &+ 0x9E37_79B9), offset: trainBytes,
                                length: bytes.count + 1, label: labels[0]))
                        trainBytes += bytes.count + 1
                        trainBuffer += bytes + [0x0A]
                        if trainBuffer.count > 1 << 20 {
                            trainOut.write(Data(trainBuffer))
                            trainBuffer.removeAll(keepingCapacity: true)
                        }
                    }
                }
            }
        }
        trainOut.write(Data(trainBuffer))
        validOut.write(Data(validBuffer))
        try trainOut.close()
        try validOut.close()
        guard !lines.isEmpty else {
            throw Failure.input(
                "no labelled training documents (\(unlabelled) without a label, \(errors.count) unreadable)")
        }

        // 2. Shuffle by the seeded hash (ties by position), cap per label, write the training file.
        lines.sort { ($0.key, $0.offset) < ($1.key, $1.offset) }
        if maxPerLabel > 0 {
            var seen: [String: Int] = [:]
            lines = lines.filter { l in
                let n = seen[l.label, default: 0] + 1
                seen[l.label] = n
                return n <= maxPerLabel
            }
        }
        var counts: [String: Int] = [:]
        for l in lines { counts[l.label, default: 0] += 1 }
        let source = try Data(contentsOf: URL(fileURLWithPath: unshuffled), options: .alwaysMapped)
        guard FileManager.default.createFile(atPath: trainPath, contents: nil),
            let out = FileHandle(forWritingAtPath: trainPath)
        else { throw Failure.input("cannot write \(trainPath)") }
        var chunk = Data()
        for l in lines {
            chunk.append(source[l.offset..<(l.offset + l.length)])
            if chunk.count > 1 << 20 {
                out.write(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        out.write(chunk)
        try out.close()
        log(
            "training on \(lines.count) documents (\(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), validating on \(validationCount)"
        )

        // 3. Train, evaluate, save.
        var lastShown = 0
        let trained: FastTextModel
        do {
            trained = try FastTextModel.train(input: trainPath, arguments: arguments) { done, _ in
                let percent = Int(done * 100)
                if percent >= lastShown + 25 && percent < 100 {
                    lastShown = percent / 25 * 25
                    log("  \(lastShown) % trained")
                }
            }
        } catch {
            throw Failure.training("\(error)")
        }
        try trained.save(to: model)
        var card = ClassifierCard(
            labels: trained.labels, text: text, arguments: arguments, trainDocuments: counts, validation: nil,
            validationFraction: validationFraction, splitSeed: seed, quantized: quantize)
        card.validation = try Self.evaluate(trained, validationFile: validPath)
        var quantized: String? = nil
        if quantize {
            let ftz = base + ".ftz"
            try trained.quantize(
                retrainOn: quantizeCutoff > 0 ? trainPath : nil, cutoff: quantizeCutoff, qnorm: true, qout: false,
                dsub: 2)
            try trained.save(to: ftz)
            quantized = ftz
        }
        try card.write(besideModel: model)
        return Report(
            model: model, quantizedModel: quantized, card: card, inputErrors: errors, unlabelled: unlabelled,
            seconds: Date().timeIntervalSince(start))
    }

    /// Reads a label map: one `value label` pair a line (tab or spaces between), `#` comments.
    public static func labelMap(contentsOf path: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure.input("cannot read the label map \(path)")
        }
        var map: [String: String] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                throw Failure.input("\(path):\(n + 1): expected 'value label', got '\(raw)'")
            }
            map[String(fields[0])] = String(fields[1])
        }
        guard !map.isEmpty else { throw Failure.input("\(path): the label map is empty") }
        return map
    }

    /// The label(s) of a document from `labelField`.
    func labelsOf(_ d: Document) -> [String] {
        guard let labelField, let v = d.value(atPath: labelField) else { return [] }
        func one(_ v: JSONValue) -> String? {
            switch v {
            case .string(let s): return s.isEmpty ? nil : s.split(whereSeparator: \.isWhitespace).joined(separator: "_")
            case .number(let n): return n.lexeme
            case .bool(let b): return b ? "true" : "false"
            default: return nil
            }
        }
        var labels = v.arrayValue.map { $0.compactMap(one) } ?? one(v).map { [$0] } ?? []
        if let labelMap { labels = labels.compactMap { labelMap[$0] } }
        var seen = Set<String>()
        return labels.filter { seen.insert($0).inserted }
    }

    /// Precision, recall and F1 per label of the top prediction against the first label of each line of a
    /// fastText file (as `fasttext test` reads it: label tokens are not features).
    static func evaluate(_ model: FastTextModel, validationFile: String) throws -> ClassifierCard.Validation? {
        let data = try Data(contentsOf: URL(fileURLWithPath: validationFile), options: .alwaysMapped)
        let predictor = try FastTextPredictor(model: model)
        var tp: [String: Int] = [:], fp: [String: Int] = [:], support: [String: Int] = [:]
        var correct = 0, documents = 0
        let prefix = Array("__label__".utf8)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                defer { start = end + 1 }
                guard end - start > prefix.count, bytes[start..<(start + prefix.count)].elementsEqual(prefix) else {
                    continue
                }
                var labelEnd = start + prefix.count
                while labelEnd < end && bytes[labelEnd] != 0x20 { labelEnd += 1 }
                let truth = String(decoding: bytes[(start + prefix.count)..<labelEnd], as: UTF8.self)
                let line = String(decoding: bytes[start..<end], as: UTF8.self)
                documents += 1
                support[truth, default: 0] += 1
                let predicted = try predictor.predict(line, k: 1).first.map { model.labels[$0.label] }
                if predicted == truth {
                    correct += 1
                    tp[truth, default: 0] += 1
                } else if let predicted {
                    fp[predicted, default: 0] += 1
                }
            }
        }
        guard documents > 0 else { return nil }
        var scores: [String: ClassifierCard.LabelScore] = [:]
        for label in Set(model.labels).union(support.keys) {
            let t = Double(tp[label] ?? 0), s = Double(support[label] ?? 0), f = Double(fp[label] ?? 0)
            let precision = t + f > 0 ? t / (t + f) : 0
            let recall = s > 0 ? t / s : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            scores[label] = .init(precision: precision, recall: recall, f1: f1, support: Int(s))
        }
        let withSupport = scores.values.filter { $0.support > 0 }
        return .init(
            documents: documents, accuracy: Double(correct) / Double(documents),
            macroF1: withSupport.map(\.f1).reduce(0, +) / Double(max(1, withSupport.count)), labels: scores)
    }
}
