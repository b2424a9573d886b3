import CDarwinText
import DarwinCore
import Testing

@testable import DarwinSteps

/// The English word split must equal spaCy's (datatrove's) token for token; expectations below were
/// produced by spaCy 3.8 `spacy.blank("en")`.
@Suite struct WordSplitTests {
    func words(_ s: String) -> [String] {
        let bytes = Array(s.utf8)
        return TextAnalysis.tokenize(bytes, withSpace: false).map {
            String(decoding: bytes[Int($0.start)..<Int($0.end)], as: UTF8.self)
        }
    }

    @Test(
        arguments: [
            (
                "Hello, world! Don't stop-me now... U.S. e.g. (test) $100 10km rock'n'roll http://x.org/a?b=1 user@x.com 3.14 #tag",
                [
                    "Hello", ",", "world", "!", "Do", "n't", "stop", "-", "me", "now", "...", "U.S.", "e.g.", "(",
                    "test", ")", "$", "100",
                    "10", "km", "rock'n'roll", "http://x.org/a?b=1", "user@x.com", "3.14", "#", "tag",
                ]
            ),
            ("406 a.C.) z. B. open (): x", ["406", "a.", "C.", ")", "z.", "B.", "open", "(", "):", "x"]),
            ("^From[ :].*print-server", ["^From", "[", ":", "]", ".*print", "-", "server"]),
            (":].x :]a a:] (:]", [":]", ".x", ":]", "a", "a", ":]", "(", ":]"]),
            ("exec '' y (: c", ["exec", "''", "y", "(:", "c"]),
            ("  leading\n\nand\ttabs  ", ["leading", "and", "tabs"]),
        ] as [(String, [String])])
    func spacyCompatible(text: String, expected: [String]) {
        #expect(words(text) == expected)
    }

    @Test func scriptsWithoutSpacesGetDictionaryWords() {
        let zh = "我们今天去北京大学参观。"
        let a = TextAnalysis(zh)
        #expect(a.spacyWords.count <= 2, "spaCy's English rules see one long word")
        let icu = a.icuWords
        #expect(icu.count >= 5, "ICU segments Chinese into words")
        #expect(TextAnalysis.writtenWithoutSpaces(language: nil, bytes: Array(zh.utf8)))
        #expect(TextAnalysis.writtenWithoutSpaces(language: "th", bytes: []))
        #expect(!TextAnalysis.writtenWithoutSpaces(language: "ar", bytes: []))
        let th = TextAnalysis("ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ")
        #expect(th.icuWords.count >= 8, "Thai is segmented with ICU's dictionary")
        let ar = TextAnalysis("مرحبا بالعالم الجميل")
        #expect(ar.spacyWords.count == 3)
    }

    @Test func ngramHashesComposeOverConcatenation() {
        let bytes = Array("abc".utf8)
        bytes.withUnsafeBufferPointer { b in
            let ab = NGramHash.of(b, 0..<2), c = NGramHash.of(b, 2..<3), a = NGramHash.of(b, 0..<1),
                bc = NGramHash.of(b, 1..<3)
            let abc = NGramHash.of(b, 0..<3)
            #expect(NGramHash.concat(ab.hash, c.hash, powerY: c.power) == abc.hash)
            #expect(
                NGramHash.concat(a.hash, bc.hash, powerY: bc.power) == abc.hash, "\"\".join semantics: ab+c == a+bc")
        }
    }
}
