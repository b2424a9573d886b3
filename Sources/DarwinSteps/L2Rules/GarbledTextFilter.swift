import CDarwinText
import DarwinCore

/// Drops documents where too many characters are garbled: U+FFFD replacement characters (bytes a decoder
/// could not read), control characters other than tab, newline and carriage return, unassigned code
/// points and, optionally, private-use characters — the traces of failed OCR and broken encodings.
///
/// Darwin-Science drops documents with more than 50 % garbled characters (Data Darwinism Part I, §3.3);
/// the paper does not define "garbled", so this is darwin's definition, counted over non-whitespace
/// characters.
struct GarbledTextFilter: StreamingStep {
    let maxRatio: Double
    let privateUse: Bool

    static let descriptor = StepDescriptor(
        id: "garbled_text", version: 1, levels: [.l2],
        summary: "drop documents whose share of replacement, control and unassigned characters is over a threshold",
        reference: "Darwin-Science L2 (Data Darwinism Part I, §3.3): > 50 % garbled characters",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "max_ratio", .number(min: 0, max: 1), default: 0.5, "largest share of garbled characters kept"),
            ParameterSpec("count_private_use", .boolean, default: true, "count private-use characters as garbled"),
        ],
        histograms: [
            HistogramSpec(
                name: "garbled_ratio", lower: 0, upper: 1, bins: 20, scale: .linear,
                summary: "share of garbled characters")
        ],
        examples: [
            StepExample(#"{"id":"a","text":"plain readable text"}"#, expect: .keep),
            StepExample(#"{"id":"b","text":"\ufffd\ufffd\ufffd\ufffd ok"}"#, expect: .drop(rule: "garbled")),
        ],
        make: { p in
            .streaming(GarbledTextFilter(maxRatio: p.double("max_ratio"), privateUse: p.bool("count_private_use")))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        var counted = 0, garbled = 0
        for s in document.text.unicodeScalars {
            let v = s.value
            if v < 0x80 {
                if v == 0x20 || v == 0x0A || v == 0x09 || v == 0x0D { continue }
                counted += 1
                if v < 0x20 || v == 0x7F { garbled += 1 }
                continue
            }
            if PyText.isSpace(v) { continue }
            counted += 1
            if v == 0xFFFD || dt_has_prop(DT_PROP_CONTROL, v) != 0 || dt_has_prop(DT_PROP_UNASSIGNED, v) != 0
                || (privateUse && dt_has_prop(DT_PROP_PRIVATE_USE, v) != 0)
            {
                garbled += 1
            }
        }
        let ratio = counted > 0 ? Double(garbled) / Double(counted) : 0
        context.observe("garbled_ratio", ratio)
        return ratio > maxRatio ? .drop(rule: "garbled", detail: ["ratio": .number(JSONNumber(ratio))]) : .keep
    }
}
