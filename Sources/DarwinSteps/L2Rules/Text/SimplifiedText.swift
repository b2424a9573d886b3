import CDarwinText

/// datatrove's `simplify_text` with its default settings (lower case, digit runs to 0, punctuation removed,
/// whitespace collapsed, diacritics stripped), as decontamination and MinHash shingling compare text.
enum SimplifiedText {
    /// datatrove's `simplify_text` with its default settings.
    static func of(_ text: String) -> String {
        String(decoding: bytes(Array(text.utf8)), as: UTF8.self)
    }

    /// datatrove's `simplify_text` of UTF-8 bytes, as UTF-8 bytes (see `dt_simplify`).
    static func bytes(_ bytes: [UInt8]) -> [UInt8] {
        var capacity = bytes.count + 16
        while true {
            var out = [UInt8](repeating: 0, count: capacity)
            let n = bytes.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dt_simplify(src.baseAddress, src.count, $0.baseAddress, $0.count) }
            }
            if n < 0 { return [] }  // out of memory: no shingles rather than a crash
            if n <= capacity {
                out.removeSubrange(n...)
                return out
            }
            capacity = n
        }
    }
}
