import CDarwinText
import DarwinCore

/// Python `str` semantics over UTF-8 bytes: the definitions datatrove's filters are written against
/// (`isspace`, `strip`, `splitlines`, `split`, `len` in code points, `endswith`, `count`).
///
/// Ranges are byte ranges into the buffer; lengths are in code points, as Python counts them.
struct PyText {
    let b: UnsafeBufferPointer<UInt8>

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    var all: Range<Int> { 0..<b.count }

    /// The code point at byte `i` and its length in bytes.
    @inline(__always)
    func decode(_ i: Int) -> (cp: UInt32, len: Int) {
        let c = b[i]
        if c < 0x80 { return (UInt32(c), 1) }
        if c < 0xE0, i + 1 < b.count { return (UInt32(c & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2) }
        if c < 0xF0, i + 2 < b.count {
            return (UInt32(c & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3)
        }
        if i + 3 < b.count {
            return (
                UInt32(c & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6
                    | UInt32(b[i + 3] & 0x3F), 4
            )
        }
        return (UInt32(c), 1)
    }

    /// The code point that ends at byte `end` (exclusive) and its start.
    @inline(__always)
    func decodeBefore(_ end: Int) -> (cp: UInt32, start: Int) {
        var s = end - 1
        while s > 0 && b[s] & 0xC0 == 0x80 { s -= 1 }
        return (decode(s).cp, s)
    }

    /// Python `str.isspace` of one code point.
    @inline(__always)
    static func isSpace(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) }
        return dt_has_prop(DT_PROP_SPACE, cp) != 0
    }

    /// Python `str.isalpha` of one code point.
    @inline(__always)
    static func isAlpha(_ cp: UInt32) -> Bool {
        if cp < 0x80 { return (cp | 0x20) >= 0x61 && (cp | 0x20) <= 0x7A }
        return dt_has_prop(DT_PROP_ALPHA, cp) != 0
    }

    /// Length in code points.
    func length(_ r: Range<Int>) -> Int {
        var n = 0
        for i in r where b[i] & 0xC0 != 0x80 { n += 1 }
        return n
    }

    /// Python `strip()`.
    func strip(_ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi {
            let (cp, n) = decode(lo)
            if !Self.isSpace(cp) { break }
            lo += n
        }
        while hi > lo {
            let (cp, s) = decodeBefore(hi)
            if !Self.isSpace(cp) { break }
            hi = s
        }
        return lo..<hi
    }

    /// Python `lstrip()` start.
    func lstrip(_ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound
        while lo < r.upperBound {
            let (cp, n) = decode(lo)
            if !Self.isSpace(cp) { break }
            lo += n
        }
        return lo..<r.upperBound
    }

    /// Python `rstrip()`.
    func rstrip(_ r: Range<Int>) -> Range<Int> {
        var hi = r.upperBound
        while hi > r.lowerBound {
            let (cp, s) = decodeBefore(hi)
            if !Self.isSpace(cp) { break }
            hi = s
        }
        return r.lowerBound..<hi
    }

    /// Python `splitlines()`: \n, \r, \r\n, \v, \f, \x1c, \x1d, \x1e, \x85, U+2028, U+2029; no empty last line.
    func splitlines(_ r: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = r.lowerBound
        var i = r.lowerBound
        while i < r.upperBound {
            let c = b[i]
            if c < 0x80 {
                if c == 0x0A || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E {
                    out.append(start..<i)
                    i += 1
                    start = i
                    continue
                }
                if c == 0x0D {
                    out.append(start..<i)
                    i += (i + 1 < r.upperBound && b[i + 1] == 0x0A) ? 2 : 1
                    start = i
                    continue
                }
                i += 1
                continue
            }
            let (cp, n) = decode(i)
            if cp == 0x85 || cp == 0x2028 || cp == 0x2029 {
                out.append(start..<i)
                i += n
                start = i
                continue
            }
            i += n
        }
        if start < r.upperBound { out.append(start..<r.upperBound) }
        return out
    }

    /// Python `split(sep)` for a one-byte separator (keeps empty pieces).
    func split(_ r: Range<Int>, byte sep: UInt8) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = r.lowerBound
        for i in r where b[i] == sep {
            out.append(start..<i)
            start = i + 1
        }
        out.append(start..<r.upperBound)
        return out
    }

    /// Python `split()` (runs of whitespace; no empty pieces).
    func whitespaceSplit(_ r: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = r.lowerBound
        var start = -1
        while i < r.upperBound {
            let (cp, n) = decode(i)
            if Self.isSpace(cp) {
                if start >= 0 {
                    out.append(start..<i)
                    start = -1
                }
            } else if start < 0 {
                start = i
            }
            i += n
        }
        if start >= 0 { out.append(start..<r.upperBound) }
        return out
    }

    /// Python `count(needle)`: non-overlapping occurrences.
    func count(_ needle: [UInt8], in r: Range<Int>) -> Int {
        guard let first = needle.first, !needle.isEmpty else { return 0 }
        var n = 0
        var i = r.lowerBound
        let last = r.upperBound - needle.count
        while i <= last {
            if b[i] == first && matches(needle, at: i) {
                n += 1
                i += needle.count
                continue
            }
            i += 1
        }
        return n
    }

    /// Whether `needle` stands at byte offset `i` (the caller checks the bounds).
    @inline(__always)
    private func matches(_ needle: [UInt8], at i: Int) -> Bool {
        for k in 1..<needle.count where b[i + k] != needle[k] { return false }
        return true
    }

    /// Number of occurrences of one byte.
    func count(byte: UInt8, in r: Range<Int>) -> Int {
        var n = 0
        for i in r where b[i] == byte { n += 1 }
        return n
    }

    func hasPrefix(_ p: [UInt8], _ r: Range<Int>) -> Bool {
        guard r.count >= p.count else { return false }
        for (k, c) in p.enumerated() where b[r.lowerBound + k] != c { return false }
        return true
    }

    func hasSuffix(_ p: [UInt8], _ r: Range<Int>) -> Bool {
        guard r.count >= p.count else { return false }
        let s = r.upperBound - p.count
        for (k, c) in p.enumerated() where b[s + k] != c { return false }
        return true
    }

    /// The last code point of a range, if any.
    func last(_ r: Range<Int>) -> UInt32? { r.isEmpty ? nil : decodeBefore(r.upperBound).cp }

    /// Whether the range contains `needle`.
    func contains(_ needle: [UInt8], in r: Range<Int>) -> Bool {
        guard let first = needle.first, r.count >= needle.count else { return false }
        var i = r.lowerBound
        let last = r.upperBound - needle.count
        while i <= last {
            if b[i] == first && matches(needle, at: i) { return true }
            i += 1
        }
        return false
    }

    /// 64-bit hash of a byte range (exact-equality stand-in for short-lived sets).
    func hash(_ r: Range<Int>) -> UInt64 {
        Hashing.xxh64(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(b)[r]))
    }
}
