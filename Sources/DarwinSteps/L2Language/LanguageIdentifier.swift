import DarwinCore

/// Identifies the language of each document with fastText's lid.176 model and keeps the chosen ones.
///
/// As datatrove's `LanguageFilter` (FineWeb uses it with English and 0.65): the text is read the way
/// fastText reads one line (newlines are separators), every label is scored, `metadata.language` and
/// `metadata.language_score` get the best label and its probability, and a document is kept when one of
/// the wanted languages scores above the threshold (or, with no languages given, when the best one does).
struct LanguageIdentifier: StreamingStep {
    let lease: PredictorLease
    var predictor: FastTextPredictor { lease.predictor }
    let wanted: [Int]  // label indices; empty = any language
    let threshold: Float
    let annotateOnly: Bool

    static let descriptor = StepDescriptor(
        id: "language_id", version: 2, levels: [.l2],
        summary:
            "identify the language with fastText lid.176; annotate metadata.language(_score); keep chosen languages",
        reference: "fastText lid.176 (Joulin et al. 2016); datatrove LanguageFilter; FineWeb keeps en > 0.65",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "languages", .stringList, default: .null,
                "language codes to keep, as the model names them (en, fr, zh, …); none: any language"),
            ParameterSpec(
                "threshold", .number(min: 0, max: 1), default: 0.65,
                "a wanted language must score above this (FineWeb: 0.65)"),
            ParameterSpec(
                "model", .string, default: "lid.176.ftz",
                "fastText model: a path, or a file name looked up in $DARWIN_MODELS and .cache/models"),
            ParameterSpec("annotate_only", .boolean, default: false, "only annotate; drop nothing"),
        ],
        histograms: [
            HistogramSpec(
                name: "language_score", lower: 0, upper: 1, bins: 20, scale: .linear,
                summary: "probability of the best language")
        ],
        examples: [
            StepExample(
                ExampleText.document("a", ExampleText.english), parameters: ["languages": ["en"]], expect: .keep),
            StepExample(
                ExampleText.document("b", ExampleText.french), parameters: ["languages": ["en"]],
                expect: .drop(rule: "other_language")),
            StepExample(
                ExampleText.document("c", ExampleText.german), parameters: ["languages": ["en", "de"]], expect: .keep),
            StepExample(
                ExampleText.document("d", ExampleText.french), parameters: ["annotate_only": true], expect: .keep),
            StepExample(
                ExampleText.document("e", "ok ok 123"), parameters: ["threshold": 0.9], expect: .drop(rule: "low_score")
            ),
        ],
        resources: FastTextModel.resources,
        check: { p in
            let (path, header) = try FastTextModel.classifierHeader(p.string("model"), parameter: "model")
            _ = try FastTextModel.labelIndices(
                p.strings("languages"), in: header.labels, path: path, parameter: "languages", noun: "language code")
        },
        make: { p in
            let model = try FastTextModel.classifier(p.string("model"), parameter: "model")
            let wanted = try model.labelIndices(p.strings("languages"), parameter: "languages", noun: "language code")
            return .streaming(
                LanguageIdentifier(
                    lease: try model.lease(), wanted: wanted,
                    threshold: Float(p.double("threshold")), annotateOnly: p.bool("annotate_only")))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        // Only labels above the threshold can keep a document, so the label tree is searched only there (with
        // a margin: fastText prunes on log(p + 1e-5) of partial paths, the decision below is exact).
        let predictions = try predictor.predictBest(document.text, threshold: max(0, threshold - 0.001))
        guard let best = predictions.first else {
            // No features at all (cannot happen with a vocabulary that has the end-of-line token).
            return annotateOnly ? .keep : .drop(rule: "no_prediction")
        }
        let label = predictor.model.labels[best.label]
        document.setValue(.string(label), atPath: "metadata.language")
        document.setValue(.number(JSONNumber(Double(best.probability))), atPath: "metadata.language_score")
        context.observe("language_score", Double(best.probability))
        context.count("language." + label)
        if annotateOnly { return .keep }
        if wanted.isEmpty {
            return best.probability > threshold
                ? .keep
                : .drop(
                    rule: "low_score",
                    detail: ["language": .string(label), "score": .number(JSONNumber(Double(best.probability)))])
        }
        for p in predictions where wanted.contains(p.label) && p.probability > threshold { return .keep }
        let detail: JSONValue = ["language": .string(label), "score": .number(JSONNumber(Double(best.probability)))]
        return .drop(rule: wanted.contains(best.label) ? "low_score" : "other_language", detail: detail)
    }
}
