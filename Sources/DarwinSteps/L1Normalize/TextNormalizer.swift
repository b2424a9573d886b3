import CDarwinText
import DarwinCore

/// L1 text normalisation: mojibake repair (UTF-8 read as windows-1252 or Latin-1, also twice), control
/// characters removed (tab and newline stay; CR LF becomes LF), Unicode NFC, and whitespace — trailing spaces,
/// runs of spaces inside a line, more than one blank line — never inside ``` code blocks.
struct TextNormalizer: StreamingStep {
    var options: dn_options

    static let descriptor = StepDescriptor(
        id: "normalize_text", version: 1, levels: [.l1],
        summary: "repair mojibake, remove control characters, Unicode NFC, tidy whitespace outside code blocks",
        reference: "Unicode NFC (ICU); mojibake repair in the manner of ftfy for windows-1252 / Latin-1 readings",
        kind: .streaming,
        parameters: [
            ParameterSpec("mojibake", .boolean, default: true, "repair UTF-8 text that was read as windows-1252"),
            ParameterSpec("controls", .boolean, default: true, "remove control characters (tab and newline stay)"),
            ParameterSpec("nfc", .boolean, default: true, "Unicode normalisation form C"),
            ParameterSpec(
                "whitespace", .boolean, default: true,
                "trailing spaces, runs of spaces, at most one blank line; code blocks untouched"),
        ],
        examples: [
            StepExample(#"{"id":"a","text":"cafÃ© and â€œquotesâ€\u009d"}"#, expect: .keep),
            // UTF-8 read as windows-1252 twice.
            StepExample(ExampleText.document("b", "Ã¢â‚¬Å“double readingÃ¢â‚¬Â\u{9D} repaired"), expect: .keep),
            // Combining accents composed (NFC).
            StepExample(ExampleText.document("c", "Cafe\u{301} cre\u{300}me, A\u{30A}ngstro\u{308}m"), expect: .keep),
            // CR LF and lone CR, a bell and a byte-order mark; trailing spaces, runs of spaces and blank lines.
            StepExample(
                ExampleText.document(
                    "d", "\u{FEFF}First line\r\nSecond\u{7} line   \rThird    line\r\n\r\n\r\n\r\nLast  line  "),
                expect: .keep),
            // A code block keeps its spacing; the prose around it does not.
            StepExample(
                ExampleText.document(
                    "e", "Run  this:\n\n\n```\nif x:\n    print(x)    # aligned\n\n\n```\n\n\nDone.   Thanks."),
                expect: .keep),
            // Only the passes asked for.
            StepExample(
                ExampleText.document("f", "cafÃ©  and  cafe\u{301}"),
                parameters: ["mojibake": false, "whitespace": false], expect: .keep),
        ],
        make: { p in
            .streaming(
                TextNormalizer(
                    options: dn_options(
                        nfc: p.bool("nfc") ? 1 : 0, mojibake: p.bool("mojibake") ? 1 : 0,
                        controls: p.bool("controls") ? 1 : 0, whitespace: p.bool("whitespace") ? 1 : 0)))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        var text = document.text
        var r = dn_result()
        var options = self.options
        let status = text.withUTF8 { b in
            b.withMemoryRebound(to: CChar.self) { dn_normalize($0.baseAddress, $0.count, &options, &r) }
        }
        defer { dn_result_free(&r) }
        guard status == 0, let p = r.text else { throw StepError(.shard, "normalize_text: out of memory") }
        if r.mojibake_fixed > 0 { context.count("mojibake_repaired") }
        if r.controls_removed > 0 { context.count("control_characters_removed") }
        if r.nfc_changed != 0 { context.count("nfc_changed") }
        if r.whitespace_changed != 0 { context.count("whitespace_changed") }
        if r.mojibake_fixed > 0 || r.controls_removed > 0 || r.nfc_changed != 0 || r.whitespace_changed != 0 {
            document.text = String(
                decoding: UnsafeRawBufferPointer(start: p, count: r.length).bindMemory(to: UInt8.self), as: UTF8.self)
        }
        return .keep
    }
}
