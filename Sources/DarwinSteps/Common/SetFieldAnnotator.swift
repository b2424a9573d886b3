import DarwinCore

/// Sets a field to a constant value, e.g. `source` or `metadata.license`, for later mixing.
///
/// The field is a dotted path; intermediate objects are created. `id`, `text` and `darwin` belong to
/// darwin and the documents' identity, so they cannot be set this way.
struct SetFieldAnnotator: StreamingStep {
    let field: String
    let value: JSONValue
    let overwrite: Bool

    static let descriptor = StepDescriptor(
        id: "set_field", version: 1, levels: Level.allCases,
        summary: "set a field (dotted path such as metadata.license) to a constant value",
        reference: "annotation for mixtures and provenance",
        kind: .streaming,
        parameters: [
            ParameterSpec("field", .string, default: nil, "dotted path of the field, e.g. source or metadata.license"),
            ParameterSpec("value", .json, default: nil, "the value (any YAML scalar, list or mapping)"),
            ParameterSpec("overwrite", .boolean, default: true, "replace a value the document already has"),
        ],
        examples: [
            StepExample(
                #"{"id":"a","text":"x"}"#, parameters: ["field": "metadata.license", "value": "cc-by"],
                expect: .keep),
            StepExample(
                #"{"id":"b","text":"x","metadata":{"license":"mit","lang":"en"}}"#,
                parameters: ["field": "metadata.license", "value": "cc-by"], expect: .keep),
            StepExample(
                #"{"id":"c","text":"x","metadata":{"license":"mit"}}"#,
                parameters: ["field": "metadata.license", "value": "cc-by", "overwrite": false], expect: .keep),
            StepExample(
                #"{"id":"d","text":"x","source":"crawl"}"#,
                parameters: ["field": "origin", "value": ["name": "wiki", "snapshot": 2024, "tags": ["ref"]]],
                expect: .keep),
        ],
        make: { p in
            let field = p.string("field")
            let root = field.split(separator: ".").first.map(String.init) ?? ""
            if field.isEmpty || field.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty)
            {
                throw ParameterError("field", "field '\(field)' is not a dotted path such as metadata.license")
            }
            if ["id", "text", "darwin"].contains(root) {
                throw ParameterError(
                    "field", "field '\(field)' is owned by darwin or is the document's identity; choose another")
            }
            return .streaming(SetFieldAnnotator(field: field, value: p.json("value"), overwrite: p.bool("overwrite")))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        if !overwrite, document.value(atPath: field) != nil {
            context.count("kept_existing")
            return .keep
        }
        if document.setValue(value, atPath: field) {
            context.count("set")
        } else {
            context.count("path_blocked")
        }
        return .keep
    }
}
