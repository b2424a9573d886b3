import DarwinCore
import Foundation
import Yams

/// Reads a YAML recipe and validates all of it before any work starts.
///
/// Every problem is reported with the recipe file, line and column: unknown keys, steps and
/// parameters (with a suggestion), mistyped values, a step used in the wrong level, duplicate stage
/// names, and parameters a step refuses when it is built.
public struct RecipeLoader: Sendable {
    public let registry: StepRegistry

    public init(registry: StepRegistry) { self.registry = registry }

    /// Loads and validates the recipe at `path`.
    public func load(path: String) throws(RecipeError) -> Recipe {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw RecipeError(path: path, line: nil, message: "recipe \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RecipeError(path: path, line: nil, message: "recipe is not valid UTF-8")
        }
        return try parse(text: text, path: path)
    }

    /// Validates recipe text; `path` is used in messages.
    public func parse(text: String, path: String) throws(RecipeError) -> Recipe {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw RecipeError(path: path, line: nil, message: "recipe is empty")
            }
            root = node
        } catch let e as RecipeError {
            throw e
        } catch let e as YamlError {
            throw Self.yamlError(e, path: path)
        } catch {
            throw RecipeError(path: path, line: nil, message: "invalid YAML: \(error)")
        }
        let r = Reader(path: path)
        let top = try r.mapping(
            root, what: "the recipe", allowed: ["name", "seed", "input", "output", "stages", "tokenizer"])

        var name: String?
        if let n = top["name"] { name = try r.string(n, what: "name") }
        var seed: UInt64 = 0
        if let n = top["seed"] {
            let v = try r.int(n, what: "seed")
            guard v >= 0 else { throw r.error(n, "seed must be ≥ 0") }
            seed = UInt64(v)
        }

        guard let inputNode = top["input"] else {
            throw r.error(root, "missing 'input' (paths and format of the documents to read)")
        }
        let input = try parseInput(inputNode, r)
        guard let outputNode = top["output"] else { throw r.error(root, "missing 'output' (the job folder)") }
        let output = try parseOutput(outputNode, r)
        guard let stagesNode = top["stages"] else { throw r.error(root, "missing 'stages'") }
        let stageNodes = try r.sequence(stagesNode, what: "stages")
        guard !stageNodes.isEmpty else {
            throw r.error(stagesNode, "'stages' is empty: a job needs at least one stage")
        }

        var tokenizer: String?
        if let n = top["tokenizer"] { tokenizer = try r.string(n, what: "tokenizer") }
        var stages: [StageSpec] = []
        var seen: [String: Int] = [:]
        for node in stageNodes {
            let stage = try parseStage(node, r)
            if let first = seen[stage.name] {
                throw r.error(
                    node,
                    "duplicate stage name '\(stage.name)' (first defined on line \(first)); give each stage a distinct 'name'"
                )
            }
            if stage.name.hasPrefix("_") || stage.name == "provenance" || stage.name.contains("/") {
                throw r.error(node, "stage name '\(stage.name)' is reserved or not a folder name")
            }
            if let t = stage.tokenize, t.tokenizer == nil, tokenizer == nil {
                throw RecipeError(
                    path: path, line: t.line,
                    message:
                        "stage '\(stage.name)' tokenizes but names no tokenizer: add 'tokenizer: PATH/tokenizer.json' to the recipe or to its tokenize"
                )
            }
            seen[stage.name] = stage.line
            stages.append(stage)
        }
        var recipe = Recipe(
            sourcePath: path, text: text, name: name, seed: seed, input: input, output: output, stages: stages)
        recipe.tokenizer = tokenizer
        return recipe
    }

    // MARK: - Sections

    private func parseInput(_ node: Node, _ r: Reader) throws(RecipeError) -> InputSpec {
        let m = try r.mapping(
            node, what: "input",
            allowed: [
                "paths", "format", "max_line_bytes", "fields", "source", "content_types", "max_document_bytes",
                "files_per_shard", "max_window",
            ])
        guard let pathsNode = m["paths"] else { throw r.error(node, "input needs 'paths' (files, folders or globs)") }
        let paths = try r.stringList(pathsNode, what: "input.paths")
        guard !paths.isEmpty else { throw r.error(pathsNode, "input.paths is empty") }
        var format = "jsonl"
        if let n = m["format"] { format = try r.string(n, what: "input.format") }
        guard InputSpec.formats.contains(format) else {
            throw r.error(
                m["format"] ?? node,
                "unknown input format '\(format)' (formats: \(InputSpec.formats.joined(separator: ", ")))")
        }
        var maxLine = ShardReaderDefaults.maxLineBytes
        if let n = m["max_line_bytes"] { maxLine = try r.size(n, what: "input.max_line_bytes", example: "64MiB") }
        var spec = InputSpec(paths: paths, format: format, maxLineBytes: maxLine, pathLines: r.lines(of: pathsNode))
        func only(_ key: String, _ formats: [String]) throws(RecipeError) {
            if let n = m[key], !formats.contains(format) {
                throw r.error(n, "input.\(key) applies to format \(formats.joined(separator: " or ")), not \(format)")
            }
        }
        try only("fields", ["jsonl"])
        try only("content_types", ["warc"])
        try only("files_per_shard", ["files"])
        try only("max_document_bytes", ["warc", "files"])
        try only("max_window", ["jsonl"])
        if let n = m["fields"] {
            let f = try r.mapping(n, what: "input.fields", allowed: ["id", "text", "url"])
            if let v = f["id"] { spec.idField = try r.string(v, what: "input.fields.id") }
            if let v = f["text"] { spec.textField = try r.string(v, what: "input.fields.text") }
            if let v = f["url"] { spec.urlField = try r.string(v, what: "input.fields.url") }
        }
        if let n = m["source"] { spec.source = try r.string(n, what: "input.source") }
        if let n = m["content_types"] {
            spec.contentTypes = try r.stringList(n, what: "input.content_types").map { $0.lowercased() }
        }
        if let n = m["max_document_bytes"] {
            spec.maxDocumentBytes = try r.size(n, what: "input.max_document_bytes", example: "16MiB")
        }
        if let n = m["max_window"] {
            // Not rounded: zstd windows are powers of two, and the job's record should show the window used.
            let window = try r.size(n, what: "input.max_window", example: "512MiB")
            guard window.nonzeroBitCount == 1, (1 << 20)...(1 << 31) ~= window else {
                throw r.error(n, "input.max_window must be a power of two from 1MiB to 2GiB, such as 256MiB or 1GiB")
            }
            spec.maxWindow = window
        }
        if let n = m["files_per_shard"] {
            let v = try r.int(n, what: "input.files_per_shard")
            guard v > 0 else { throw r.error(n, "input.files_per_shard must be at least 1") }
            spec.filesPerShard = v
        }
        return spec
    }

    private func parseOutput(_ node: Node, _ r: Reader) throws(RecipeError) -> OutputSpec {
        if case .scalar = node {
            return OutputSpec(
                path: try r.string(node, what: "output"), compressionLevel: 3, writeRejected: true, line: r.line(node))
        }
        let m = try r.mapping(node, what: "output", allowed: ["path", "compression_level", "write_rejected"])
        guard let p = m["path"] else { throw r.error(node, "output needs 'path' (the job folder)") }
        let path = try r.string(p, what: "output.path")
        guard !path.isEmpty else { throw r.error(p, "output.path is empty") }
        var level = 3
        if let n = m["compression_level"] {
            level = try r.int(n, what: "output.compression_level")
            guard (-7...22).contains(level) else {
                throw r.error(n, "output.compression_level must be in -7…22 (zstd levels)")
            }
        }
        var writeRejected = true
        if let n = m["write_rejected"] { writeRejected = try r.bool(n, what: "output.write_rejected") }
        return OutputSpec(path: path, compressionLevel: level, writeRejected: writeRejected, line: r.line(p))
    }

    private func parseStage(_ node: Node, _ r: Reader) throws(RecipeError) -> StageSpec {
        let m = try r.mapping(
            node, what: "a stage", allowed: ["name", "level", "steps", "shard_size", "shard_documents", "tokenize"])
        guard let levelNode = m["level"] else { throw r.error(node, "stage needs a 'level' (L0…L9)") }
        let levelText = try r.scalarText(levelNode, what: "level")
        guard let level = Level(parsing: levelText) else {
            throw r.error(levelNode, "unknown level '\(levelText)' (levels: L0…L9)")
        }
        var name = level.description
        if let n = m["name"] { name = try r.string(n, what: "stage name") }
        guard !name.isEmpty else { throw r.error(m["name"] ?? node, "stage name is empty") }
        var steps: [StepSpec] = []
        var uses: [String: Int] = [:]
        if let stepsNode = m["steps"] {
            if r.isNull(stepsNode) {
                // `steps:` with nothing: a stage that only carries documents through.
            } else {
                for stepNode in try r.sequence(stepsNode, what: "steps of stage '\(name)'") {
                    var step = try parseStep(stepNode, stage: name, level: level, r)
                    uses[step.descriptor.id, default: 0] += 1
                    if let n = uses[step.descriptor.id], n > 1 { step.name = "\(step.descriptor.id)#\(n)" }
                    steps.append(step)
                }
            }
        }
        var cut: ShardCut?
        if let n = m["shard_size"] {
            let bytes = try r.size(n, what: "shard_size", example: "256MiB")
            guard bytes >= 1024 else { throw r.error(n, "shard_size must be at least 1KiB") }
            cut = .bytes(bytes)
        }
        if let n = m["shard_documents"] {
            if m["shard_size"] != nil { throw r.error(n, "give shard_size or shard_documents, not both") }
            let count = try r.int(n, what: "shard_documents")
            guard count >= 1 else { throw r.error(n, "shard_documents must be at least 1") }
            cut = .documents(count)
        }
        var stage = StageSpec(name: name, level: level, steps: steps, line: r.line(node) ?? 0, cut: cut)
        if let n = m["tokenize"] { stage.tokenize = try parseTokenize(n, r) }
        return stage
    }

    /// `tokenize: {formats: [megatron, datatrove], bos: auto|none|TOKEN, eos: auto|none|TOKEN, tokenizer: PATH}`.
    private func parseTokenize(_ node: Node, _ r: Reader) throws(RecipeError) -> TokenizeSpec {
        let m = try r.mapping(node, what: "tokenize", allowed: ["formats", "bos", "eos", "tokenizer"])
        var formats = TokenizeSpec.Format.allCases
        if let n = m["formats"] {
            formats = []
            for f in try r.stringList(n, what: "tokenize.formats") {
                guard let v = TokenizeSpec.Format(rawValue: f) else {
                    throw r.error(n, "unknown token format '\(f)' (formats: megatron, datatrove)")
                }
                if !formats.contains(v) { formats.append(v) }
            }
            guard !formats.isEmpty else { throw r.error(n, "tokenize.formats is empty") }
        }
        func boundary(_ key: String, _ d: TokenizeSpec.Boundary) throws(RecipeError) -> TokenizeSpec.Boundary {
            guard let n = m[key] else { return d }
            let v = try r.string(n, what: "tokenize.\(key)")
            switch v {
            case "auto": return .auto
            case "none": return .none
            case "": throw r.error(n, "tokenize.\(key) is empty (auto, none or a token)")
            default: return .token(v)
            }
        }
        var tokenizer: String?
        if let n = m["tokenizer"] { tokenizer = try r.string(n, what: "tokenize.tokenizer") }
        return TokenizeSpec(
            formats: formats, bos: try boundary("bos", .auto), eos: try boundary("eos", .auto), tokenizer: tokenizer,
            line: r.line(node) ?? 0)
    }

    private func parseStep(_ node: Node, stage: String, level: Level, _ r: Reader) throws(RecipeError) -> StepSpec {
        let id: String
        var paramsNode: Node?
        let keyNode: Node
        switch node {
        case .scalar:
            id = try r.string(node, what: "step")
            keyNode = node
        case .mapping(let mapping):
            guard mapping.count == 1, let only = mapping.first else {
                throw r.error(node, "a step is written as '- STEP_ID: {parameters}' (one key per list item)")
            }
            id = try r.string(only.key, what: "step")
            keyNode = only.key
            paramsNode = only.value
        default:
            throw r.error(node, "a step is written as '- STEP_ID: {parameters}'")
        }
        guard let descriptor = registry.descriptor(id) else {
            var message = "unknown step '\(id)'"
            if let near = nearest(id, in: registry.ids) { message += "; did you mean '\(near)'?" }
            message += " (`darwin steps` lists them)"
            throw r.error(keyNode, message)
        }
        guard descriptor.levels.contains(level) else {
            let levels = descriptor.levels.map(\.description).joined(separator: ", ")
            throw r.error(keyNode, "step '\(id)' belongs to \(levels); stage '\(stage)' is \(level)")
        }
        var raw: [(name: String, value: JSONValue)] = []
        var paramLines: [String: Node] = [:]
        if let p = paramsNode {
            if r.isNull(p) {
                // no parameters
            } else {
                guard case .mapping(let pm) = p else {
                    throw r.error(p, "parameters of '\(id)' must be a mapping such as {name: value}")
                }
                for (k, v) in pm {
                    let key = try r.string(k, what: "parameter name")
                    if paramLines[key] != nil { throw r.error(k, "parameter '\(key)' given twice") }
                    paramLines[key] = k
                    raw.append((key, r.json(v)))
                }
            }
        }
        let parameters: Parameters
        switch Parameters.validate(raw, against: descriptor.parameters) {
        case .success(let p): parameters = p
        case .failure(let e):
            throw r.error(e.parameter.flatMap { paramLines[$0] } ?? keyNode, "step '\(id)': \(e.message)")
        }
        do {
            if let check = descriptor.check {
                try check(parameters)
            } else {
                _ = try descriptor.make(parameters)
            }
            _ = try descriptor.resources?(parameters)
        } catch let e as ParameterError {
            throw r.error(e.parameter.flatMap { paramLines[$0] } ?? keyNode, "step '\(id)': \(e.message)")
        } catch {
            throw r.error(keyNode, "step '\(id)': \(error)")
        }
        return StepSpec(name: id, descriptor: descriptor, parameters: parameters, line: r.line(keyNode) ?? 0)
    }

    private static func yamlError(_ e: YamlError, path: String) -> RecipeError {
        switch e {
        case .scanner(let context, let problem, let mark, _):
            return RecipeError(
                path: path, line: mark.line, column: mark.column,
                message: "invalid YAML: \(problem)" + (context.map { " \($0.text)" } ?? ""))
        case .parser(let context, let problem, let mark, _):
            return RecipeError(
                path: path, line: mark.line, column: mark.column,
                message: "invalid YAML: \(problem)" + (context.map { " \($0.text)" } ?? ""))
        case .composer(let context, let problem, let mark, _):
            return RecipeError(
                path: path, line: mark.line, column: mark.column,
                message: "invalid YAML: \(problem)" + (context.map { " \($0.text)" } ?? ""))
        default:
            return RecipeError(path: path, line: nil, message: "invalid YAML: \(e)")
        }
    }
}

