import DarwinCore
import DarwinIO
import DarwinProvenance
import DarwinTokenizer
import Foundation

/// What a stage's `tokenize:` writes: the files trainers read, with the ids of every kept document.
public struct TokenizeSpec: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        /// Megatron-LM's indexed dataset: `PREFIX.bin` and `PREFIX.idx`.
        case megatron
        /// datatrove / nanotron token files: `PREFIX.ds`, `PREFIX.ds.index`, `PREFIX.ds.metadata`.
        case datatrove
    }

    /// A token put before or after every document.
    public enum Boundary: Sendable, Equatable {
        /// What the tokenizer's post-processor adds (for `eos`: else its end-of-text token).
        case auto
        case none
        case token(String)
    }

    public var formats: [Format]
    public var bos: Boundary
    public var eos: Boundary
    /// A tokenizer for this stage alone; else the recipe's.
    public var tokenizer: String?
    public var line: Int

    public init(formats: [Format], bos: Boundary, eos: Boundary, tokenizer: String?, line: Int) {
        self.formats = formats
        self.bos = bos
        self.eos = eos
        self.tokenizer = tokenizer
        self.line = line
    }

    /// Names of end-of-text tokens, looked for in this order when `eos` is `auto` and the post-processor adds none.
    static let endOfText = ["<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<｜end▁of▁sentence｜>", "<|end|>"]

    /// The ids around every document, or why they cannot be had from this tokenizer.
    public func boundaries(_ t: Tokenizer) throws(TokenizerError) -> (bos: [UInt32], eos: [UInt32]) {
        func named(_ name: String, _ what: String) throws(TokenizerError) -> [UInt32] {
            guard let id = t.id(of: name) else {
                throw TokenizerError("\(t.path): has no token \(name.debugDescription) for \(what)")
            }
            return [id]
        }
        var bos: [UInt32] = []
        var eos: [UInt32] = []
        switch self.bos {
        case .auto: bos = t.prefixIds
        case .none: break
        case .token(let name): bos = try named(name, "bos")
        }
        switch self.eos {
        case .auto:
            if !t.suffixIds.isEmpty {
                eos = t.suffixIds
            } else if let id = Self.endOfText.lazy.compactMap({ t.id(of: $0) }).first {
                eos = [id]
            } else {
                throw TokenizerError(
                    "\(t.path): no end-of-text token found (\(Self.endOfText.joined(separator: ", "))): name one with eos: TOKEN, or eos: none"
                )
            }
        case .none: break
        case .token(let name): eos = try named(name, "eos")
        }
        return (bos, eos)
    }
}

/// Widths of token ids, as each trainer picks them from the vocabulary size.
public enum TokenWidths {
    /// Megatron-core's `DType.optimal_dtype`: uint16 below 65,500 tokens, else int32 (dtype codes 8 and 4).
    public static func megatron(_ t: Tokenizer) -> (code: UInt8, bytes: Int, name: String) {
        t.vocabularySize < 65_500 && t.maxId < 65_536 ? (8, 2, "uint16") : (4, 4, "int32")
    }

    /// datatrove: 2-byte tokens up to 65,536 tokens, else 4.
    public static func datatrove(_ t: Tokenizer) -> Int {
        t.vocabularySize <= 65_536 && t.maxId < 65_536 ? 2 : 4
    }
}

/// Writes the token files of one output shard under temporary names; ``finish()`` returns them to commit
/// with the shard.
final class TokenFiles {
    let prefix: String
    private let formats: [TokenizeSpec.Format]
    private let megatronWidth: (code: UInt8, bytes: Int, name: String)
    private let datatroveWidth: Int
    private let tokenizerName: String
    private var bin: BufferedFile?
    private var ds: BufferedFile?
    private var lengths: [Int32] = []
    private(set) var tokens = 0
    static let suffix = TaskExecutor.temporarySuffix

    init(prefix: String, spec: TokenizeSpec, tokenizer: Tokenizer) throws {
        self.prefix = prefix
        formats = spec.formats
        megatronWidth = TokenWidths.megatron(tokenizer)
        datatroveWidth = TokenWidths.datatrove(tokenizer)
        tokenizerName = tokenizer.path
        for f in Self.files(prefix, formats) { AtomicFiles.remove(f + Self.suffix) }
        if formats.contains(.megatron) { bin = try BufferedFile(prefix + ".bin" + Self.suffix) }
        if formats.contains(.datatrove) { ds = try BufferedFile(prefix + ".ds" + Self.suffix) }
    }

