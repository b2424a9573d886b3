import DarwinCore
import Foundation

/// Why a tokenizer could not be loaded or used; the message names the file and the part of it.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `v` unless it is missing or JSON null.
func present(_ v: JSONValue?) -> JSONValue? {
    guard let v else { return nil }
    if case .null = v { return nil }
    return v
}

/// A Hugging Face `tokenizer.json`, encoding exactly as the `tokenizers` library does: added tokens split out
/// first, the normalizer, the pre-tokenizer, then the BPE or Unigram model; tokens are compared as bytes.
///
/// A tokenizer is immutable and shared; encode through an ``Encoder`` (one per thread), which keeps a cache
/// of the words it has seen.
public final class Tokenizer: Sendable {
    /// The file it was loaded from.
    public let path: String
    /// The XXH3-128 of the file's bytes (32 hex digits): its identity in provenance.
    public let contentHash: String
    /// The model type: `BPE` or `Unigram`.
    public let modelType: String
    /// Tokens in the vocabulary, added tokens included (as `tokenizers`' `get_vocab_size(True)`).
    public let vocabularySize: Int
    /// The largest id any token has.
    public let maxId: UInt32
    /// Ids the post-processor puts before and after a single sequence (`add_special_tokens`).
    public let prefixIds: [UInt32]
    public let suffixIds: [UInt32]

    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let lazyByteLevel: Bool
    let model: Model
    let added: AddedTokens
    private let tokens: [UInt32: [UInt8]]

    enum Model: Sendable {
        case bpe(BPEModel)
        case unigram(UnigramModel)
    }

    /// Loads `path`, or says why it cannot on standard error and exits with status 2 (for commands).
    public static func loadOrExit(_ path: String) -> Tokenizer {
        do {
            return try Tokenizer(contentsOf: path)
        } catch {
            FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
            exit(2)
        }
    }

    /// Loads `path`.
    ///
    /// - Throws: ``TokenizerError`` naming the file and what in it is missing, malformed or not supported.
    public convenience init(contentsOf path: String) throws(TokenizerError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError("\(path): cannot be read")
        }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws(TokenizerError) {
        self.path = path
        let json: JSONValue
        do {
            json = try data.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws(JSONSyntaxError) in
                try JSONValue.parse(b)
            }
        } catch {
            throw TokenizerError("\(path): not JSON: \(error)")
        }
        let h = data.withUnsafeBytes { Hashing.xxh128($0) }
        contentHash = Hashing.hex(h.high) + Hashing.hex(h.low)
        let p = Parser(path: path)
        guard let root = json.objectValue else { throw p.error("the top level is not an object") }
        guard let modelJSON = root["model"]?.objectValue else { throw p.error("no \"model\" object") }
        let normalizer = try present(root["normalizer"]).map { v throws(TokenizerError) in
            try p.normalizer(v, at: "normalizer")
        }
        self.normalizer = normalizer
        let pre = try present(root["pre_tokenizer"]).map { v throws(TokenizerError) in
            try p.preTokenizer(v, at: "pre_tokenizer")
        }
        preTokenizer = pre
        let type = modelJSON["type"]?.stringValue ?? (modelJSON["merges"] != nil ? "BPE" : "")
        modelType = type
        var tokens: [UInt32: [UInt8]] = [:]
        switch type {
        case "BPE":
            let bpe = try p.bpe(modelJSON)
            bpe.vocab.forEach { key, id in tokens[id] = key }
            model = .bpe(bpe)
            lazyByteLevel = pre?.endsWithByteLevel ?? false
        case "Unigram":
            let unigram = try p.unigram(modelJSON)
            unigram.pieces.forEach { key, id in tokens[id] = key }
            model = .unigram(unigram)
            lazyByteLevel = false
        default:
            throw p.error("model type \(type.isEmpty ? "(none)" : type) is not supported (BPE and Unigram are)")
        }
        let added: AddedTokens
        switch model {
        case .bpe(let m):
            added = try p.addedTokens(
                root["added_tokens"], normalizer: normalizer, vocabularySize: m.vocab.count,
                modelId: { m.vocab.get($0) })
        case .unigram(let m):
            added = try p.addedTokens(
                root["added_tokens"], normalizer: normalizer, vocabularySize: m.scores.count,
                modelId: { m.pieces.get($0) })
        }
        self.added = added
        for t in added.tokens { tokens[t.id] = t.content }
        self.tokens = tokens
        // Distinct token strings, as `tokenizers` counts its vocabulary with the added tokens.
        var distinct = Set<[UInt8]>(tokens.values)
        switch model {
        case .bpe(let m): m.vocab.forEach { k, _ in distinct.insert(k) }
        case .unigram(let m): m.pieces.forEach { k, _ in distinct.insert(k) }
        }
        vocabularySize = distinct.count
        maxId = tokens.keys.max() ?? 0
        (prefixIds, suffixIds) = try p.postProcessor(root["post_processor"])
    }

    /// The bytes of token `id`, if it exists.
    public func token(_ id: UInt32) -> [UInt8]? { tokens[id] }

    /// The id of a token given as text (an added token or a vocabulary entry), compared as bytes.
    public func id(of token: String) -> UInt32? {
        let bytes = Array(token.utf8)
        if let t = added.tokens.first(where: { $0.content == bytes }) { return t.id }
        switch model {
        case .bpe(let m): return m.vocab.get(bytes)
        case .unigram(let m): return m.pieces.get(bytes)
        }
    }

    /// The special added tokens, in file order.
    public var specialTokens: [(id: UInt32, content: String)] {
        added.tokens.filter(\.special).map { ($0.id, String(decoding: $0.content, as: UTF8.self)) }
    }

    /// A new encoder (keep one per thread).
    public func makeEncoder() -> Encoder { Encoder(self) }
}