/// Default limits shared by the recipe and the reader.
public enum ShardReaderDefaults {
    public static let maxLineBytes = 64 << 20
}

extension InputSpec {
    /// The formats a recipe may name.
    public static let formats = ["jsonl", "warc", "files"]
}

// MARK: - Typed access to YAML nodes, with locations

private struct Reader {
    let path: String

    func line(_ node: Node) -> Int? { node.mark?.line }

    func error(_ node: Node, _ message: String) -> RecipeError {
        RecipeError(path: path, line: node.mark?.line, column: node.mark?.column, message: message)
    }

    func lines(of node: Node) -> [Int] {
        if case .sequence(let s) = node { return s.map { $0.mark?.line ?? 0 } }
        return [node.mark?.line ?? 0]
    }

    func mapping(_ node: Node, what: String, allowed: [String]) throws(RecipeError) -> [String: Node] {
        guard case .mapping(let m) = node else { throw error(node, "\(what) must be a mapping (key: value)") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            let key = try string(k, what: "key")
            guard allowed.contains(key) else {
                var message = "unknown key '\(key)' in \(what)"
                if let near = nearest(key, in: allowed) { message += "; did you mean '\(near)'?" }
                message += " (keys: \(allowed.joined(separator: ", ")))"
                throw error(k, message)
            }
            if out[key] != nil { throw error(k, "key '\(key)' given twice in \(what)") }
            out[key] = v
        }
        return out
    }