    /// The files of a prefix in these formats.
    static func files(_ prefix: String, _ formats: [TokenizeSpec.Format]) -> [String] {
        var out: [String] = []
        if formats.contains(.megatron) { out += [prefix + ".bin", prefix + ".idx"] }
        if formats.contains(.datatrove) { out += [prefix + ".ds", prefix + ".ds.index", prefix + ".ds.metadata"] }
        return out
    }

    var documents: Int { lengths.count }

    func append(_ ids: [UInt32]) throws {
        lengths.append(Int32(ids.count))
        tokens += ids.count
        if let bin { try bin.write(ids, width: megatronWidth.bytes) }
        if let ds { try ds.write(ids, width: datatroveWidth) }
    }

    /// Closes the files, writes the indexes; returns every file (temporary → final).
    func finish() throws -> [(temporary: String, final: String)] {
        var out: [(String, String)] = []
        if let bin {
            try bin.close()
            // Megatron's index: magic, version 1, dtype code, sequences, document indices; then the sequence
            // lengths (int32), their byte offsets in .bin (int64) and the first sequence of every document.
            var idx = ByteWriter(capacity: 34 + lengths.count * 20)
            idx.appendBytes(Array("MMIDIDX\0\0".utf8) + [1, 0, 0, 0, 0, 0, 0, 0, megatronWidth.code])
            idx.append(UInt64(lengths.count))
            idx.append(UInt64(lengths.count + 1))
            for l in lengths { idx.append(UInt32(bitPattern: l)) }
            var pointer: Int64 = 0
            for l in lengths {
                idx.append(UInt64(bitPattern: pointer))
                pointer += Int64(l) * Int64(megatronWidth.bytes)
            }
            for i in 0...lengths.count { idx.append(UInt64(i)) }
            try BinaryFile.write(idx.bytes, to: prefix + ".idx" + Self.suffix)
            out += [(prefix + ".bin" + Self.suffix, prefix + ".bin"), (prefix + ".idx" + Self.suffix, prefix + ".idx")]
        }
        if let ds {
            try ds.close()
            var index = ByteWriter(capacity: lengths.count * 8)
            var end: UInt64 = 0
            for l in lengths {
                end += UInt64(l)
                index.append(end)
            }
            try BinaryFile.write(index.bytes, to: prefix + ".ds.index" + Self.suffix)
            let metadata = "\(tokenizerName)|\(datatroveWidth)\n\(tokens)\n\(Self.metric(tokens))T"
            try BinaryFile.write(Array(metadata.utf8), to: prefix + ".ds.metadata" + Self.suffix)
            out += [
                (prefix + ".ds" + Self.suffix, prefix + ".ds"),
                (prefix + ".ds.index" + Self.suffix, prefix + ".ds.index"),
                (prefix + ".ds.metadata" + Self.suffix, prefix + ".ds.metadata"),
            ]
        }
        return out
    }

    func abandon() {
        try? bin?.close()
        try? ds?.close()
        for f in Self.files(prefix, formats) { AtomicFiles.remove(f + Self.suffix) }
    }

    /// A count with a metric prefix and three significant digits ("1.13 M"), as datatrove's metadata shows it.
    static func metric(_ n: Int) -> String {
        let units = ["", "k", "M", "G", "T", "P"]
        var v = Double(n)
        var u = 0
        while v >= 1000 && u < units.count - 1 {
            v /= 1000
            u += 1
        }
        let digits = v >= 100 ? 0 : v >= 10 ? 1 : 2
        return String(format: "%.\(u == 0 ? 0 : digits)f %@", v, units[u])
    }
}

/// A file written through a buffer.
final class BufferedFile {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var closed = false
    let path: String

    init(_ path: String) throws {
        self.path = path
        try AtomicFiles.makeDirectory((path as NSString).deletingLastPathComponent)
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TaskFailure.failed("\(path): cannot be created")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ ids: [UInt32], width: Int) throws {
        if width == 2 {
            for id in ids {
                buffer.append(UInt8(truncatingIfNeeded: id))
                buffer.append(UInt8(truncatingIfNeeded: id >> 8))
            }
        } else {
            for id in ids { withUnsafeBytes(of: id.littleEndian) { buffer += $0 } }
        }
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        guard !closed else { return }
        closed = true
        try flush()
        try handle.synchronize()
        try handle.close()
    }
}

extension Tokenizer {
    /// The tokenizer at `path`, loaded once per process (``ResourceRegistry``) and shared by every task.
    static func shared(_ path: String) throws(TokenizerError) -> Tokenizer {
        do {
            return try ResourceRegistry.shared.resource("tokenizer", path) { try Tokenizer(contentsOf: path) }
        } catch let e as TokenizerError {
            throw e
        } catch {
            throw TokenizerError("\(path): \(error)")
        }
    }
}

