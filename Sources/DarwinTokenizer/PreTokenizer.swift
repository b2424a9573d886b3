/// How a split treats the delimiters it found (`tokenizers`' SplitDelimiterBehavior).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// The pieces of one segment of text as pre-tokenization goes: byte ranges into `buffer`.
struct Pieces {
    var buffer: [UInt8] = []
    var ranges: [(Int, Int)] = []
    /// The index of the range that starts where the original text starts, if one does (Metaspace's `first`
    /// scheme prepends only there).
    var originRange: Int? = nil
    /// Whether the pieces are still raw bytes that a byte-level pre-tokenizer has yet to map to its characters
    /// (the model does it when it needs the characters: a cache keyed by the raw bytes is the same cache).
    var byteLevelPending = false
}

/// A `tokenizer.json` pre-tokenizer.
indirect enum PreTokenizer: Sendable {
    case split(OnigRegex, SplitBehavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case whitespace
    case whitespaceSplit
    case digits(individual: Bool)
    case punctuation(SplitBehavior)
    case metaspace(replacement: [UInt8], scheme: PrependScheme, split: Bool)
    case charDelimiter(UInt32)
    case bert
    case sequence([PreTokenizer])

    enum PrependScheme: String, Sendable { case always, first, never }

    static let gpt2 = OnigRegex.constant(
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#)

    /// Whether this pre-tokenizer ends with a byte-level mapping and nothing after it (the mapping is then
    /// left to the model).
    var endsWithByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let list): return list.last?.endsWithByteLevel ?? false
        default: return false
        }
    }

    func apply(_ p: inout Pieces, lazyByteLevel: Bool, scratch: inout [Int64]) {
        switch self {
        case .split(let regex, let behavior, let invert):
            Self.split(&p, behavior: behavior, invert: invert) { piece, out in
                let n = regex.matches(in: piece, scratch: &scratch)
                for k in 0..<n { out.append((Int(scratch[2 * k]), Int(scratch[2 * k + 1]))) }
            }
        case .byteLevel(let addPrefixSpace, let useRegex):
            if addPrefixSpace {
                Self.transform(&p) { piece, out in
                    // Prepending to an empty text does nothing in `tokenizers`.
                    if !piece.isEmpty && piece.first != 0x20 { out.append(0x20) }
                    out += piece
                }
            }
            if useRegex {
                Self.split(&p, behavior: .isolated, invert: false) { piece, out in
                    let n = Self.gpt2.matches(in: piece, scratch: &scratch)
                    for k in 0..<n { out.append((Int(scratch[2 * k]), Int(scratch[2 * k + 1]))) }
                }
            }
            if lazyByteLevel {
                p.byteLevelPending = true
            } else {
                Self.transform(&p) { piece, out in for b in piece { out += ByteLevel.mapped[Int(b)] } }
            }
        case .whitespace:
            // `\w+|[^\w\s]+` as Rust's regex crate reads it (the word class of Rust, not of Oniguruma).
            Self.split(&p, behavior: .removed, invert: true) { piece, out in
                var i = 0
                while i < piece.count {
                    let (c, n) = UTF8Scalars.decode(piece, i)
                    let word = AddedTokens.isWord(c)
                    if !word && UTF8Scalars.isWhitespace(c) {
                        i += n
                        continue
                    }
                    let start = i
                    i += n
                    while i < piece.count {
                        let (d, m) = UTF8Scalars.decode(piece, i)
                        let dWord = AddedTokens.isWord(d)
                        if word ? !dWord : (dWord || UTF8Scalars.isWhitespace(d)) { break }
                        i += m
                    }
                    out.append((start, i))
                }
            }
        case .whitespaceSplit:
            Self.split(&p, behavior: .removed, invert: false, eachScalar: UTF8Scalars.isWhitespace)
        case .digits(let individual):
            Self.split(
                &p, behavior: individual ? .isolated : .contiguous, invert: false, eachScalar: UTF8Scalars.isNumeric)
        case .punctuation(let behavior):
            Self.split(&p, behavior: behavior, invert: false, eachScalar: UTF8Scalars.isPunctuation)
        case .charDelimiter(let c):
            Self.split(&p, behavior: .removed, invert: false, eachScalar: { $0 == c })
        case .bert:
            Self.split(&p, behavior: .removed, invert: false, eachScalar: UTF8Scalars.isWhitespace)
            Self.split(&p, behavior: .isolated, invert: false, eachScalar: UTF8Scalars.isPunctuation)
        case .metaspace(let replacement, let scheme, let splitting):
            var index = 0
            let originRange = p.originRange
            Self.transform(&p) { piece, out in
                defer { index += 1 }
                let start = out.count
                for b in piece {
                    if b == 0x20 { out += replacement } else { out.append(b) }
                }
                let startsWithReplacement =
                    out.count - start >= replacement.count
                    && out[start..<start + replacement.count].elementsEqual(replacement)
                let prepend: Bool
                switch scheme {
                case .always: prepend = !startsWithReplacement
                case .first: prepend = !startsWithReplacement && index == originRange
                case .never: prepend = false
                }
                if prepend && !piece.isEmpty { out.insert(contentsOf: replacement, at: start) }
            }
            if splitting {
                let r = replacement
                Self.split(&p, behavior: .mergedWithNext, invert: false) { piece, out in
                    var i = 0
                    while i + r.count <= piece.count {
                        if piece[i] == r[0] && (r.count == 1 || piece[i..<i + r.count].elementsEqual(r)) {
                            out.append((i, i + r.count))
                            i += r.count
                        } else {
                            i += UTF8Scalars.length(piece[i])
                        }
                    }
                }
            }
        case .sequence(let list):
            for (k, pre) in list.enumerated() {
                pre.apply(&p, lazyByteLevel: lazyByteLevel && k == list.count - 1, scratch: &scratch)
            }
        }
    }

    /// Splits every piece at the delimiters `find` reports (sorted (start, end) byte ranges in the piece).
    static func split(
        _ p: inout Pieces, behavior: SplitBehavior, invert: Bool,
        find: (UnsafeBufferPointer<UInt8>, inout [(Int, Int)]) -> Void
    ) {
        var ranges: [(Int, Int)] = []
        ranges.reserveCapacity(p.ranges.count * 2)
        var found: [(Int, Int)] = []
        var marked: [((Int, Int), Bool)] = []
        var origin: Int? = nil
        p.buffer.withUnsafeBufferPointer { buffer in
            for (k, (a, b)) in p.ranges.enumerated() {
                let piece = UnsafeBufferPointer(rebasing: buffer[a..<b])
                found.removeAll(keepingCapacity: true)
                find(piece, &found)
                // The pieces between and at the matches, flagged as matches or not.
                marked.removeAll(keepingCapacity: true)
                var prev = 0
                for (s, e) in found {
                    if prev != s { marked.append(((prev, s), invert)) }
                    marked.append(((s, e), !invert))
                    prev = e
                }
                if prev != piece.count { marked.append(((prev, piece.count), invert)) }
                for ((s, e), remove) in Self.apply(behavior, to: marked) where !remove && e > s {
                    if k == p.originRange && s == 0 { origin = ranges.count }
                    ranges.append((a + s, a + e))
                }
            }
        }
        p.ranges = ranges
        p.originRange = origin
    }

    /// Splits at every scalar `test` accepts, each one a delimiter of its own.
    static func split(_ p: inout Pieces, behavior: SplitBehavior, invert: Bool, eachScalar test: (UInt32) -> Bool) {
        split(&p, behavior: behavior, invert: invert) { piece, out in
            var i = 0
            while i < piece.count {
                let (c, n) = UTF8Scalars.decode(piece, i)
                if test(c) { out.append((i, i + n)) }
                i += n
            }
        }
    }

    /// `tokenizers`' rules for what becomes of the delimiters: returns ranges flagged for removal.
    static func apply(_ behavior: SplitBehavior, to matches: [((Int, Int), Bool)]) -> [((Int, Int), Bool)] {
        switch behavior {
        case .isolated:
            return matches.map { ($0.0, false) }
        case .removed:
            return matches
        case .contiguous:
            var out: [((Int, Int), Bool)] = []
            var previous = false
            for (r, isMatch) in matches {
                if isMatch == previous, !out.isEmpty {
                    out[out.count - 1].0.1 = r.1
                } else {
                    out.append((r, false))
                }
                previous = isMatch
            }
            return out
        case .mergedWithPrevious:
            var out: [((Int, Int), Bool)] = []
            var previous = false
            for (r, isMatch) in matches {
                if isMatch && !previous, !out.isEmpty {
                    out[out.count - 1].0.1 = r.1
                } else {
                    out.append((r, false))
                }
                previous = isMatch
            }
            return out
        case .mergedWithNext:
            var out: [((Int, Int), Bool)] = []
            var previous = false
            for (r, isMatch) in matches.reversed() {
                if isMatch && !previous, !out.isEmpty {
                    out[out.count - 1].0.0 = r.0
                } else {
                    out.append((r, false))
                }
                previous = isMatch
            }
            return out.reversed()
        }
    }

    /// Rewrites every piece into a new buffer.
    static func transform(_ p: inout Pieces, _ body: (ArraySlice<UInt8>, inout [UInt8]) -> Void) {
        var out: [UInt8] = []
        out.reserveCapacity(p.buffer.count + p.ranges.count * 3)
        var ranges: [(Int, Int)] = []
        ranges.reserveCapacity(p.ranges.count)
        var origin: Int? = nil
        for (k, (a, b)) in p.ranges.enumerated() {
            let start = out.count
            body(p.buffer[a..<b], &out)
            if out.count > start {
                if k == p.originRange { origin = ranges.count }
                ranges.append((start, out.count))
            }
        }
        p.buffer = out
        p.ranges = ranges
        p.originRange = origin
    }
}
