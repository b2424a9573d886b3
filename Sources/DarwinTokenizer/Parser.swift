import CDarwinTokenizer
import DarwinCore

/// Reads the parts of a `tokenizer.json`; every error names the file and the JSON path.
struct Parser {
    let path: String

    func error(_ message: String) -> TokenizerError { TokenizerError("\(path): \(message)") }

    private func object(_ v: JSONValue, at where_: String) throws(TokenizerError) -> JSONObject {
        guard let o = v.objectValue else { throw error("\(where_) is not an object") }
        return o
    }

    private func bool(_ o: JSONObject, _ key: String, default d: Bool) -> Bool { o[key]?.boolValue ?? d }

    private func string(_ o: JSONObject, _ key: String, at where_: String) throws(TokenizerError) -> String {
        guard let s = o[key]?.stringValue else { throw error("\(where_).\(key) is missing or not a string") }
        return s
    }

    /// A `pattern` object: `{"String": …}` or `{"Regex": …}`.
    private func pattern(_ o: JSONObject, at where_: String) throws(TokenizerError) -> OnigRegex {
        guard let p = o["pattern"]?.objectValue else { throw error("\(where_).pattern is missing") }
        if let s = p["String"]?.stringValue { return try OnigRegex(literal: s) }
        if let r = p["Regex"]?.stringValue {
            do { return try OnigRegex(r) } catch { throw self.error("\(where_).pattern: \(error)") }
        }
        throw error("\(where_).pattern is neither String nor Regex")
    }

    private func behavior(_ o: JSONObject, at where_: String) throws(TokenizerError) -> SplitBehavior {
        let b = o["behavior"]?.stringValue ?? "Isolated"
        guard let v = SplitBehavior(rawValue: b) else { throw error("\(where_).behavior \(b) is not known") }
        return v
    }

    /// The members of a Sequence's list, each read by `read` at its own JSON path.
    private func list<T>(
        _ o: JSONObject, _ key: String, at where_: String,
        _ read: (JSONValue, String) throws(TokenizerError) -> T
    ) throws(TokenizerError) -> [T] {
        guard let items = o[key]?.arrayValue else { throw error("\(where_).\(key) is missing") }
        var out: [T] = []
        for (i, item) in items.enumerated() { out.append(try read(item, "\(where_).\(key)[\(i)]")) }
        return out
    }

    func normalizer(_ v: JSONValue, at where_: String) throws(TokenizerError) -> Normalizer {
        let o = try object(v, at: where_)
        let type = o["type"]?.stringValue ?? ""
        switch type {
        case "NFC": return .unicode(Int32(DT_NFC))
        case "NFD": return .unicode(Int32(DT_NFD))
        case "NFKC": return .unicode(Int32(DT_NFKC))
        case "NFKD": return .unicode(Int32(DT_NFKD))
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "ByteLevel": return .byteLevel
        case "Strip":
            return .strip(left: bool(o, "strip_left", default: true), right: bool(o, "strip_right", default: true))
        case "Prepend": return .prepend(Array(try string(o, "prepend", at: where_).utf8))
        case "Replace":
            return .replace(try pattern(o, at: where_), Array(try string(o, "content", at: where_).utf8))
        case "BertNormalizer":
            let lowercase = bool(o, "lowercase", default: true)
            let strip = o["strip_accents"]?.boolValue ?? lowercase
            return .bert(
                cleanText: bool(o, "clean_text", default: true),
                chinese: bool(o, "handle_chinese_chars", default: true),
                stripAccents: strip, lowercase: lowercase)
        case "Sequence":
            return .sequence(try list(o, "normalizers", at: where_, normalizer))
        default:
            throw error("\(where_): normalizer \(type.isEmpty ? "(no type)" : type) is not supported")
        }
    }