/// A task's tokens: counted for the stats when the job names a tokenizer, and written to token files when
/// the stage tokenizes and the task writes its final shards.
final class StageTokens {
    static let statisticsName = "tokens"
    let tokenizer: Tokenizer
    let spec: TokenizeSpec?
    private let encoder: Encoder
    private let bos: [UInt32]
    private let eos: [UInt32]
    private var files: TokenFiles?
    private var tokensIn = 0
    private var tokensOut = 0
    private var written = 0

    /// `nil` when neither the job nor the stage names a tokenizer.
    init?(plan: JobPlan, stage: StagePlan) throws(TaskFailure) {
        guard let path = stage.spec.tokenize?.tokenizer ?? plan.recipe.tokenizer else { return nil }
        do {
            tokenizer = try Tokenizer.shared(path)
            spec = stage.spec.tokenize
            (bos, eos) = try spec?.boundaries(tokenizer) ?? ([], [])
        } catch {
            throw .failed("tokenizer: \(error)")
        }
        encoder = tokenizer.makeEncoder()
    }

    /// Opens the token files of a kept shard, when the stage tokenizes; `prefix` is the shard's path without
    /// `.jsonl.zst`.
    func open(prefix: String) throws {
        guard let spec else { return }
        files = try TokenFiles(prefix: prefix, spec: spec, tokenizer: tokenizer)
    }

    /// The ids of a document's text, kept with the document (``Document/derived(_:_:)``) until its text
    /// changes: a document the stage reads and passes on unchanged is encoded once.
    private func ids(_ doc: Document) throws -> [UInt32] {
        let encoded = doc.derived(EncodedText.self) { EncodedText(encoder, $0) }
        if encoded.tokenizer !== tokenizer { return try EncodedText(encoder, doc.text).ids(doc) }
        return try encoded.ids(doc)
    }

    func countIn(_ doc: Document) throws { tokensIn += try ids(doc).count }

    /// A kept document of the stage: counted, and written when its token files are open.
    func out(_ doc: Document) throws {
        let ids = try ids(doc)
        tokensOut += ids.count
        if let files {
            try files.append(bos + ids + eos)
            written += bos.count + ids.count + eos.count
        }
    }

    func finish() throws -> [(temporary: String, final: String)] { try files?.finish() ?? [] }

    /// What provenance records of each token file (its checksum over the bytes, its size, and the documents
    /// it holds as its lines), so that a redone task's files are removed and `darwin verify` checks them.
    func records(_ files: [(temporary: String, final: String)], relative: (String) -> String) throws
        -> [OutputFileRecord]
    {
        try files.map { f in
            OutputFileRecord(
                path: relative(f.final), checksum: try FileFingerprint.contentHash([f.temporary]),
                lines: self.files?.documents ?? 0, fileBytes: BinaryFile.size(f.temporary))
        }
    }

    func abandon() { files?.abandon() }

    /// `in` (tokens read, for the stage that reads the job's input), `out` (tokens kept) and `written` (with
    /// the boundary tokens), as the counters of a pseudo-step.
    var statistics: StepStats {
        var s = StepStats()
        if tokensIn > 0 { s.counters["in"] = tokensIn }
        s.counters["out"] = tokensOut
        if files != nil { s.counters["written"] = written }
        return s
    }
}

/// A text's ids, or why it could not be encoded, as a document keeps them.
private final class EncodedText {
    let tokenizer: Tokenizer
    private let result: Result<[UInt32], TokenizerError>

    init(_ encoder: Encoder, _ text: String) {
        tokenizer = encoder.tokenizer
        result = Result { () throws(TokenizerError) in try encoder.encode(text) }
    }

    func ids(_ doc: Document) throws -> [UInt32] {
        switch result {
        case .success(let ids): return ids
        case .failure(let e): throw TaskFailure.failed("document \(doc.id): \(e)")
        }
    }
}

extension TokenFiles {
    static func prefix(of shard: String) -> String {
        shard.hasSuffix(".jsonl.zst") ? String(shard.dropLast(".jsonl.zst".count)) : shard
    }
}

