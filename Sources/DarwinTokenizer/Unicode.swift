/// Unicode helpers on UTF-8 bytes, with the character classes `tokenizers` uses (Rust's `char` methods and
/// the `unicode_categories` crate).
enum UTF8Scalars {
    /// The scalar starting at `i` and its length in bytes (the input is valid UTF-8).
    @inline(__always) static func decode(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        }
        return (
            (b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                | UInt32(p[i + 3] & 0x3F), 4
        )
    }

    /// Where the scalar that ends just before `end` starts.
    @inline(__always) static func start(before end: Int, in p: UnsafeBufferPointer<UInt8>) -> Int {
        var k = end - 1
        while k > 0 && p[k] & 0xC0 == 0x80 { k -= 1 }
        return k
    }

    /// The length of the scalar whose first byte is `lead`.
    @inline(__always) static func length(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    static func encode(_ c: UInt32, into out: inout [UInt8]) {
        if c < 0x80 {
            out.append(UInt8(c))
        } else if c < 0x800 {
            out.append(UInt8(0xC0 | c >> 6))
            out.append(UInt8(0x80 | c & 0x3F))
        } else if c < 0x10000 {
            out.append(UInt8(0xE0 | c >> 12))
            out.append(UInt8(0x80 | (c >> 6) & 0x3F))
            out.append(UInt8(0x80 | c & 0x3F))
        } else {
            out.append(UInt8(0xF0 | c >> 18))
            out.append(UInt8(0x80 | (c >> 12) & 0x3F))
            out.append(UInt8(0x80 | (c >> 6) & 0x3F))
            out.append(UInt8(0x80 | c & 0x3F))
        }
    }

    private static func category(_ c: UInt32) -> Unicode.GeneralCategory? {
        Unicode.Scalar(c)?.properties.generalCategory
    }

    /// Rust's `char::is_whitespace`: the White_Space property.
    static func isWhitespace(_ c: UInt32) -> Bool {
        if c < 0x80 { return c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        return Unicode.Scalar(c)?.properties.isWhitespace ?? false
    }

    /// Rust's `char::is_numeric`: general categories Nd, Nl and No.
    static func isNumeric(_ c: UInt32) -> Bool {
        if c < 0x80 { return c >= 0x30 && c <= 0x39 }
        switch category(c) {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// ASCII punctuation or a Unicode punctuation category (P*).
    static func isPunctuation(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
                || (c >= 0x7B && c <= 0x7E)
        }
        switch category(c) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// A combining mark (Mn, Mc, Me).
    static func isMark(_ c: UInt32) -> Bool {
        if c < 0x300 { return false }
        switch category(c) {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// A control or format character as BERT's cleaning sees it (Cc, Cf, Cn, Co but tab, newline and return).
    static func isControl(_ c: UInt32) -> Bool {
        if c == 0x09 || c == 0x0A || c == 0x0D { return false }
        switch category(c) {
        case .control, .format, .unassigned, .privateUse: return true
        default: return false
        }
    }

    /// A CJK ideograph as BERT pads them.
    static func isChinese(_ c: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(c) || (0x3400...0x4DBF).contains(c) || (0x20000...0x2A6DF).contains(c)
            || (0x2A700...0x2B73F).contains(c) || (0x2B740...0x2B81F).contains(c)
            || (0x2B920...0x2CEAF).contains(c) || (0xF900...0xFAFF).contains(c) || (0x2F800...0x2FA1F).contains(c)
    }
}