    func sequence(_ node: Node, what: String) throws(RecipeError) -> [Node] {
        guard case .sequence(let s) = node else { throw error(node, "\(what) must be a list") }
        return Array(s)
    }

    func scalarText(_ node: Node, what: String) throws(RecipeError) -> String {
        guard case .scalar(let s) = node else { throw error(node, "\(what) must be a single value") }
        return s.string
    }

    func string(_ node: Node, what: String) throws(RecipeError) -> String {
        guard case .scalar(let s) = node, !isNull(node) else { throw error(node, "\(what) must be a string") }
        return s.string
    }

    /// A positive size in bytes (`16MiB`, `8KB` or a number).
    func size(_ node: Node, what: String, example: String) throws(RecipeError) -> Int {
        guard case .success(let v) = ParameterType.byteSize.normalize(json(node)), let bytes = v.intValue, bytes > 0
        else {
            throw error(node, "\(what): expected a size such as \(example)")
        }
        return bytes
    }

    func int(_ node: Node, what: String) throws(RecipeError) -> Int {
        guard case .number(let n) = json(node), let i = n.intValue else {
            throw error(node, "\(what) must be an integer")
        }
        return i
    }

    func bool(_ node: Node, what: String) throws(RecipeError) -> Bool {
        guard case .bool(let b) = json(node) else { throw error(node, "\(what) must be true or false") }
        return b
    }

