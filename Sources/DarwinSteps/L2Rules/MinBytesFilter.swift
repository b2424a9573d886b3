import DarwinCore

/// Drops documents whose text is smaller than a size in UTF-8 bytes: Darwin-Science removes documents
/// under 8 KB at L2 as spam and fragments (Data Darwinism Part I, §3.3).
struct MinBytesFilter: StreamingStep {
    let minimum: Int

    static let descriptor = StepDescriptor(
        id: "min_bytes", version: 1, levels: [.l2],
        summary: "drop documents whose text is under a size in UTF-8 bytes (Darwin-Science: 8 KB)",
        reference: "Darwin-Science L2 file-size rule (Data Darwinism Part I, §3.3)",
        kind: .streaming,
        parameters: [
            ParameterSpec("min", .byteSize, default: "8KB", "smallest text kept (8KB = 8,000 bytes; 8KiB = 8,192)")
        ],
        histograms: [
            HistogramSpec(name: "bytes", lower: 1, upper: 1e9, bins: 36, scale: .log, summary: "text size in bytes")
        ],
        examples: [
            StepExample(#"{"id":"a","text":"tiny"}"#, expect: .drop(rule: "too_small")),
            StepExample(#"{"id":"b","text":"tiny"}"#, parameters: ["min": "4B"], expect: .keep),
        ],
        make: { p in .streaming(MinBytesFilter(minimum: p.int("min"))) })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let n = document.textUTF8Count
        context.observe("bytes", Double(n))
        return n < minimum ? .drop(rule: "too_small", detail: ["bytes": .number(JSONNumber(n))]) : .keep
    }
}
