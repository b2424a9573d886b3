import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

@Suite struct GopherQualityTests {
    @Test func proseIsKept() throws {
        #expect(try run("gopher_quality", text: englishProse).decision == .keep)
    }

    @Test(arguments: [
        ("word " + String(repeating: "x ", count: 10), "too_few_words"),
        (String(repeating: "incomprehensibilities ", count: 60), "mean_word_length"),
        (String(repeating: "a b c of the ", count: 20), "mean_word_length"),
        (String(repeating: "the word #tag #more ", count: 20), "hash_ratio"),
        (String(repeating: "the words here... and ", count: 20), "ellipsis_ratio"),
        (String(repeating: "- the bulleted item here and more\n", count: 20), "bullet_lines"),
        (String(repeating: "12345 67890 and 11111 22222 33333 44444 55555 66666\n", count: 10), "alpha_words"),
        (String(repeating: "lorem words without any common function tokens whatsoever\n", count: 10), "stop_words"),
    ])
    func rules(text: String, expected: String) throws {
        let r = try run("gopher_quality", text: text)
        #expect(rule(r.decision) == expected, "\(r.decision)")
    }

    @Test func thresholdsAreParameters() throws {
        let short = "word " + String(repeating: "x ", count: 10)
        #expect(
            try run(
                "gopher_quality", ["min_doc_words": 5, "min_stop_words": .null, "min_avg_word_length": 1], text: short
            ).decision == .keep)
    }

    @Test func chineseIsNotDroppedForItsScriptWithLanguageOverrides() throws {
        // The handbook's Chinese translation, as in the sample corpus, with FineWeb2-style zh thresholds.
        let zh = String(repeating: "我们的系统管理员手册介绍了如何安装和配置服务器。在这个章节中，你会学到网络的基础知识。", count: 8)
        let en = try run("gopher_quality", ["words": "en"], text: zh, fields: [("metadata", ["language": "zh"])])
        #expect(rule(en.decision) == "too_few_words", "spaCy's English rules see a few giant words")
        let dir = TemporaryDirectory()
        let overrides = dir.file("overrides.yaml")
        try Data(
            """
            zh:
              min_avg_word_length: 1
              max_avg_word_length: 5
              stopwords: ["的", "是", "在", "了", "和"]
            """.utf8
        ).write(to: URL(fileURLWithPath: overrides))
        let auto = try run(
            "gopher_quality", ["language_overrides": .string(overrides)], text: zh,
            fields: [("metadata", ["language": "zh"])])
        #expect(auto.decision == .keep, "\(auto.decision)")
        // Without overrides, dictionary words still do not pass English thresholds (mean length < 3).
        let plain = try run("gopher_quality", text: zh, fields: [("metadata", ["language": "zh"])])
        #expect(rule(plain.decision) == "mean_word_length")
    }

    @Test func arabicAndThaiCountAsWords() throws {
        let ar = String(repeating: "تعلم البرمجة خطوة بخطوة مع أمثلة عملية واضحة للمبتدئين في هذا المجال ", count: 8)
        let r = try run("gopher_quality", ["min_stop_words": .null], text: ar)
        #expect(r.decision == .keep, "Arabic words are split on spaces: \(r.decision)")
        let th = String(repeating: "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ ", count: 12)
        let t = try run("gopher_quality", ["min_stop_words": .null, "min_avg_word_length": 1], text: th)
        #expect(t.decision == .keep, "Thai is segmented, not one word a line: \(t.decision)")
    }
}

@Suite struct GopherRepetitionTests {
    @Test func proseIsKept() throws { #expect(try run("gopher_repetition", text: englishProse).decision == .keep) }

    @Test(arguments: [
        ("one paragraph here\n\none paragraph here\n\none paragraph here\n\nanother", "duplicate_paragraphs"),
        ("a line\nb line\nb line\nb line\nc", "duplicate_lines"),
        (String(repeating: "the cat ", count: 40) + englishProse, "top_2gram"),
        (englishProse + " " + englishProse, "duplicate_5grams"),
        (
            [
                "First note.", "Second remark here.", "A third one.", "Fourth.", "Fifth item.", englishProse,
                englishProse,
            ]
            .joined(separator: "\n\n"), "duplicate_paragraph_chars"
        ),
    ])
    func rules(text: String, expected: String) throws {
        #expect(rule(try run("gopher_repetition", text: text).decision) == expected)
    }

    @Test func repeatedNGramsAreFoundInChineseWithDictionaryWords() throws {
        let sentence = "我们今天去北京大学参观，然后在图书馆里读书。"
        let text = (1...12).map { "第\($0)段：" + sentence }.joined(separator: "\n")
        let r = try run("gopher_repetition", ["dup_line_frac": .null, "dup_line_char_frac": .null], text: text)
        #expect(
            rule(r.decision)?.hasPrefix("duplicate_") == true || rule(r.decision)?.hasPrefix("top_") == true,
            "\(r.decision)")
    }
}