    func stringList(_ node: Node, what: String) throws(RecipeError) -> [String] {
        switch node {
        case .scalar: return [try string(node, what: what)]
        case .sequence(let s):
            var out: [String] = []
            for item in s { out.append(try string(item, what: "each entry of \(what)")) }
            return out
        default: throw error(node, "\(what) must be a string or a list of strings")
        }
    }

    /// Whether the node is a YAML null (`~`, `null` or nothing).
    func isNull(_ node: Node) -> Bool {
        node.tag.rawValue == Tag.Name.null.rawValue
    }

    /// Converts a YAML node to JSON using YAML 1.1 core-schema tags (quoted scalars stay strings).
    func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let s):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(s.string)
            case Tag.Name.int.rawValue:
                if let i = node.int { return .number(JSONNumber(i)) }
                return .string(s.string)
            case Tag.Name.float.rawValue:
                if let d = node.float, d.isFinite { return .number(JSONNumber(lexeme: Self.floatLexeme(s.string, d))) }
                return .string(s.string)
            default: return .string(s.string)
            }
        case .sequence(let seq): return .array(seq.map { json($0) })
        case .mapping(let m):
            return .object(JSONObject(m.map { (key: $0.key.string ?? "", value: json($0.value)) }))
        case .alias: return .null
        }
    }

    /// Keeps a YAML float's spelling when it is already valid JSON (`0.65` stays `0.65`).
    private static func floatLexeme(_ text: String, _ value: Double) -> String {
        if (try? JSONValue.parse(text)).flatMap({ $0.doubleValue }) == value { return text }
        return "\(value)"
    }
}
