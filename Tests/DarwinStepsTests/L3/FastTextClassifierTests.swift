import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

/// A domain classifier trained once on the bundled sample (labels from metadata.source through a map).
enum SampleClassifier {
    static let directory = TemporaryDirectory("darwin-l3")
    static let labelMap = [
        "debian-handbook": "systems", "kjv-bible": "literature", "dict-jargon": "glossary", "python-doc": "code",
        "rust-books": "code",
    ]

    static func trainer(seed: UInt64 = 7) -> ClassifierTrainer {
        var t = ClassifierTrainer(sources: [.init(files: Repository.sampleShards, label: nil)])
        t.labelField = "metadata.source"
        t.labelMap = labelMap
        t.validationFraction = 0.2
        t.seed = seed
        t.text = ClassifierText(lowercase: true)
        var a = FastTextTrainingArguments()
        a.dim = 16
        a.epoch = 10
        a.bucket = 50_000
        a.wordNgrams = 2
        a.lr = 0.5
        a.seed = Int(seed)
        t.arguments = a
        t.quantize = true
        return t
    }

    private static let result = Result { () throws -> (ClassifierTrainer.Report, String) in
        let path = directory.file("domain.bin")
        return (try trainer().run(output: path), path)
    }

    /// (report, .bin path)
    static var trained: (ClassifierTrainer.Report, String) {
        get throws { try result.get() }
    }

    static var sampleDocuments: [Document] {
        Repository.sampleShards.flatMap { (try? Shards.documents($0)) ?? [] }
    }
}

@Suite struct ClassifierTrainingTests {
    @Test func trainsScoresAndWritesACard() throws {
        let (report, path) = try SampleClassifier.trained
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(report.quantizedModel == String(path.dropLast(4)) + ".ftz")
        let card = try #require(try ClassifierCard.beside(model: path))
        #expect(card == report.card)
        #expect(Set(card.labels) == ["systems", "literature", "glossary", "code"])
        #expect(card.text.lowercase)
        let v = try #require(card.validation)
        #expect(v.documents > 100 && v.documents < 200, "about 20 % of 739")
        #expect(card.trainDocuments.values.reduce(0, +) + v.documents == 739)
        #expect(v.macroF1 > 0.8, "\(v)")
        #expect(v.labels["literature"]!.f1 > 0.9)
    }

