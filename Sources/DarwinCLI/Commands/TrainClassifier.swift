import ArgumentParser
import DarwinCore
import DarwinRunner
import DarwinSteps
import Foundation

extension DarwinCommand {
    /// `darwin train-classifier`.
    struct TrainClassifier: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train-classifier",
            abstract: "Train a fastText classifier from labelled JSONL shards; report precision, recall and F1.",
            discussion: """
                Labels come from the files (--positive/--negative, or --labelled LABEL=PATH) or from a field \
                (--input PATH --label-field metadata.domain). Paths are shard files or folders of them. A \
                seeded hash of each document id puts it in validation or training; training lines are \
                shuffled by another seeded hash. Writes MODEL.bin (fastText's format), MODEL.json (the card: \
                text preparation, arguments, validation scores; fasttext_classify reads it) and, with \
                --quantize, MODEL.ftz. With one thread (the default) the same data, arguments and seed give \
                the same model, byte for byte.
                """)

        @Option(name: .long, help: "The model to write (.bin is added when missing).")
        var output: String

        @Option(name: .long, help: "Shards of positive examples (repeatable).")
        var positive: [String] = []
        @Option(name: .long, help: "Shards of negative examples (repeatable).")
        var negative: [String] = []
        @Option(name: .customLong("positive-label"), help: "Label of --positive documents.")
        var positiveLabel = "hq"
        @Option(name: .customLong("negative-label"), help: "Label of --negative documents.")
        var negativeLabel = "lq"
        @Option(name: .long, help: "LABEL=PATH: every document under PATH has LABEL (repeatable).")
        var labelled: [String] = []
        @Option(name: .long, help: "Shards whose documents carry their label in --label-field (repeatable).")
        var input: [String] = []
        @Option(name: .customLong("label-field"), help: "Dotted path of the label (a string, number or list).")
        var labelField: String?
        @Option(
            name: .customLong("label-map"),
            help: "File of 'value label' lines renaming --label-field values; others are skipped.")
        var labelMap: String?

        @Flag(name: .long, help: "Lower-case the text (the card tells fasttext_classify to do the same).")
        var lowercase = false
        @Option(name: .customLong("max-chars"), help: "Use only the first N characters of each text (0: all).")
        var maxChars = 0
        @Option(name: .customLong("max-tokens"), help: "Use only the first N tokens of each text (0: all).")
        var maxTokens = 0

        @Option(name: .customLong("validation-fraction"), help: "Share of documents held out for validation.")
        var validationFraction = 0.1
        @Option(name: .long, help: "Seed of the split, the shuffle and fastText.")
        var seed = 0
        @Option(name: .customLong("max-per-label"), help: "At most N training documents per label (0: all).")
        var maxPerLabel = 0

        @Option(name: .long, help: "Learning rate (fastText -lr).") var lr = 0.1
        @Option(name: .long, help: "Epochs (-epoch).") var epoch = 5
        @Option(name: .long, help: "Vector size (-dim).") var dim = 100
        @Option(name: .customLong("word-ngrams"), help: "Word n-gram length (-wordNgrams).") var wordNgrams = 1
        @Option(name: .long, help: "Shortest character n-gram (-minn; 0: none).") var minn = 0
        @Option(name: .long, help: "Longest character n-gram (-maxn; 0: none).") var maxn = 0
        @Option(name: .long, help: "Hash buckets for n-grams (-bucket).") var bucket = 2_000_000
        @Option(name: .customLong("min-count"), help: "Minimal word count (-minCount).") var minCount = 1
        @Option(name: .long, help: "Loss: softmax, hs, ns or ova (-loss).") var loss = "softmax"
        @Option(name: .long, help: "Negatives sampled (-neg).") var neg = 5
        @Option(name: .long, help: "Context window (-ws).") var ws = 5
        @Option(name: .customLong("lr-update-rate"), help: "Learning-rate update rate (-lrUpdateRate).")
        var lrUpdateRate = 100
        @Option(name: .long, help: "Sampling threshold (-t).") var sampling = 0.0001
        @Option(name: .long, help: "Training threads; more than 1 is faster but not reproducible.")
        var threads = 1

        @Flag(name: .long, help: "Also write a quantized MODEL.ftz.")
        var quantize = false
        @Option(name: .long, help: "With --quantize: keep the N most important rows, then retrain (0: all).")
        var cutoff = 0
        @Flag(name: .customLong("keep-data"), help: "Keep MODEL.train.txt and MODEL.valid.txt (fastText format).")
        var keepData = false
        @Flag(name: .long, help: "Print the card as JSON.")
        var json = false

        func validate() throws {
            guard !positive.isEmpty || !negative.isEmpty || !labelled.isEmpty || !input.isEmpty else {
                throw ValidationError("give labelled data: --positive/--negative, --labelled LABEL=PATH or --input")
            }
            if !input.isEmpty && labelField == nil {
                throw ValidationError("--input needs --label-field (the field holding each document's label)")
            }
            guard ["softmax", "hs", "ns", "ova"].contains(loss) else {
                throw ValidationError("--loss must be softmax, hs, ns or ova (got '\(loss)')")
            }
            guard validationFraction >= 0 && validationFraction < 1 else {
                throw ValidationError("--validation-fraction must be in [0, 1)")
            }
            guard epoch > 0, dim > 0, wordNgrams > 0, threads > 0, lr > 0, bucket >= 0, minn >= 0, maxn >= minn
            else {
                throw ValidationError(
                    "fastText arguments out of range (epoch, dim, word-ngrams, threads, lr > 0; minn <= maxn)")
            }
        }

        func run() throws {
            var sources: [ClassifierTrainer.Source] = []
            do {
                for p in positive { sources.append(.init(files: try files(p), label: positiveLabel)) }
                for p in negative { sources.append(.init(files: try files(p), label: negativeLabel)) }
                for entry in labelled {
                    guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                        throw ValidationError("--labelled takes LABEL=PATH (got '\(entry)')")
                    }
                    let label = String(entry[..<eq]), path = String(entry[entry.index(after: eq)...])
                    sources.append(.init(files: try files(path), label: label))
                }
                for p in input { sources.append(.init(files: try files(p), label: nil)) }
            } catch let e as ValidationError {
                throw e
            } catch {
                fail("\(error)")
            }
            for s in sources {
                if let l = s.label, l.isEmpty || l.contains(where: \.isWhitespace) {
                    throw ValidationError("label '\(l)' must be one word")
                }
            }
            var t = ClassifierTrainer(sources: sources)
            t.labelField = labelField
            if let labelMap {
                do { t.labelMap = try ClassifierTrainer.labelMap(contentsOf: labelMap) } catch { fail("\(error)") }
            }
            t.text = ClassifierText(lowercase: lowercase, maxChars: maxChars, maxTokens: maxTokens)
            var a = FastTextTrainingArguments()
            a.lr = lr
            a.epoch = epoch
            a.dim = dim
            a.wordNgrams = wordNgrams
            a.minn = minn
            a.maxn = maxn
            a.bucket = bucket
            a.minCount = minCount
            a.loss = loss
            a.neg = neg
            a.ws = ws
            a.lrUpdateRate = lrUpdateRate
            a.sampling = sampling
            a.threads = threads
            a.seed = seed
            t.arguments = a
            t.validationFraction = validationFraction
            t.seed = UInt64(truncatingIfNeeded: seed)
            t.maxPerLabel = maxPerLabel
            t.quantize = quantize
            t.quantizeCutoff = cutoff
            t.keepData = keepData
            let report: ClassifierTrainer.Report
            do {
                report = try t.run(output: output) { line in
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            } catch {
                fail("\(error)")
            }
            for e in report.inputErrors.prefix(5) {
                FileHandle.standardError.write(Data("darwin: skipped \(e)\n".utf8))
            }
            if report.inputErrors.count > 5 {
                FileHandle.standardError.write(
                    Data("darwin: … \(report.inputErrors.count - 5) more unreadable lines\n".utf8))
            }
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try e.encode(report.card), as: UTF8.self))
                return
            }
            print(Self.summary(report))
        }

        private func files(_ path: String) throws -> [String] {
            let spec = InputSpec(paths: [path], format: "jsonl", maxLineBytes: 64 << 20, pathLines: [])
            return try InputResolver.resolve(
                spec, base: FileManager.default.currentDirectoryPath, recipePath: "--input"
            )
            .map(\.path)
        }

        private func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("darwin: error: \(message)\n".utf8))
            Foundation.exit(2)
        }

        static func summary(_ r: ClassifierTrainer.Report) -> String {
            var out = "model: \(r.model)"
            if let q = r.quantizedModel { out += " (quantized: \(q))" }
            out += "\ncard: \(ClassifierCard.cardPath(for: r.model))\n"
            let c = r.card
            out +=
                "training documents: "
                + c.trainDocuments.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            if r.unlabelled > 0 { out += " · \(r.unlabelled) without a label (skipped)" }
            if !r.inputErrors.isEmpty { out += " · \(r.inputErrors.count) unreadable lines (skipped)" }
            out += String(format: " · %.1f s\n", r.seconds)
            guard let v = c.validation else { return out + "no validation documents\n" }
            out +=
                "validation: \(v.documents) documents, accuracy \(String(format: "%.4f", v.accuracy)), macro F1 \(String(format: "%.4f", v.macroF1))\n"
            var rows = [["label", "precision", "recall", "F1", "support"]]
            for (label, s) in v.labels.sorted(by: { $0.key < $1.key }) {
                rows.append([
                    label, String(format: "%.4f", s.precision), String(format: "%.4f", s.recall),
                    String(format: "%.4f", s.f1), "\(s.support)",
                ])
            }
            out += StatsRenderer.align(rows, rightAligned: [1, 2, 3, 4])
            return out
        }
    }
}