    func preTokenizer(_ v: JSONValue, at where_: String) throws(TokenizerError) -> PreTokenizer {
        let o = try object(v, at: where_)
        let type = o["type"]?.stringValue ?? ""
        switch type {
        case "Split":
            return .split(
                try pattern(o, at: where_), try behavior(o, at: where_), invert: bool(o, "invert", default: false))
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: bool(o, "add_prefix_space", default: true),
                useRegex: bool(o, "use_regex", default: true))
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "BertPreTokenizer": return .bert
        case "Digits": return .digits(individual: bool(o, "individual_digits", default: false))
        case "Punctuation": return .punctuation(try behavior(o, at: where_))
        case "CharDelimiterSplit":
            guard let d = o["delimiter"]?.stringValue?.unicodeScalars.first else {
                throw error("\(where_).delimiter is missing")
            }
            return .charDelimiter(d.value)
        case "Metaspace":
            let replacement = o["replacement"]?.stringValue ?? "\u{2581}"
            var scheme = PreTokenizer.PrependScheme.always
            if let s = o["prepend_scheme"]?.stringValue {
                guard let v = PreTokenizer.PrependScheme(rawValue: s) else {
                    throw error("\(where_).prepend_scheme \(s) is not known")
                }
                scheme = v
            }
            if o["add_prefix_space"]?.boolValue == false { scheme = .never }
            return .metaspace(
                replacement: Array(replacement.utf8), scheme: scheme, split: bool(o, "split", default: true))
        case "Sequence":
            return .sequence(try list(o, "pretokenizers", at: where_, preTokenizer))
        default:
            throw error("\(where_): pre-tokenizer \(type.isEmpty ? "(no type)" : type) is not supported")
        }
    }

    func bpe(_ o: JSONObject) throws(TokenizerError) -> BPEModel {
        guard let vocabJSON = o["vocab"]?.objectValue else { throw error("model.vocab is missing") }
        var vocab = ByteMap<UInt32>(capacity: vocabJSON.count)
        for (k, v) in vocabJSON {
            guard let id = v.intValue, id >= 0, id < Int(Int32.max) else {
                throw error("model.vocab[\(k.debugDescription)] is not a token id")
            }
            vocab.set(Array(k.utf8), UInt32(id))
        }
        let prefix = o["continuing_subword_prefix"]?.stringValue.map { Array($0.utf8) }
        let suffix = o["end_of_word_suffix"]?.stringValue.map { Array($0.utf8) }
        let list = o["merges"]?.arrayValue ?? []
        var merges = PairMap(capacity: list.count)
        let prefixLength = prefix?.count ?? 0
        for (rank, m) in list.enumerated() {
            let a: [UInt8]
            let b: [UInt8]
            if let s = m.stringValue {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw error("model.merges[\(rank)] \(s.debugDescription) is not two tokens")
                }
                (a, b) = (Array(parts[0].utf8), Array(parts[1].utf8))
            } else if let pair = m.arrayValue, pair.count == 2, let x = pair[0].stringValue, let y = pair[1].stringValue
            {
                (a, b) = (Array(x.utf8), Array(y.utf8))
            } else {
                throw error("model.merges[\(rank)] is not a pair of tokens")
            }
            guard let ia = vocab.get(a) else {
                throw error("model.merges[\(rank)]: \(String(decoding: a, as: UTF8.self)) is not in the vocabulary")
            }
            guard let ib = vocab.get(b) else {
                throw error("model.merges[\(rank)]: \(String(decoding: b, as: UTF8.self)) is not in the vocabulary")
            }
            // As `tokenizers` joins them: the prefix's length cut from the right token, whatever it starts with.
            let joined = a + Array(b.dropFirst(prefixLength))
            guard let merged = vocab.get(joined) else {
                throw error(
                    "model.merges[\(rank)]: \(String(decoding: joined, as: UTF8.self)) is not in the vocabulary")
            }
            merges.set(ia, ib, UInt64(rank) << 32 | UInt64(merged))
        }
        if let d = o["dropout"]?.doubleValue, d > 0 {
            throw error("model.dropout \(d): BPE dropout samples its merges; darwin encodes deterministically")
        }
        var unk: UInt32? = nil
        let unkName = o["unk_token"]?.stringValue
        if let u = unkName { unk = vocab.get(Array(u.utf8)) }
        var model = BPEModel(
            vocab: vocab, merges: merges, unk: unk, fuseUnk: bool(o, "fuse_unk", default: false),
            byteFallback: bool(o, "byte_fallback", default: false),
            ignoreMerges: bool(o, "ignore_merges", default: false),
            continuingPrefix: prefix, endSuffix: suffix)
        if unk == nil, let unkName { model.missingUnk = unkName }
        return model
    }

    func unigram(_ o: JSONObject) throws(TokenizerError) -> UnigramModel {
        guard let list = o["vocab"]?.arrayValue else { throw error("model.vocab is missing") }
        var vocab: [([UInt8], Double)] = []
        vocab.reserveCapacity(list.count)
        for (i, e) in list.enumerated() {
            guard let pair = e.arrayValue, pair.count == 2, let s = pair[0].stringValue, let score = pair[1].doubleValue
            else { throw error("model.vocab[\(i)] is not [piece, score]") }
            vocab.append((Array(s.utf8), score))
        }
        var unk: UInt32? = nil
        if let u = o["unk_id"]?.intValue {
            guard u >= 0, u < vocab.count else { throw error("model.unk_id \(u) is not in the vocabulary") }
            unk = UInt32(u)
        }
        return UnigramModel(vocab: vocab, unk: unk, byteFallback: bool(o, "byte_fallback", default: false))
    }

    /// The added tokens, with the ids `tokenizers` gives them (not necessarily the file's `id`): the id of the
    /// same content added before or in the model's vocabulary, else the next free id past the vocabulary.
    func addedTokens(_ v: JSONValue?, normalizer: Normalizer?, vocabularySize: Int, modelId: ([UInt8]) -> UInt32?)
        throws(TokenizerError) -> AddedTokens
    {
        var byId: [UInt32: AddedTokens.Token] = [:]
        var order: [UInt32] = []
        var byContent: [[UInt8]: UInt32] = [:]
        var nextId = UInt32(vocabularySize)
        for (i, e) in (v?.arrayValue ?? []).enumerated() {
            let o = try object(e, at: "added_tokens[\(i)]")
            guard let fileId = o["id"]?.intValue, fileId >= 0, fileId < Int(Int32.max),
                let content = o["content"]?.stringValue
            else {
                throw error("added_tokens[\(i)] has no id (below 2^31) or no content")
            }
            if content.isEmpty { continue }
            let bytes = Array(content.utf8)
            let id: UInt32
            if let known = byContent[bytes] ?? modelId(bytes) {
                id = known
            } else {
                id = nextId
                nextId += 1
            }
            byContent[bytes] = id
            let normalized = bool(o, "normalized", default: true)
            var pattern = Array(content.utf8)
            if normalized, let normalizer {
                var origin = true
                normalizer.apply(&pattern, originStart: &origin)
            }
            if byId[id] == nil { order.append(id) }
            byId[id] = AddedTokens.Token(
                id: id, content: bytes, pattern: pattern,
                singleWord: bool(o, "single_word", default: false), lstrip: bool(o, "lstrip", default: false),
                rstrip: bool(o, "rstrip", default: false), normalized: normalized,
                special: bool(o, "special", default: false))
        }
        return AddedTokens(order.compactMap { byId[$0] })
    }

    /// The ids the post-processor adds before and after a single sequence.
    func postProcessor(_ v: JSONValue?) throws(TokenizerError) -> ([UInt32], [UInt32]) {
        guard let v = present(v) else { return ([], []) }
        let o = try object(v, at: "post_processor")
        switch o["type"]?.stringValue ?? "" {
        case "ByteLevel": return ([], [])
        case "TemplateProcessing":
            guard let single = o["single"]?.arrayValue else { throw error("post_processor.single is missing") }
            let specials = o["special_tokens"]?.objectValue ?? JSONObject()
            var before: [UInt32] = []
            var after: [UInt32] = []
            var seen = false
            for (i, item) in single.enumerated() {
                if item.objectValue?["Sequence"] != nil {
                    seen = true
                    continue
                }
                guard let name = item.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue else {
                    throw error("post_processor.single[\(i)] is neither a Sequence nor a SpecialToken")
                }
                guard let ids = specials[name]?.objectValue?["ids"]?.arrayValue else {
                    throw error("post_processor.special_tokens has no \(name.debugDescription)")
                }
                let list = try ids.map { (v) throws(TokenizerError) -> UInt32 in
                    guard let i = v.intValue, i >= 0, i < Int(Int32.max) else {
                        throw error(
                            "post_processor.special_tokens[\(name.debugDescription)] has an id that is not a token id")
                    }
                    return UInt32(i)
                }
                if seen { after += list } else { before += list }
            }
            return (before, after)
        case "RobertaProcessing", "BertProcessing":
            func pair(_ key: String) throws(TokenizerError) -> UInt32 {
                guard let a = o[key]?.arrayValue, a.count == 2, let id = a[1].intValue, id >= 0, id < Int(Int32.max)
                else {
                    throw error("post_processor.\(key) is not [token, id]")
                }
                return UInt32(id)
            }
            return ([try pair("cls")], [try pair("sep")])
        case "Sequence":
            var before: [UInt32] = []
            var after: [UInt32] = []
            for p in o["processors"]?.arrayValue ?? [] {
                let (b, a) = try postProcessor(p)
                before = b + before
                after += a
            }
            return (before, after)
        case let t:
            throw error("post_processor \(t) is not supported")
        }
    }
}