    @Test func sameDataArgumentsAndSeedGiveTheSameBytes() throws {
        let dir = TemporaryDirectory()
        var t = SampleClassifier.trainer()
        t.quantize = false
        _ = try t.run(output: dir.file("a.bin"))
        _ = try t.run(output: dir.file("b.bin"))
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.bin")))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("b.bin")))
        #expect(a == b)
        var other = SampleClassifier.trainer(seed: 8)
        other.quantize = false
        _ = try other.run(output: dir.file("c.bin"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("c.bin"))) != a)
    }

    @Test func labelsFromFilesAndUnreadableLinesAreSkippedNotFatal() throws {
        let dir = TemporaryDirectory()
        let shards = Repository.sampleShards
        // A shard with one malformed line between two good ones.
        let good = try Shards.lines(shards[0]).prefix(2)
        try Shards.writeZstd(
            Array((good[0] + "\n{\"id\": broken\n" + good[1] + "\n").utf8), to: dir.file("neg.jsonl.zst"))
        var t = ClassifierTrainer(sources: [
            .init(files: [shards[1], shards[2]], label: "hq"),
            .init(files: [dir.file("neg.jsonl.zst"), shards[3]], label: "lq"),
        ])
        t.validationFraction = 0
        t.arguments.dim = 8
        t.arguments.bucket = 1000
        let r = try t.run(output: dir.file("m"))
        #expect(r.model == dir.file("m.bin"))
        #expect(r.inputErrors.count == 1)
        #expect(r.inputErrors[0].contains("neg.jsonl.zst: line 2"), "\(r.inputErrors)")
        #expect(Set(r.card.labels) == ["hq", "lq"])
        #expect(r.card.validation == nil)
    }

    @Test func quantizedModelLoadsAndMostlyAgrees() throws {
        let (_, path) = try SampleClassifier.trained
        let bin = try FastTextModel.shared(path: path, parameter: "model")
        let ftz = try FastTextModel.shared(path: String(path.dropLast(4)) + ".ftz", parameter: "model")
        let pb = try FastTextPredictor(model: bin), pq = try FastTextPredictor(model: ftz)
        var same = 0
        let docs = SampleClassifier.sampleDocuments
        for d in docs {
            let text = d.text.lowercased()
            if bin.labels[try pb.predict(text, k: 1)[0].label] == ftz.labels[try pq.predict(text, k: 1)[0].label] {
                same += 1
            }
        }
        #expect(Double(same) / Double(docs.count) > 0.9)
    }

    /// The cached path (token cache, word n-grams from cached hashes) gives fastText's own predictions bit for
    /// bit, for a model with word bigrams and for its quantized copy.
    @Test(arguments: [".bin", ".ftz"])
    func cachedPredictionsEqualTheReference(ext: String) throws {
        let (_, path) = try SampleClassifier.trained
        let model = try FastTextModel.shared(path: String(path.dropLast(4)) + ext, parameter: "model")
        #expect(model.trainingArguments.wordNgrams == 2)
        let p = try FastTextPredictor(model: model, cacheEntries: 4096)  // small: the cache is cleared often
        let edgeCases = [
            "", "   \t ", String(repeating: "x", count: 5000) + " tail", "__label__code looks like a label",
            "mixed\r\nline\u{0B}ends\u{0C}here", "ภาษาไทย 日本語のテキスト русский текст", "a b a b a b a b",
        ].map { Document(id: "edge", text: $0) }
        for d in SampleClassifier.sampleDocuments + edgeCases {
            let text = d.text.lowercased()
            let fast = try p.predict(text, k: -1)
            let reference = p.predictReference(text.replacingOccurrences(of: "\n", with: " "), k: -1)
            #expect(fast.map(\.label) == reference.map(\.label), "\(d.id)")
            #expect(fast.map(\.probability) == reference.map(\.probability), "\(d.id)")
        }
    }
}

@Suite struct FastTextClassifierTests {
    static let lid = Repository.root + "/.cache/models/lid.176.ftz"

    @Test func writesScoresLabelAndHistograms() throws {
        let (_, path) = try SampleClassifier.trained
        let bible = try #require(SampleClassifier.sampleDocuments.first { $0.id.hasPrefix("kjv") })
        var step = try makeStep(
            "fasttext_classify", ["model": .string(path), "key": "domain_scores", "label_key": "domain"])
        var ctx = try context(for: "fasttext_classify")
        var doc = bible
        #expect(try step.process(&doc, context: &ctx) == .keep)
        #expect(doc.value(atPath: "metadata.domain") == .string("literature"))
        let scores = try #require(doc.value(atPath: "metadata.domain_scores")?.objectValue)
        #expect(scores.count == 4, "k = 0 writes every label")
        #expect(scores.members.first?.key == "literature", "best first")
        let total = scores.compactMap { $0.value.doubleValue }.reduce(0, +)
        // fastText reports exp(log(p + 1e-5)), so four labels sum to 1 + 4e-5.
        #expect(abs(total - 1 - 4e-5) < 1e-6)
        #expect(ctx.stats.histograms["domain_scores.literature"]?.total == 1)
        #expect(ctx.stats.counters["label.literature"] == 1)
    }

    @Test func kMinProbabilityAndAlwaysWrittenLabels() throws {
        let text = "The quick brown fox jumps over the lazy dog near the river bank."
        let one = try run("fasttext_classify", ["model": .string(Self.lid), "key": "lid", "k": 1], text: text)
        let o = try #require(one.document.value(atPath: "metadata.lid")?.objectValue)
        #expect(o.count == 1 && o.members.first?.key == "en")
        let always = try run(
            "fasttext_classify", ["model": .string(Self.lid), "key": "lid", "k": 1, "labels": ["de", "fr"]], text: text)
        let a = try #require(always.document.value(atPath: "metadata.lid")?.objectValue)
        #expect(a.map(\.key).first == "en")
        #expect(Set(a.map(\.key)) == ["en", "de", "fr"])
        let high = try run(
            "fasttext_classify", ["model": .string(Self.lid), "key": "lid", "min_probability": 0.5], text: text)
        #expect(high.document.value(atPath: "metadata.lid")?.objectValue?.map(\.key) == ["en"])
    }