@Suite struct C4Tests {
    let good = (1...6).map { "This is sentence number \($0) of a good paragraph." }.joined(separator: "\n")

    @Test func keepsAndCleansLines() throws {
        let text =
            good
            + "\nClick here to enable javascript for this site.\nNavigation menu\nWe use cookies on this site.\nAbout [1] the [edit] page [citation needed] here."
        let r = try run("c4", text: text)
        #expect(r.decision == .keep)
        #expect(r.document.text == good + "\nAbout  the  page  here.")
        #expect(r.context.stats.counters["line_javascript"] == 1)
        #expect(r.context.stats.counters["line_no_terminal_punct"] == 1)
        #expect(r.context.stats.counters["line_policy"] == 1)
    }

    @Test(arguments: [
        ("Some lorem ipsum dolor text here.", "lorem_ipsum"),
        ("A function looks like f() { return 1; } in code.", "curly_bracket"),
        ("Only one sentence in this line.", "too_few_sentences"),
    ])
    func documentRules(line: String, expected: String) throws {
        #expect(
            rule(try run("c4", text: good + "\n" + line).decision) == (expected == "too_few_sentences" ? nil : expected)
        )
        #expect(rule(try run("c4", text: line).decision) == expected)
    }

    @Test func fineWebSettingKeepsLinesWithoutPunctuation() throws {
        let text = good + "\nA heading without a period"
        #expect(
            try run("c4", ["filter_no_terminal_punct": false], text: text).document.text.hasSuffix(
                "A heading without a period"))
        #expect(!(try run("c4", text: text).document.text.contains("heading")))
    }
}

@Suite struct FineWebQualityTests {
    @Test func proseIsKept() throws { #expect(try run("fineweb_quality", text: englishProse).decision == .keep) }

    @Test(arguments: [
        ("Menu\nHome\nAbout\nContact\nProducts\nBlog\nA sentence that ends.", "short_line_ratio"),
        (
            Array(repeating: "This line has no final punctuation mark at all", count: 10).joined(separator: "\n")
                + "\nA sentence that ends.", "line_punct_ratio"
        ),
        (
            "Short.\nAlso short.\nThis one.\nAnd this.\nYes.\nA much longer line of text that goes on and on and on.",
            "short_line_ratio"
        ),
        (
            englishProse + "\n" + "A repeated line that is long enough.\n" + "A repeated line that is long enough.",
            "char_dup_ratio"
        ),
        ((1...40).map { "Item \($0)." }.joined(separator: "\n"), "short_line_ratio"),
    ])
    func rules(text: String, expected: String) throws {
        #expect(rule(try run("fineweb_quality", text: text).decision) == expected)
    }

    @Test func customStopCharacters() throws {
        let text = "第一行。\n第二行。\n第三行"
        #expect(
            try run("fineweb_quality", ["stop_chars": ["。"], "short_line_thr": 1.0, "new_line_ratio": 5], text: text)
                .decision == .keep)
    }
}

@Suite struct GarbledAndSizeTests {
    @Test func garbledShare() throws {
        #expect(try run("garbled_text", text: "readable text").decision == .keep)
        let r = try run("garbled_text", text: "\u{FFFD}\u{FFFD}\u{0001}\u{E000} ok")
        #expect(rule(r.decision) == "garbled")
        #expect(
            try run(
                "garbled_text", ["count_private_use": false, "max_ratio": 0.6], text: "\u{E000}\u{E000}\u{FFFD}ok ok"
            ).decision == .keep)
    }

    @Test func minBytes() throws {
        #expect(rule(try run("min_bytes", text: String(repeating: "a", count: 7999)).decision) == "too_small")
        #expect(try run("min_bytes", text: String(repeating: "a", count: 8000)).decision == .keep)
        #expect(
            rule(try run("min_bytes", ["min": "8KiB"], text: String(repeating: "a", count: 8000)).decision)
                == "too_small")
    }
}
