import DarwinCore
import Foundation
import Yams

/// Per-language threshold overrides in FineWeb2's format: for each language, a mapping of parameter
/// names to values (`min_avg_word_length: 1`, `stopwords: [的, 是, …]`, `dup_n_grams: [[5, 0.198], …]`).
///
/// Either one YAML (or JSON) file mapping language codes to such mappings, or a folder of `<language>.yml`
/// files (FineWeb2's `configs/` layout) named by the codes found in `metadata.language`. A step applies
/// the keys that are its parameters and ignores the others, so one file can serve several steps.
struct LanguageOverrides: Sendable {
    let byLanguage: [String: [String: JSONValue]]

    /// Parameters every step that supports overrides takes.
    static let parameters = [
        ParameterSpec(
            "language_overrides", .string, default: .null,
            "per-language overrides (FineWeb2 format): a YAML file of language → parameters, or a folder of <language>.yml"
        ),
        ParameterSpec(
            "language_field", .string, default: "metadata.language",
            "where the document's language is read from (language_id writes metadata.language)"),
    ]

    /// FineWeb2 names that differ from darwin's.
    static let aliases = ["stopwords": "stop_words"]

    /// The overrides file (or folder) a step reads, for the job's identity of it.
    static let resources: @Sendable (Parameters) throws -> [ResourceReference] = { p in
        p.optionalString("language_overrides").map { [ResourceReference(parameter: "language_overrides", path: $0)] }
            ?? []
    }

    /// Loads (once per process, ``ResourceRegistry``) the overrides at `path`.
    static func load(_ path: String) throws -> LanguageOverrides {
        try ResourceRegistry.shared.resource("language overrides", path) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw ParameterError("language_overrides", "\(path) does not exist")
            }
            var map: [String: [String: JSONValue]] = [:]
            if isDir.boolValue {
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                for f in files where f.hasSuffix(".yml") || f.hasSuffix(".yaml") || f.hasSuffix(".json") {
                    let lang = String(f.prefix { $0 != "." })
                    guard case .object(let o) = try parse(path + "/" + f) else {
                        throw ParameterError("language_overrides", "\(path)/\(f) is not a mapping of parameters")
                    }
                    map[lang] = Dictionary(o.members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                }
            } else {
                guard case .object(let top) = try parse(path) else {
                    throw ParameterError("language_overrides", "\(path) is not a mapping of language → parameters")
                }
                for (lang, v) in top {
                    guard case .object(let o) = v else {
                        throw ParameterError(
                            "language_overrides", "\(path): entry '\(lang)' is not a mapping of parameters")
                    }
                    map[lang] = Dictionary(o.members.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                }
            }
            return LanguageOverrides(byLanguage: map)
        }
    }

    private static func parse(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ParameterError("language_overrides", "cannot read \(path)")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else { return .object(JSONObject()) }
            return json(node)
        } catch {
            throw ParameterError("language_overrides", "\(path): invalid YAML: \(error)")
        }
    }

    private static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let s):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(s.string)
            case Tag.Name.int.rawValue: return node.int.map { .number(JSONNumber($0)) } ?? .string(s.string)
            case Tag.Name.float.rawValue: return node.float.map { .number(JSONNumber($0)) } ?? .string(s.string)
            default: return .string(s.string)
            }
        case .sequence(let seq): return .array(seq.map(json))
        case .mapping(let m): return .object(JSONObject(m.map { (key: $0.key.string ?? "", value: json($0.value)) }))
        case .alias: return .null
        }
    }

    /// For every language, the step's parameters with that language's overrides applied.
    ///
    /// - Throws: ``ParameterError`` when an override has the wrong type for the step's parameter.
    func parametersByLanguage(base: Parameters, specs: [ParameterSpec]) throws -> [String: Parameters] {
        var out: [String: Parameters] = [:]
        for (lang, values) in byLanguage {
            var merged = base.values
            for (key, value) in values {
                let name = Self.aliases[key] ?? key
                guard let spec = specs.first(where: { $0.name == name }),
                    !Self.parameters.contains(where: { $0.name == name })
                else { continue }
                switch spec.type.normalize(value) {
                case .success(let v): merged[name] = v
                case .failure(let e):
                    throw ParameterError("language_overrides", "override '\(key)' for language '\(lang)': \(e.message)")
                }
            }
            out[lang] = Parameters(merged)
        }
        return out
    }
}

/// A step's settings for each language: the base ones, and those of languages with overrides.
struct PerLanguage<Config> {
    let base: Config
    let byLanguage: [String: Config]
    let field: String

    init(_ p: Parameters, specs: [ParameterSpec], make: (Parameters) throws -> Config) throws {
        base = try make(p)
        field = p.string("language_field")
        if let path = p.optionalString("language_overrides") {
            let o = try LanguageOverrides.load(path)
            byLanguage = try o.parametersByLanguage(base: p, specs: specs).mapValues(make)
        } else {
            byLanguage = [:]
        }
    }

    /// The settings for a document.
    func config(for document: Document) -> (Config, language: String?) {
        let lang = document.value(atPath: field)?.stringValue
        if let lang, let c = byLanguage[lang] { return (c, lang) }
        return (base, lang)
    }
}