/// `STAGE/tokens.json`: the tokenizer, the widths and boundary tokens, and the documents and tokens of every
/// token file, written once the stage is complete (from the files themselves).
enum TokenManifest {
    static func write(stage: StagePlan, plan: JobPlan) throws {
        guard let spec = stage.spec.tokenize, let path = spec.tokenizer ?? plan.recipe.tokenizer else { return }
        let t = try Tokenizer.shared(path)
        let (bos, eos) = try spec.boundaries(t)
        let layout = StageLayout(root: plan.outputDirectory, stage: stage.spec.name)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.directory)) ?? []
        let datatroveWidth = TokenWidths.datatrove(t)
        var files: [JSONValue] = []
        var documents = 0
        var tokens = 0
        for name in names.sorted() where name.hasSuffix(".jsonl.zst") {
            let prefix = String(name.dropLast(".jsonl.zst".count))
            // The end of every document, in tokens: from datatrove's index, else from Megatron's lengths.
            var ends: [UInt64] = []
            if spec.formats.contains(.datatrove) {
                let path = layout.directory + "/" + prefix + ".ds.index"
                var r = ByteReader(try BinaryFile.read(path), path: path)
                while !r.isAtEnd { ends.append(try r.uint64()) }
            } else {
                let path = layout.directory + "/" + prefix + ".idx"
                var r = ByteReader(try BinaryFile.read(path), path: path, position: 18)
                let n = try r.uint64()
                _ = try r.uint64()
                var end: UInt64 = 0
                for _ in 0..<n {
                    end += UInt64(try r.uint32())
                    ends.append(end)
                }
            }
            let count = Int(ends.last ?? 0)
            documents += ends.count
            tokens += count
            var o = JSONObject()
            o["prefix"] = .string(prefix)
            o["documents"] = .number(JSONNumber(ends.count))
            o["tokens"] = .number(JSONNumber(count))
            o["files"] = .array(
                TokenFiles.files(prefix, spec.formats).map { .string(($0 as NSString).lastPathComponent) })
            files.append(.object(o))
        }
        var tok = JSONObject()
        tok["path"] = .string(t.path)
        tok["content_hash"] = .string(t.contentHash)
        tok["model"] = .string(t.modelType)
        tok["vocab_size"] = .number(JSONNumber(t.vocabularySize))
        var root = JSONObject()
        root["tokenizer"] = .object(tok)
        root["formats"] = .array(spec.formats.map { .string($0.rawValue) })
        if spec.formats.contains(.megatron) { root["megatron_dtype"] = .string(TokenWidths.megatron(t).name) }
        if spec.formats.contains(.datatrove) { root["datatrove_token_size"] = .number(JSONNumber(datatroveWidth)) }
        root["bos"] = bos.first.map { .number(JSONNumber(Int($0))) } ?? .null
        root["eos"] = eos.first.map { .number(JSONNumber(Int($0))) } ?? .null
        root["documents"] = .number(JSONNumber(documents))
        root["tokens"] = .number(JSONNumber(tokens))
        root["files"] = .array(files)
        var text = JSONWriter.string(.object(root))
        text += "\n"
        let final = layout.directory + "/tokens.json"
        try BinaryFile.write(Array(text.utf8), to: final + TokenFiles.suffix)
        try AtomicFiles.commit([(final + TokenFiles.suffix, final)])
    }
}

extension JobPlan {
    /// Loads every tokenizer the recipe names and the boundary tokens of every stage that tokenizes: a missing
    /// or broken tokenizer.json, or a BOS/EOS it does not have, is an error at the recipe line that names it.
    /// Returns a line per tokenizing stage, for `darwin validate`.
    public func checkTokenizers() throws(RecipeError) -> [String: String] {
        var lines: [String: String] = [:]
        if let path = recipe.tokenizer {
            do {
                _ = try Tokenizer.shared(path)
            } catch {
                throw RecipeError(path: recipe.sourcePath, line: nil, message: "tokenizer: \(error)")
            }
        }
        for stage in stages {
            guard let spec = stage.spec.tokenize, let path = spec.tokenizer ?? recipe.tokenizer else { continue }
            do {
                let t = try Tokenizer.shared(path)
                let (bos, eos) = try spec.boundaries(t)
                var parts = ["tokenize: " + spec.formats.map(\.rawValue).joined(separator: ", ")]
                parts.append("\(t.modelType), \(t.vocabularySize) tokens")
                if spec.formats.contains(.megatron) { parts.append("Megatron \(TokenWidths.megatron(t).name)") }
                if spec.formats.contains(.datatrove) {
                    parts.append("datatrove \(TokenWidths.datatrove(t))-byte tokens")
                }
                parts.append("bos " + (bos.isEmpty ? "none" : bos.map(String.init).joined(separator: " ")))
                parts.append("eos " + (eos.isEmpty ? "none" : eos.map(String.init).joined(separator: " ")))
                lines[stage.spec.name] = parts.joined(separator: " · ")
            } catch {
                throw RecipeError(
                    path: recipe.sourcePath, line: spec.line, message: "stage '\(stage.spec.name)': \(error)")
            }
        }
        return lines
    }
}
