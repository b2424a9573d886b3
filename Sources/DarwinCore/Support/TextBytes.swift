import CDarwinJSON

/// Fast byte-level text operations for steps on the hot path.
///
/// Swift's per-scalar Unicode property lookups cost far more than the work they guard; these helpers
/// work on UTF-8 with ASCII fast paths and exact tables for the properties they need.
public enum TextBytes {
    /// Whether the string is pure ASCII.
    public static func isASCII(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { dt_is_ascii($0.baseAddress, $0.count) != 0 }
    }

    /// Calls `body` with `s` where each run of Unicode whitespace is one space and the ends are trimmed
    /// (and A–Z lower-cased if asked).
    public static func withCollapsedWhitespace<R>(
        _ s: String, lowercaseASCII: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        var s = s
        return s.withUTF8 { withCollapsedWhitespace($0, lowercaseASCII: lowercaseASCII, body) }
    }

    /// The same on UTF-8 bytes.
    public static func withCollapsedWhitespace<R>(
        _ src: UnsafeBufferPointer<UInt8>, lowercaseASCII: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        let dst = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, src.count))
        defer { dst.deallocate() }
        let n = dt_collapse_whitespace(src.baseAddress, src.count, dst, lowercaseASCII ? 1 : 0)
        return body(UnsafeBufferPointer(start: dst, count: n))
    }

    /// `s` with whitespace runs collapsed to one space and trimmed.
    public static func collapsingWhitespace(_ s: String, lowercaseASCII: Bool = false) -> String {
        withCollapsedWhitespace(s, lowercaseASCII: lowercaseASCII) { String(decoding: $0, as: UTF8.self) }
    }
}

extension TextBytes {
    /// Number of code points in valid UTF-8.
    public static func codePointCount(_ bytes: ArraySlice<UInt8>) -> Int {
        var n = 0
        for b in bytes where b & 0xC0 != 0x80 { n += 1 }
        return n
    }
}
