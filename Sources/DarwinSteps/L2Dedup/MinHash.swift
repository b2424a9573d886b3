import CDarwinText
import DarwinCore
import Foundation

/// MinHash signatures with datatrove's arithmetic, so that the same documents collide in the same bands.
///
/// Shingles are word n-grams (default 5) of the text normalised as datatrove's `simplify_text` does (lower
/// case, numbers to 0, punctuation removed, whitespace collapsed, diacritics stripped), split into words by
/// spaCy's English rules (or ICU for text written without spaces), joined by single spaces and hashed with
/// XXH64 (seed 0). Slot `j` of the signature is the minimum over shingles `h` of `(h·a_j + b_j) mod (2⁶¹ − 1)`,
/// where the product and sum wrap modulo 2⁶⁴ first (NumPy `uint64` arithmetic) and `a`, `b` are drawn as
/// datatrove draws them: NumPy's legacy `RandomState(seed).randint` over [1, p) then [0, p).
struct MinHasher: Sendable {
    static let prime: UInt64 = (1 << 61) - 1
    let ngram: Int
    let bands: Int
    let rows: Int
    let a: [UInt64]
    let b: [UInt64]
    let words: WordSplit

    init(ngram: Int = 5, bands: Int = 14, rows: Int = 8, seed: UInt32 = 1, words: WordSplit = .auto) {
        self.ngram = ngram
        self.bands = bands
        self.rows = rows
        self.words = words
        var g = MT19937(seed: seed)
        let n = bands * rows
        a = (0..<n).map { _ in g.bounded(low: 1, below: Self.prime) }
        b = (0..<n).map { _ in g.bounded(low: 0, below: Self.prime) }
    }

    /// The Jaccard similarity at which a pair becomes a candidate with probability 1/2: (1/b)^(1/r).
    var threshold: Double { pow(1 / Double(bands), 1 / Double(rows)) }

    /// The probability that a pair with Jaccard similarity `s` shares at least one band.
    func candidateProbability(_ s: Double) -> Double { 1 - pow(1 - pow(s, Double(rows)), Double(bands)) }

    /// The hashed shingles of a text (empty when it has fewer than `ngram` words).
    func shingles(_ text: String, language: String?) -> [UInt64] {
        let bytes = SimplifiedText.bytes(Array(text.utf8))
        let tokens: [dt_token]
        switch words {
        case .en: tokens = TextAnalysis.tokenize(bytes, withSpace: false)
        case .icu: tokens = TextAnalysis(bytes: bytes).icuWords
        case .auto:
            tokens =
                TextAnalysis.writtenWithoutSpaces(language: language, bytes: bytes)
                ? TextAnalysis(bytes: bytes).icuWords : TextAnalysis.tokenize(bytes, withSpace: false)
        }
        guard tokens.count >= ngram else { return [] }
        let count = tokens.count - ngram + 1
        return [UInt64](unsafeUninitializedCapacity: count) { out, initialized in
            // The n words joined by single spaces, hashed from a reused buffer.
            var scratch = [UInt8](repeating: 0, count: 1024)
            bytes.withUnsafeBufferPointer { buf in
                tokens.withUnsafeBufferPointer { tok in
                    for i in 0..<count {
                        var length = ngram - 1
                        for k in i..<(i + ngram) { length += Int(tok[k].end - tok[k].start) }
                        if length > scratch.count { scratch = [UInt8](repeating: 0, count: length * 2) }
                        out[i] = scratch.withUnsafeMutableBytes { s -> UInt64 in
                            guard let dst = s.baseAddress, let src = buf.baseAddress else { return 0 }
                            var o = 0
                            for k in i..<(i + ngram) {
                                if k > i {
                                    s[o] = 0x20
                                    o += 1
                                }
                                let a = Int(tok[k].start), n = Int(tok[k].end) - a
                                (dst + o).copyMemory(from: src + a, byteCount: n)
                                o += n
                            }
                            return Hashing.xxh64(UnsafeRawBufferPointer(rebasing: s[0..<o]))
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// The signature of a set of shingles: bands × rows values.
    func signature(_ shingles: [UInt64]) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: a.count) { out, initialized in
            shingles.withUnsafeBufferPointer { sh in
                dt_minhash(sh.baseAddress, sh.count, a, b, a.count, out.baseAddress)
            }
            initialized = a.count
        }
    }

    /// A 128-bit key per band: the band's values (and the scope) hashed, so equal keys mean equal bands.
    func bandKeys(_ signature: [UInt64], scope: UInt64) -> [(UInt64, UInt64)] {
        var keys: [(UInt64, UInt64)] = []
        keys.reserveCapacity(bands)
        var buffer = [UInt64](repeating: 0, count: rows + 2)
        for band in 0..<bands {
            buffer[0] = scope
            buffer[1] = UInt64(band)
            for r in 0..<rows { buffer[2 + r] = signature[band * rows + r] }
            let h = buffer.withUnsafeBytes { Hashing.xxh128($0) }
            keys.append((h.high, h.low))
        }
        return keys
    }
}

/// The Mersenne Twister MT19937 as NumPy's legacy `RandomState(seed)` runs it, with its bounded integers
/// (masked rejection sampling on 64-bit draws made of two 32-bit outputs, high word first).
struct MT19937 {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    }

    mutating func next32() -> UInt32 {
        if index >= 624 {
            for i in 0..<624 {
                let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7fff_ffff)
                var v = mt[(i + 397) % 624] ^ (y >> 1)
                if y & 1 != 0 { v ^= 0x9908_b0df }
                mt[i] = v
            }
            index = 0
        }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    mutating func next64() -> UInt64 { (UInt64(next32()) << 32) | UInt64(next32()) }

    /// A value in [low, below), as NumPy's `randint(low, below, dtype=uint64)` draws it.
    mutating func bounded(low: UInt64, below: UInt64) -> UInt64 {
        let range = below - 1 - low
        var mask = range
        for s: UInt64 in [1, 2, 4, 8, 16, 32] { mask |= mask >> s }
        while true {
            let v = next64() & mask
            if v <= range { return low + v }
        }
    }
}
