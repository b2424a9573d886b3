import CDarwinTokenizer

/// A compiled Oniguruma regular expression, the engine and syntax Hugging Face `tokenizers` splits with.
final class OnigRegex: @unchecked Sendable {
    // @unchecked: a compiled Oniguruma regex is read-only once made; searches keep their state in their own
    // region.
    private let regex: OpaquePointer
    let pattern: String

    /// Compiles `pattern`; the error names it and says what Oniguruma found wrong.
    init(_ pattern: String) throws(TokenizerError) {
        var error = [CChar](repeating: 0, count: 256)
        let bytes = Array(pattern.utf8)
        guard let r = bytes.withUnsafeBufferPointer({ dt_regex_new($0.baseAddress, $0.count, &error, error.count) })
        else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw TokenizerError("regex \(pattern.debugDescription) does not compile: \(message)")
        }
        regex = r
        self.pattern = pattern
    }

    /// A literal string as a regex (`tokenizers` escapes string patterns).
    convenience init(literal: String) throws(TokenizerError) {
        var escaped = ""
        for c in literal.unicodeScalars {
            if "\\.+*?()|[]{}^$#&-~".unicodeScalars.contains(c) {
                escaped += "\\"
            }
            escaped.unicodeScalars.append(c)
        }
        try self.init(escaped)
    }

    /// A pattern written in darwin's source, known to compile.
    static func constant(_ pattern: String) -> OnigRegex {
        do {
            return try OnigRegex(pattern)
        } catch {
            preconditionFailure("\(error)")
        }
    }

    deinit { dt_regex_free(regex) }

    /// Every match in `text`, as (start, end) byte offsets in `scratch[0 ..< 2n]`; returns n. `scratch` grows
    /// as needed and is reused from call to call.
    func matches(in text: UnsafeBufferPointer<UInt8>, scratch: inout [Int64]) -> Int {
        if scratch.count < 64 { scratch = [Int64](repeating: 0, count: 64) }
        while true {
            let capacity = scratch.count / 2
            let n = scratch.withUnsafeMutableBufferPointer {
                dt_regex_find_all(regex, text.baseAddress, text.count, $0.baseAddress, capacity)
            }
            precondition(n >= 0, "Oniguruma failed while matching \(pattern.debugDescription)")
            if n <= capacity { return n }
            scratch = [Int64](repeating: 0, count: n * 2)
        }
    }
}
