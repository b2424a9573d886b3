import DarwinCore
import DarwinIO
import DarwinInference
import Foundation
import Mustache
import Yams

/// A prompt file: a system message and a user message, Mustache templates, with one `{{text}}` in the user
/// message where the document goes.
///
/// ```yaml
/// system: You rate web pages.
/// user: |
///   Rate the extract below{{#lang}} (written in {{lang}}){{/lang}}.
///   {{text}}
/// ```
/// The step's variables (`variables:` in the recipe, and those the step sets itself) are rendered by
/// swift-mustache as plain text (no HTML escaping) once, when the step is made; the document is put in its
/// place afterwards, never read as a template. Its hash (XXH3-128 of the file's bytes) is part of every cache
/// key and of the stage's fingerprint.
struct PromptTemplate: Sendable {
    let path: String
    let hash: String
    let system: String?
    /// The user message before and after `{{text}}`.
    let lead: String
    let trail: String

    /// Where the document goes in the user message.
    static let textMarker = "{{text}}"
    /// What `{{text}}` renders to before the document is put in its place.
    private static let slot = "\u{E000}darwin-text\u{E001}"

    init(path: String, parameter: String, variables: [String: Any] = [:]) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ParameterError(parameter, "\(path): no such prompt file")
        }
        self.path = path
        hash = try ContentHashes.hash(of: path)
        let text = String(decoding: data, as: UTF8.self)
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw ParameterError(parameter, "\(path): not YAML: \(error)")
        }
        guard let fields = node as? [String: Any], let user = fields["user"] as? String else {
            throw ParameterError(parameter, "\(path): a prompt file needs `user:` (and may have `system:`)")
        }
        let unknown = Set(fields.keys).subtracting(["system", "user"])
        if let extra = unknown.sorted().first {
            throw ParameterError(parameter, "\(path): unknown field `\(extra)` (a prompt file has system and user)")
        }
        var values = variables
        values["text"] = Self.slot
        func render(_ source: String, _ field: String) throws -> String {
            do {
                return try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source).render(values)
            } catch {
                throw ParameterError(parameter, "\(path): `\(field)` is not a valid Mustache template: \(error)")
            }
        }
        let parts = try render(user, "user").components(separatedBy: Self.slot)
        guard parts.count == 2 else {
            throw ParameterError(
                parameter,
                "\(path): the user message must contain \(Self.textMarker) exactly once (found \(parts.count - 1))")
        }
        if let s = fields["system"] as? String {
            let rendered = try render(s, "system")
            guard !rendered.contains(Self.slot) else {
                throw ParameterError(
                    parameter, "\(path): \(Self.textMarker) belongs in the user message, not the system one")
            }
            system = rendered
        } else {
            system = nil
        }
        lead = parts[0]
        trail = parts[1]
    }

    /// The prompt file a step's parameter names (or `file`, when the step picks it), rendered with the recipe's
    /// `variables` (a mapping, for steps that have the parameter) over the step's own.
    static func load(
        _ p: Parameters, _ parameter: String = "prompt", file: String? = nil, variables: [String: Any] = [:]
    ) throws -> PromptTemplate {
        var values = variables
        switch p.json("variables") {
        case .object(let o): for (k, v) in o { values[k] = mustacheValue(v) }
        case .null: break
        default: throw ParameterError("variables", "variables must be a mapping of names to values")
        }
        return try PromptTemplate(
            path: try resolve(file ?? p.string(parameter), parameter: parameter), parameter: parameter,
            variables: values)
    }

    /// The prompt file as a resource of the stage: its content hash is in the fingerprint.
    static func resource(_ p: Parameters, _ parameter: String = "prompt", file: String? = nil) throws
        -> ResourceReference
    {
        ResourceReference(parameter: parameter, path: try resolve(file ?? p.string(parameter), parameter: parameter))
    }

    private static func mustacheValue(_ v: JSONValue) -> Any {
        switch v {
        case .string(let s): return s
        case .number(let n): return n.intValue.map { $0 as Any } ?? (n.doubleValue as Any)
        case .bool(let b): return b
        case .array(let a): return a.map(mustacheValue)
        case .object(let o): return Dictionary(o.map { ($0.key, mustacheValue($0.value)) }) { a, _ in a }
        case .null: return ""
        }
    }

    /// The chat request for one document; the system message and the lead are shared by every request.
    func request(text: String) -> CompletionRequest {
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: lead + text + trail))
        return CompletionRequest(prompt: .chat(messages), sharedLength: lead.utf8.count)
    }

    /// Resolves a prompt parameter: a path as given, or a name looked up in ./configs/prompts and the
    /// configs/prompts of darwin's checkout.
    static func resolve(_ name: String, parameter: String) throws -> String {
        if name.contains("/") || FileManager.default.fileExists(atPath: name) { return name }
        let dirs = ModelLocator.folders("configs/prompts")
        for d in dirs where FileManager.default.fileExists(atPath: d + "/" + name) { return d + "/" + name }
        throw ParameterError(parameter, "prompt \(name) not found (looked in \(dirs.joined(separator: ", ")))")
    }
}

extension String {
    /// The first `n` characters (all when n is 0).
    func prefixCharacters(_ n: Int) -> String { n > 0 && count > n ? String(prefix(n)) : self }
}
