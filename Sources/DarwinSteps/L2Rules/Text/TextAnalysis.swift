import CDarwinText
import DarwinCore

/// How a step splits text into words.
enum WordSplit: String, CaseIterable {
    /// spaCy's English tokenizer rules, as datatrove's filters use by default.
    case en
    /// ICU's dictionary-based word breaker, for scripts written without spaces (Chinese, Japanese, Thai, …).
    case icu
    /// `icu` for languages and scripts written without spaces (from `metadata.language`, else from the
    /// characters of the text), `en` otherwise.
    case auto

    static let parameter = ParameterSpec(
        "words", .choice(allCases.map(\.rawValue)), default: "auto",
        "word splitting: en (spaCy English rules, datatrove's default), icu (dictionary segmentation for CJK/Thai), auto (icu for languages written without spaces, else en)"
    )
}

/// What steps compute from a document's text, computed once per document and shared by the steps of
/// a stage (see ``Document/derived(_:_:)``).
final class TextAnalysis {
    let bytes: [UInt8]
    private var spacy: [dt_token]?
    private var icu: [dt_token]?
    private var spacyWithSpaces: [dt_token]?
    private(set) lazy var characterCount: Int = TextBytes.codePointCount(bytes[...])

    init(_ text: String) { bytes = Array(text.utf8) }

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The analysis of a document's current text.
    static func of(_ document: Document) -> TextAnalysis { document.derived(TextAnalysis.self) { TextAnalysis($0) } }

    /// The words of the text split the given way (`language` from metadata, for `auto`).
    func words(_ split: WordSplit, language: String?) -> [dt_token] {
        switch split {
        case .en: return spacyWords
        case .icu: return icuWords
        case .auto: return TextAnalysis.writtenWithoutSpaces(language: language, bytes: bytes) ? icuWords : spacyWords
        }
    }

    var spacyWords: [dt_token] {
        if let spacy { return spacy }
        let t = Self.tokenize(bytes, withSpace: false)
        spacy = t
        return t
    }

    var icuWords: [dt_token] {
        if let icu { return icu }
        let t = bytes.withUnsafeBufferPointer { buf -> [dt_token] in
            var out = [dt_token](repeating: dt_token(), count: max(16, buf.count / 3))
            var n = out.withUnsafeMutableBufferPointer {
                dt_icu_words(buf.baseAddress, buf.count, $0.baseAddress, $0.count)
            }
            if n > out.count {
                out = [dt_token](repeating: dt_token(), count: n)
                n = out.withUnsafeMutableBufferPointer {
                    dt_icu_words(buf.baseAddress, buf.count, $0.baseAddress, $0.count)
                }
            }
            return n < 0 ? [] : Array(out.prefix(n))
        }
        icu = t
        return t
    }

    /// spaCy tokens including whitespace tokens (for sentence splitting).
    static func tokenize(_ bytes: some Collection<UInt8>, withSpace: Bool) -> [dt_token] {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { buf -> [dt_token] in
            var out = [dt_token](repeating: dt_token(), count: max(16, buf.count / 4))
            var n = out.withUnsafeMutableBufferPointer {
                dt_tokenize_en(buf.baseAddress, buf.count, $0.baseAddress, $0.count, withSpace ? 1 : 0)
            }
            if n > out.count {
                out = [dt_token](repeating: dt_token(), count: n)
                n = out.withUnsafeMutableBufferPointer {
                    dt_tokenize_en(buf.baseAddress, buf.count, $0.baseAddress, $0.count, withSpace ? 1 : 0)
                }
            }
            return Array(out.prefix(n))
        }
    }

    /// Languages whose text has no spaces between words.
    static let noSpaceLanguages: Set<String> = ["zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue", "dz"]

    /// Whether the language (or, when unknown, the text's letters) is written without spaces between words.
    static func writtenWithoutSpaces(language: String?, bytes: [UInt8]) -> Bool {
        if let language {
            let code = String(language.prefix { $0 != "_" && $0 != "-" })
            return noSpaceLanguages.contains(code)
        }
        return bytes.withUnsafeBufferPointer { buf in
            let t = PyText(buf)
            var letters = 0, noSpace = 0
            var i = 0
            let limit = min(buf.count, 8192)
            while i < limit {
                let (cp, n) = t.decode(i)
                i += n
                if PyText.isAlpha(cp) {
                    letters += 1
                    if isNoSpaceScript(cp) { noSpace += 1 }
                }
            }
            return letters > 0 && noSpace * 10 > letters * 3
        }
    }

    static func isNoSpaceScript(_ cp: UInt32) -> Bool {
        switch cp {
        case 0x0E00...0x0EFF, 0x0F00...0x0FFF, 0x1000...0x109F, 0x1780...0x17FF, 0x3040...0x30FF, 0x3400...0x4DBF,
            0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F:
            return true
        default:
            return false
        }
    }
}

/// Token flags of ``dt_token``.
enum TokenFlag {
    static let space = UInt32(DT_TOK_SPACE)
    static let hasAlpha = UInt32(DT_TOK_HAS_ALPHA)
    static let allDatatrovePunctuation = UInt32(DT_TOK_ALL_DT_PUNCT)
    static let allPunctuation = UInt32(DT_TOK_ALL_CAT_P)
    static let sentencePunctuation = UInt32(DT_TOK_SENT_PUNCT)
}
