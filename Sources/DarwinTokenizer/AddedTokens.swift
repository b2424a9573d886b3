/// The added tokens of a tokenizer, found in the text before anything else as `tokenizers` finds them:
/// leftmost-longest, non-overlapping, with the `single_word`, `lstrip` and `rstrip` rules; the tokens marked
/// `normalized` are looked for in the normalized text, the others in the original text.
struct AddedTokens: Sendable {
    struct Token: Sendable {
        var id: UInt32
        var content: [UInt8]
        var pattern: [UInt8]
        var singleWord: Bool
        var lstrip: Bool
        var rstrip: Bool
        var normalized: Bool
        var special: Bool
    }

    var tokens: [Token]
    private var raw = Matcher()
    private var normalized = Matcher()

    init(_ tokens: [Token]) {
        self.tokens = tokens
        // The last token with a given content wins, as in `tokenizers`' map of added tokens.
        for (i, t) in tokens.enumerated() where !t.pattern.isEmpty {
            if t.normalized { normalized.add(t.pattern, index: i) } else { raw.add(t.pattern, index: i) }
        }
    }

    struct Matcher: Sendable {
        var trie = ByteTrie()
        var first = [Bool](repeating: false, count: 256)
        var isEmpty = true

        mutating func add(_ pattern: [UInt8], index: Int) {
            trie.insert(pattern, id: Int32(index))
            first[Int(pattern[0])] = true
            isEmpty = false
        }
    }

    /// The text cut into runs of plain text (id nil) and added tokens, as byte ranges.
    func split(_ text: UnsafeBufferPointer<UInt8>, normalized useNormalized: Bool) -> [(Int, Int, UInt32?)] {
        let m = useNormalized ? normalized : raw
        if m.isEmpty || text.isEmpty { return [(0, text.count, nil)] }
        var out: [(Int, Int, UInt32?)] = []
        var offset = 0
        var i = 0
        while i < text.count {
            guard m.first[Int(text[i])] else {
                i += 1
                continue
            }
            var longest: (end: Int, index: Int32)? = nil
            m.trie.prefixes(of: text, from: i) { end, index in longest = (end, index) }
            guard let (end, index) = longest else {
                i += 1
                continue
            }
            let t = tokens[Int(index)]
            var start = i
            var stop = end
            i = end
            if t.singleWord {
                let startSpace = start == 0 || !Self.endsWithWord(text, before: start)
                let stopSpace = stop == text.count || !Self.startsWithWord(text, at: stop)
                if !startSpace || !stopSpace { continue }
            }
            if t.lstrip {
                var s = start
                while s > 0 {
                    let k = UTF8Scalars.start(before: s, in: text)
                    guard UTF8Scalars.isWhitespace(UTF8Scalars.decode(text, k).0) else { break }
                    s = k
                }
                start = max(s, offset)
            }
            if t.rstrip {
                while stop < text.count {
                    let (c, n) = UTF8Scalars.decode(text, stop)
                    guard UTF8Scalars.isWhitespace(c) else { break }
                    stop += n
                }
            }
            // The search goes on from the end of the match, not of the stripped spaces: a token inside them
            // is found too, as `tokenizers` finds it.
            if offset < start { out.append((offset, start, nil)) }
            out.append((start, stop, t.id))
            offset = stop
        }
        if offset != text.count { out.append((offset, text.count, nil)) }
        return out
    }

    /// Rust's regex `\w`: alphabetic, marks, decimal digits, connector punctuation, join controls.
    static func isWord(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
        }
        guard let s = Unicode.Scalar(c) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    static func endsWithWord(_ text: UnsafeBufferPointer<UInt8>, before end: Int) -> Bool {
        isWord(UTF8Scalars.decode(text, UTF8Scalars.start(before: end, in: text)).0)
    }

    static func startsWithWord(_ text: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        isWord(UTF8Scalars.decode(text, start).0)
    }
}
