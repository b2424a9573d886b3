/// Polynomial string hashing modulo the Mersenne prime 2^61 − 1, composable over concatenation:
/// h(xy) = h(x)·B^|y| + h(y). Word n-grams are hashed as the exact strings datatrove builds
/// (`" ".join` or `"".join` of the words), so equal strings always collide and different ones almost never.
enum NGramHash {
    static let modulus: UInt64 = (1 << 61) - 1
    static let base: UInt64 = 1_000_003

    @inline(__always)
    static func mulmod(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (hi, lo) = a.multipliedFullWidth(by: b)
        // a·b = hi·2^64 + lo; fold by 2^61 ≡ 1.
        let low61 = lo & modulus
        let rest = (lo >> 61) | (hi << 3)
        var r = low61 &+ rest
        r = (r & modulus) &+ (r >> 61)
        return r >= modulus ? r - modulus : r
    }

    @inline(__always)
    static func addmod(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a &+ b
        return r >= modulus ? r - modulus : r
    }

    @inline(__always)
    static func submod(_ a: UInt64, _ b: UInt64) -> UInt64 { a >= b ? a - b : a &+ modulus &- b }

    /// Hash and B^length of a byte string.
    static func of(_ bytes: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> (hash: UInt64, power: UInt64) {
        var h: UInt64 = 0, p: UInt64 = 1
        for i in r {
            h = addmod(mulmod(h, base), UInt64(bytes[i]) + 1)
            p = mulmod(p, base)
        }
        return (h, p)
    }

    /// h(x + y) from h(x), h(y) and B^|y|.
    @inline(__always)
    static func concat(_ hx: UInt64, _ hy: UInt64, powerY: UInt64) -> UInt64 { addmod(mulmod(hx, powerY), hy) }

    /// The hash and power of a single space, for `" ".join`.
    static let space: (hash: UInt64, power: UInt64) = (33, base)
}
