import CDarwinTokenizer

/// A `tokenizer.json` normalizer, applied to UTF-8 bytes.
indirect enum Normalizer: Sendable {
    case unicode(Int32)  // DT_NFC, DT_NFD, DT_NFKC, DT_NFKD
    case lowercase
    case replace(OnigRegex, [UInt8])
    case prepend([UInt8])
    case strip(left: Bool, right: Bool)
    case stripAccents
    case byteLevel
    case bert(cleanText: Bool, chinese: Bool, stripAccents: Bool, lowercase: Bool)
    case sequence([Normalizer])

    /// Normalizes `s` in place. `originStart` is cleared when what was the first character of the
    /// original text is gone from the front (Metaspace's `first` scheme looks at it).
    func apply(_ s: inout [UInt8], originStart: inout Bool) {
        switch self {
        case .unicode(let form):
            if Self.isStable(s, form: form) { return }
            s = Self.icu(s) { dt_normalize(form, $0, $1, $2, $3) }
        case .lowercase:
            if s.allSatisfy({ $0 < 0x80 }) {
                for i in s.indices where s[i] >= 0x41 && s[i] <= 0x5A { s[i] |= 0x20 }
            } else {
                s = Self.icu(s) { dt_lowercase($0, $1, $2, $3) }
            }
        case .replace(let regex, let content):
            var scratch: [Int64] = []
            let n = s.withUnsafeBufferPointer { regex.matches(in: $0, scratch: &scratch) }
            if n == 0 { return }
            var out: [UInt8] = []
            out.reserveCapacity(s.count)
            var prev = 0
            for k in 0..<n {
                let (a, b) = (Int(scratch[2 * k]), Int(scratch[2 * k + 1]))
                // Inserted text keeps the alignment of what it replaces: only removing the first character
                // moves the start away from the original's.
                if a == 0 && b > 0 && content.isEmpty { originStart = false }
                out += s[prev..<a]
                out += content
                prev = b
            }
            out += s[prev...]
            s = out
        case .prepend(let p):
            if !s.isEmpty { s.insert(contentsOf: p, at: 0) }
        case .strip(let left, let right):
            s.withUnsafeBufferPointer { p in
                var start = 0
                var end = p.count
                if left {
                    while start < end {
                        let (c, n) = UTF8Scalars.decode(p, start)
                        guard UTF8Scalars.isWhitespace(c) else { break }
                        start += n
                    }
                }
                if right {
                    while end > start {
                        let i = max(start, UTF8Scalars.start(before: end, in: p))
                        let (c, _) = UTF8Scalars.decode(p, i)
                        guard UTF8Scalars.isWhitespace(c) else { break }
                        end = i
                    }
                }
                if start > 0 { originStart = false }
                if start > 0 || end < p.count { s = Array(p[start..<end]) }
            }
        case .stripAccents:
            s = Self.mapScalars(s, originStart: &originStart) { UTF8Scalars.isMark($0) ? nil : $0 }
        case .byteLevel:
            var out: [UInt8] = []
            out.reserveCapacity(s.count * 2)
            for b in s { out += ByteLevel.mapped[Int(b)] }
            s = out
        case .bert(let cleanText, let chinese, let stripAccents, let lowercase):
            if cleanText {
                s = Self.mapScalars(s, originStart: &originStart) { c in
                    if c == 0 || c == 0xFFFD || UTF8Scalars.isControl(c) { return nil }
                    return UTF8Scalars.isWhitespace(c) ? 0x20 : c
                }
            }
            if chinese {
                var out: [UInt8] = []
                s.withUnsafeBufferPointer { p in
                    var i = 0
                    while i < p.count {
                        let (c, n) = UTF8Scalars.decode(p, i)
                        if UTF8Scalars.isChinese(c) {
                            out.append(0x20)
                            out += p[i..<i + n]
                            out.append(0x20)
                        } else {
                            out += p[i..<i + n]
                        }
                        i += n
                    }
                }
                s = out
            }
            if stripAccents {
                // BERT drops only non-spacing marks (Mn), unlike StripAccents.
                Normalizer.unicode(Int32(DT_NFD)).apply(&s, originStart: &originStart)
                s = Self.mapScalars(s, originStart: &originStart) {
                    Unicode.Scalar($0)?.properties.generalCategory == .nonspacingMark ? nil : $0
                }
            }
            if lowercase { Normalizer.lowercase.apply(&s, originStart: &originStart) }
        case .sequence(let list):
            for n in list { n.apply(&s, originStart: &originStart) }
        }
    }

    /// Whether a normalization form leaves `s` as it is without asking ICU: ASCII for every form, and for the
    /// composed forms no code point from U+0300 on.
    private static func isStable(_ s: [UInt8], form: Int32) -> Bool {
        if form == Int32(DT_NFC) || form == Int32(DT_NFKC) {
            // U+0300 is the first code point whose UTF-8 lead byte is 0xCC.
            return s.allSatisfy { $0 < 0xCC } && (form == Int32(DT_NFC) || s.allSatisfy { $0 < 0x80 })
        }
        return s.allSatisfy { $0 < 0x80 }
    }

    private static func icu(
        _ s: [UInt8], _ call: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?, Int) -> Int
    ) -> [UInt8] {
        var capacity = s.count * 3 + 16
        while true {
            var out = [UInt8](repeating: 0, count: capacity)
            let n = s.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in call(p.baseAddress, p.count, o.baseAddress, capacity) }
            }
            precondition(n >= 0, "ICU failed to normalize a text")
            if n <= capacity {
                out.removeSubrange(n...)
                return out
            }
            capacity = n
        }
    }

    /// Every scalar mapped, or removed when `map` gives nil; removing the first clears `originStart`.
    static func mapScalars(_ s: [UInt8], originStart: inout Bool, _ map: (UInt32) -> UInt32?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        s.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let (c, n) = UTF8Scalars.decode(p, i)
                if let m = map(c) {
                    if m == c { out += p[i..<i + n] } else { UTF8Scalars.encode(m, into: &out) }
                } else if out.isEmpty {
                    originStart = false
                }
                i += n
            }
        }
        return out
    }
}

/// GPT-2's byte-to-character table: every byte maps to a printable character.
enum ByteLevel {
    /// The id of every byte's fallback token `<0xXX>` in a vocabulary, -1 when it lacks one.
    static func fallbackIds(_ vocab: ByteMap<UInt32>) -> [Int32] {
        (0..<256).map { b in vocab.get(Array(String(format: "<0x%02X>", b).utf8)).map { Int32($0) } ?? -1 }
    }

    /// The character of every byte, as UTF-8.
    static let mapped: [[UInt8]] = {
        var table = [UInt32](repeating: 0, count: 256)
        var direct = Set<Int>()
        for b in 0x21...0x7E { direct.insert(b) }
        for b in 0xA1...0xAC { direct.insert(b) }
        for b in 0xAE...0xFF { direct.insert(b) }
        var n: UInt32 = 0
        for b in 0..<256 {
            if direct.contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = 256 + n
                n += 1
            }
        }
        return table.map { c in
            var out: [UInt8] = []
            UTF8Scalars.encode(c, into: &out)
            return out
        }
    }()
}