    @Test func preparationComesFromTheCardUnlessTheRecipeSaysOtherwise() throws {
        let (_, path) = try SampleClassifier.trained
        let model = try FastTextModel.shared(path: path, parameter: "model")
        let p = try FastTextPredictor(model: model)
        let text = "THE LORD SPAKE UNTO MOSES, SAYING, AND THE CHILDREN OF ISRAEL WENT UP OUT OF EGYPT."
        let lowered = try p.predict(text.lowercased(), k: -1)
        let raw = try p.predict(text, k: -1)
        let fromCard = try run("fasttext_classify", ["model": .string(path), "key": "d"], text: text)
        let overridden = try run(
            "fasttext_classify", ["model": .string(path), "key": "d", "lowercase": false], text: text)
        func best(_ r: (decision: Decision, document: Document, context: StepContext)) -> Double? {
            r.document.value(atPath: "metadata.d")?.objectValue?.members.first?.value.doubleValue
        }
        #expect(best(fromCard).map(Float.init) == lowered[0].probability)
        #expect(best(overridden).map(Float.init) == raw[0].probability)
    }

    @Test func badModelsAreParameterErrors() throws {
        let dir = TemporaryDirectory()
        let (_, path) = try SampleClassifier.trained
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir.file("truncated.bin")))
        try Data(bytes + [1, 2, 3]).write(to: URL(fileURLWithPath: dir.file("trailing.bin")))
        // The same file declaring a cbow (word-vector) model: fastText loads it, darwin refuses it.
        var cbow = [UInt8](bytes)
        #expect(cbow[36] == 3, "model kind `sup` in the header")
        cbow[36] = 1
        try Data(cbow).write(to: URL(fileURLWithPath: dir.file("cbow.bin")))
        let notAModel = Repository.sampleShards[0]
        let cases: [(String, String)] = [
            (dir.file("nope.bin"), "model file \(dir.file("nope.bin")) does not exist"),
            (
                dir.file("truncated.bin"),
                "cannot load fastText model \(dir.file("truncated.bin")): the file ends early (truncated model)"
            ),
            (
                dir.file("trailing.bin"),
                "cannot load fastText model \(dir.file("trailing.bin")): unexpected bytes after the model"
            ),
            (
                notAModel,
                "cannot load fastText model \(notAModel): not a fastText model (wrong magic number or version)"
            ),
            (dir.file("cbow.bin"), "\(dir.file("cbow.bin")) is a word-vector model, not a classifier"),
        ]
        let descriptor = try #require(StepCatalog.registry.descriptor("fasttext_classify"))
        let check = try #require(descriptor.check)
        for (model, message) in cases {
            do {
                _ = try makeStep("fasttext_classify", ["model": .string(model), "key": "q"])
                Issue.record("loaded \(model)")
            } catch let e as ParameterError {
                #expect(e.parameter == "model")
                #expect(e.message == message)
            }
            // Checking a recipe reads only the header and the matrices' sizes, and says the same.
            let p = try Parameters.validate([("model", .string(model)), ("key", "q")], against: descriptor.parameters)
                .get()
            do {
                try check(p)
                Issue.record("the check accepted \(model)")
            } catch let e as ParameterError {
                #expect(e.parameter == "model")
                #expect(e.message == message, "check of \(model)")
            }
        }
        let good = try Parameters.validate([("model", .string(path)), ("key", "q")], against: descriptor.parameters)
            .get()
        try check(good)
        do {
            _ = try makeStep("fasttext_classify", ["model": .string(path), "key": "q", "labels": ["literatur"]])
            Issue.record("accepted an unknown label")
        } catch let e as ParameterError {
            #expect(e.message.hasPrefix("unknown label 'literatur' for domain.bin; did you mean 'literature'?"))
        }
    }
}
