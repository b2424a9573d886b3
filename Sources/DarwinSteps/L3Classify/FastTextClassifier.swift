import DarwinCore
import Foundation

/// Runs a fastText supervised model over each document and stores its labels and probabilities.
///
/// Writes `metadata.<key>` = `{label: probability, …}`, best first: the top `k` labels (all when k is 0)
/// with probability ≥ `min_probability`, plus every label listed in `labels` whatever its rank; with
/// `label_key` and `score_key`, also the best label and its probability at `metadata.<label_key>` and
/// `metadata.<score_key>`. Filters nothing: select with
/// `score_filter`. The text is prepared as the model was trained (see ``ClassifierText``): from the recipe
/// when given, else from the card `darwin train-classifier` wrote beside the model, else unchanged.
struct FastTextClassifier: StreamingStep {
    let lease: PredictorLease
    var predictor: FastTextPredictor { lease.predictor }
    let key: String
    let labelKey: String?
    let scoreKey: String?
    let k: Int
    let minProbability: Float
    let always: [Int]
    /// What to ask fastText for: every label when some must always be written, else the top k above the minimum.
    var searchK: Int { k == 0 || !always.isEmpty ? -1 : k }
    var searchThreshold: Float { always.isEmpty ? minProbability : 0 }
    let text: ClassifierText
    /// Histogram of each label's probability (every document gets one value per label it writes).
    let specs: [HistogramSpec]

    static let descriptor = StepDescriptor(
        id: "fasttext_classify", version: 1, levels: [.l3],
        summary: "score documents with a fastText classifier; labels and probabilities under metadata.<key>",
        reference:
            "fastText supervised (Joulin et al. 2017); DCLM's OH-2.5+ELI5 quality classifier; domain and topic taggers",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "model", .string, default: nil,
                "fastText supervised model (.bin or .ftz): a path, or a file name looked up in $DARWIN_MODELS and .cache/models"
            ),
            ParameterSpec("key", .string, default: nil, "metadata key for {label: probability} (quality, domain, …)"),
            ParameterSpec(
                "k", .integer(min: 0, max: 100_000), default: 0, "how many best labels to write (0: all labels)"),
            ParameterSpec(
                "min_probability", .number(min: 0, max: 1), default: 0,
                "labels below this probability are not written (except those in labels)"),
            ParameterSpec(
                "labels", .stringList, default: .null,
                "labels always written, whatever their rank (e.g. [hq] for a quality score)"),
            ParameterSpec(
                "label_key", .string, default: .null, "also write the best label as a string at metadata.<label_key>"),
            ParameterSpec(
                "score_key", .string, default: .null,
                "also write the best label's probability as a number at metadata.<score_key>"),
            ParameterSpec(
                "lowercase", .boolean, default: .null,
                "lower-case the text first (default: as the model's card says, else no)"),
            ParameterSpec(
                "max_chars", .integer(min: 0, max: 1 << 40), default: .null,
                "classify only the first N characters (0: all; default: as the model's card says, else all)"),
            ParameterSpec(
                "max_tokens", .integer(min: 0, max: 1 << 40), default: .null,
                "classify only the first N whitespace-separated tokens (0: all; default: from the card, else all)"),
        ],
        // With lid.176.ftz (scripts/fetch-models), a supervised fastText model whose labels are languages.
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english),
                parameters: ["model": "lid.176.ftz", "key": "languages", "k": 2], expect: .keep),
            StepExample(
                ExampleText.document("b", ExampleText.french),
                parameters: [
                    "model": "lid.176.ftz", "key": "scores.language", "k": 1, "labels": ["en", "de"],
                    "label_key": "language", "score_key": "language_score",
                ],
                expect: .keep),
            StepExample(
                ExampleText.document("c", "DER SCHNELLE BRAUNE FUCHS SPRINGT ÜBER DEN FAULEN HUND UND LÄUFT WEITER"),
                parameters: [
                    "model": "lid.176.ftz", "key": "languages", "min_probability": 0.1, "lowercase": true,
                    "max_tokens": 6,
                ],
                expect: .keep),
        ],
        resources: FastTextModel.resources,
        check: { p in try FastTextClassifier.check(p) },
        make: { p in .streaming(try FastTextClassifier(p)) })

    /// Checks the parameters against the model's header and card, without loading the model.
    static func check(_ p: Parameters) throws {
        let (path, header) = try FastTextModel.classifierHeader(p.string("model"), parameter: "model")
        try checkKey(p.string("key"))
        _ = try FastTextModel.labelIndices(
            p.strings("labels"), in: header.labels, path: path, parameter: "labels", noun: "label")
        _ = try ClassifierCard.beside(model: path)
    }

    private static func checkKey(_ key: String) throws {
        guard !key.isEmpty, !key.contains(".") || key.split(separator: ".").allSatisfy({ !$0.isEmpty }) else {
            throw ParameterError("key", "key must be a metadata name such as quality or scores.domain")
        }
    }

    init(_ p: Parameters) throws {
        let model = try FastTextModel.classifier(p.string("model"), parameter: "model")
        key = p.string("key")
        try Self.checkKey(key)
        labelKey = p.optionalString("label_key")
        scoreKey = p.optionalString("score_key")
        k = p.int("k")
        minProbability = Float(p.double("min_probability"))
        always = try model.labelIndices(p.strings("labels"), parameter: "labels")
        let card = try ClassifierCard.beside(model: model.path)
        var text = card?.text ?? ClassifierText()
        if let v = p.json("lowercase").boolValue { text.lowercase = v }
        if let v = p.optionalInt("max_chars") { text.maxChars = v }
        if let v = p.optionalInt("max_tokens") { text.maxTokens = v }
        self.text = text
        let key = self.key
        specs = model.labels.map {
            HistogramSpec(
                name: key + "." + $0, lower: 0, upper: 1, bins: 20, scale: .linear,
                summary: "probability of \($0)")
        }
        lease = try model.lease()
    }

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let predictions = try predictor.predict(text.apply(document.text), k: searchK, threshold: searchThreshold)
        guard let best = predictions.first else {
            // Only a model without an end-of-line token in its vocabulary has nothing to say.
            context.count("no_prediction")
            return .keep
        }
        let labels = predictor.model.labels
        var scores = JSONObject()
        for (rank, p) in predictions.enumerated() {
            let wanted = (k == 0 || rank < k) && p.probability >= minProbability
            guard wanted || always.contains(p.label) else { continue }
            scores[labels[p.label]] = .number(JSONNumber(lexeme: Self.lexeme(p.probability)))
            context.observe(specs[p.label], Double(p.probability))
        }
        document.setValue(.object(scores), atPath: "metadata." + key)
        if let labelKey { document.setValue(.string(labels[best.label]), atPath: "metadata." + labelKey) }
        if let scoreKey {
            document.setValue(
                .number(JSONNumber(lexeme: Self.lexeme(best.probability))), atPath: "metadata." + scoreKey)
        }
        context.count("label." + labels[best.label])
        return .keep
    }

    /// The shortest decimal that reads back as the same 32-bit float (fastText computes in `float`).
    static func lexeme(_ p: Float) -> String {
        if p == 0 { return "0.0" }
        if p == 1 { return "1.0" }
        return "\(p)"
    }
}