/// Encodes texts with one ``Tokenizer``; not thread-safe (its word cache is its own).
public final class Encoder {
    public let tokenizer: Tokenizer
    private var cache = ByteMap<(Int32, Int32)>(capacity: 1 << 16)
    private var cached: [UInt32] = []
    private var scratch: [Int64] = []
    private var word: [UInt32] = []
    private static let cacheEntries = 1 << 19
    private static let cacheIds = 1 << 23

    init(_ tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// The ids of `text`; with `addSpecialTokens`, the post-processor's tokens around them.
    public func encode(_ text: String, addSpecialTokens: Bool = false) throws(TokenizerError) -> [UInt32] {
        var out: [UInt32] = []
        try encode(text, addSpecialTokens: addSpecialTokens, into: &out)
        return out
    }

    /// Appends the ids of `text` to `out`.
    public func encode(_ text: String, addSpecialTokens: Bool = false, into out: inout [UInt32])
        throws(TokenizerError)
    {
        var text = text
        var failure: TokenizerError? = nil
        text.withUTF8 { p in
            do throws(TokenizerError) { try encode(p, addSpecialTokens: addSpecialTokens, into: &out) } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// Appends the ids of UTF-8 `text` to `out`.
    public func encode(
        _ text: UnsafeBufferPointer<UInt8>, addSpecialTokens: Bool = false, into out: inout [UInt32]
    ) throws(TokenizerError) {
        let t = tokenizer
        if addSpecialTokens { out += t.prefixIds }
        for (start, end, id) in t.added.split(text, normalized: false) {
            if let id {
                out.append(id)
                continue
            }
            var bytes = Array(UnsafeBufferPointer(rebasing: text[start..<end]))
            var atOrigin = start == 0
            t.normalizer?.apply(&bytes, originStart: &atOrigin)
            try bytes.withUnsafeBufferPointer { (n) throws(TokenizerError) in
                for (a, b, id2) in t.added.split(n, normalized: true) {
                    if let id2 {
                        out.append(id2)
                        continue
                    }
                    // The normalized text is shared, not copied: splits only narrow the ranges.
                    var pieces = Pieces()
                    pieces.buffer = bytes
                    pieces.ranges = [(a, b)]
                    pieces.originRange = atOrigin && a == 0 ? 0 : nil
                    t.preTokenizer?.apply(&pieces, lazyByteLevel: t.lazyByteLevel, scratch: &scratch)
                    let pending = pieces.byteLevelPending
                    try pieces.buffer.withUnsafeBufferPointer { (buffer) throws(TokenizerError) in
                        for (s, e) in pieces.ranges {
                            try model(UnsafeBufferPointer(rebasing: buffer[s..<e]), byteLevel: pending, into: &out)
                        }
                    }
                }
            }
        }
        if addSpecialTokens { out += t.suffixIds }
    }

    /// The ids of one pre-token, from the cache when it has been seen.
    private func model(_ piece: UnsafeBufferPointer<UInt8>, byteLevel: Bool, into out: inout [UInt32])
        throws(TokenizerError)
    {
        if let (s, n) = cache.get(piece) {
            cached.withUnsafeBufferPointer { c in out.append(contentsOf: c[Int(s)..<Int(s + n)]) }
            return
        }
        word.removeAll(keepingCapacity: true)
        switch tokenizer.model {
        case .bpe(let m): try m.encode(piece, byteLevel: byteLevel, into: &word)
        case .unigram(let m): try m.encode(piece, into: &word)
        }
        out += word
        if piece.count <= 256 {
            if cache.count >= Self.cacheEntries || cached.count + word.count > Self.cacheIds {
                cache.removeAll()
                cached.removeAll(keepingCapacity: true)
            }
            cache.set(piece, (Int32(cached.count), Int32(word.count)))
            cached += word
        }
    }
}
