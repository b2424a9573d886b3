import DarwinCore

/// Splits documents longer than `max_chars` characters into chunks, new documents that go on through the
/// later steps in place of their parent; ``ChunkJoiner`` (`join_chunks`) puts them back together.
///
/// A chunk ends at the best boundary before `max_chars`: after a blank line (paragraph), else after a line,
/// else after a sentence (`. `, `? `, `! `, `。`), else after a space, else between two characters; the first
/// three only in the chunk's last three quarters, so that chunks are not tiny. A cut never falls inside a
/// fenced code block (```` ``` ```` or `~~~`) or a display formula (`$$…$$`, `\[…\]`): the chunk ends before
/// it, or, when the block alone is longer than a chunk, after it. The chunks' texts put end to end are the
/// document's text, byte for byte.
///
/// Each chunk is made by ``Document/derived(from:context:index:text:)`` (id `PARENT#STAGE:chunk:N`, every
/// field of the parent but `id`, `text` and `darwin`) and records `darwin.chunk`: `of` (the parent's id),
/// `index`, `count`, and `restore` (the parent's other `darwin` fields, such as its own `parent`), which is
/// what `join_chunks` needs to give the document back as it was. A document that fits in one chunk is kept
/// as it is.
struct ChunkSplitter: StreamingStep {
    let maxChars: Int

    static let descriptor = StepDescriptor(
        id: "chunk", version: 1, levels: Array(Level.allCases.dropFirst()),
        summary:
            "split documents longer than max_chars into chunks (new documents) at paragraph, line or sentence boundaries, never inside code or display math",
        reference: "Data Darwinism L4/L5 (1,024-character windows); join_chunks reassembles them",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "max_chars", .integer(min: 16, max: 1 << 30), default: 1024,
                "most characters (Unicode code points) in a chunk; a code block or display formula longer than this stays whole"
            )
        ],
        histograms: [
            HistogramSpec(
                name: "chunks", lower: 1, upper: 1000, bins: 30, scale: .log,
                summary: "chunks per document that was split")
        ],
        examples: [
            StepExample(#"{"id":"short","text":"fits in one chunk"}"#, expect: .keep),
            StepExample(
                #"{"id":"long","text":"First paragraph of text.\n\nSecond paragraph, which is longer.\n\nThird."}"#,
                parameters: ["max_chars": 40], expect: .replace(count: 3)),
        ],
        make: { p in .streaming(ChunkSplitter(maxChars: p.int("max_chars"))) })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let pieces = Self.split(document.text, maxChars: maxChars)
        guard pieces.count > 1 else {
            context.count("whole")
            return .keep
        }
        var restore = document["darwin"]?.objectValue ?? JSONObject()
        restore["level"] = nil
        restore["history"] = nil
        var chunks: [Document] = []
        chunks.reserveCapacity(pieces.count)
        for (i, piece) in pieces.enumerated() {
            var chunk = Document.derived(from: document, context: context, index: i, text: piece)
            var info = JSONObject([
                (key: "of", value: .string(document.id)), (key: "index", value: .number(JSONNumber(i))),
                (key: "count", value: .number(JSONNumber(pieces.count))),
            ])
            if !restore.isEmpty { info["restore"] = .object(restore) }
            chunk.setValue(.object(info), atPath: "darwin.chunk")
            chunks.append(chunk)
        }
        context.count("split")
        context.observe("chunks", Double(pieces.count))
        return .replace(chunks)
    }

    // MARK: - Cutting

    /// The text cut into pieces of at most `maxChars` code points (but for blocks that cannot be cut).
    static func split(_ text: String, maxChars: Int) -> [String] {
        split(text) { _, start in start + maxChars }
    }

    /// The text cut into pieces, each ending at the best boundary at or before `reach(scalars, start)`, the
    /// furthest code point a piece starting at `start` may reach (`start + maxChars`, or as far as a number of
    /// tokens goes).
    static func split(_ text: String, reach: ([Unicode.Scalar], Int) -> Int) -> [String] {
        let s = Array(text.unicodeScalars)
        var limit = reach(s, 0)
        guard s.count > limit else { return [text] }
        let blocks = protectedBlocks(s)
        var out: [String] = []
        var start = 0
        while s.count > limit {
            var cut = bestCut(s, from: start, limit: limit, maxChars: max(1, limit - start))
            if let block = blocks.first(where: { $0.lowerBound < cut && cut < $0.upperBound }) {
                cut = block.lowerBound > start ? block.lowerBound : block.upperBound
            }
            if cut >= s.count { break }
            out.append(String(String.UnicodeScalarView(s[start..<cut])))
            start = cut
            limit = max(start + 1, reach(s, start))
        }
        out.append(String(String.UnicodeScalarView(s[start...])))
        return out
    }

    /// Pieces of at most `maxTokens` tokens as `count` counts them (`count(text, n)` answers how many UTF-8
    /// bytes of `text` its first `n` tokens cover, or nil when the whole text has no more than `n` tokens).
    static func split(_ text: String, maxTokens: Int, prefixBytes: (String, Int) -> Int?) -> [String] {
        split(text) { s, start in
            // A token is rarely more than 16 code points; look that far at most.
            let end = min(s.count, start + maxTokens * 16)
            let window = String(String.UnicodeScalarView(s[start..<end]))
            guard let bytes = prefixBytes(window, maxTokens) else { return end == s.count ? s.count : end }
            var used = 0
            var p = start
            while p < end {
                let n = UTF8.width(s[p])
                if used + n > bytes { break }
                used += n
                p += 1
            }
            return max(start + 1, p)
        }
    }

    /// The best position in `start+1 ... limit` to end a chunk.
    private static func bestCut(_ s: [Unicode.Scalar], from start: Int, limit: Int, maxChars: Int) -> Int {
        let early = start + max(1, maxChars / 4)
        func last(from low: Int, _ test: (Int) -> Bool) -> Int? {
            var p = limit
            while p > low {
                if test(p) { return p }
                p -= 1
            }
            return nil
        }
        let newline: Unicode.Scalar = "\n"
        // After a blank line, at the start of the next paragraph.
        if let p = last(
            from: early,
            { p in
                p >= 2 && s[p - 1] == newline && s[p - 2] == newline && (p == s.count || s[p] != newline)
            })
        {
            return p
        }
        if let p = last(from: early, { s[$0 - 1] == newline }) { return p }
        if let p = last(
            from: early,
            { p in
                let c = s[p - 1]
                if c == "。" || c == "！" || c == "？" { return true }
                return p >= 2 && (c == " " || c == "\t") && [".", "!", "?"].contains(s[p - 2])
            })
        {
            return p
        }
        if let p = last(from: start, { s[$0 - 1] == " " || s[$0 - 1] == "\t" }) { return p }
        // Between two characters: not before a combining mark, a variation selector or after a joiner.
        var p = limit
        while p > start + 1 && (s[p].properties.isGraphemeExtend || s[p - 1] == "\u{200D}" || isVariation(s[p])) {
            p -= 1
        }
        return p
    }

    private static func isVariation(_ c: Unicode.Scalar) -> Bool {
        (0xFE00...0xFE0F).contains(c.value) || (0xE0100...0xE01EF).contains(c.value)
    }

    /// Fenced code blocks and display formulas, as ranges of code points (each from the start of its opening
    /// line or delimiter to the end of its closing one).
    static func protectedBlocks(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var lineStart = 0
        var fence: (start: Int, char: Unicode.Scalar, count: Int)?
        var i = 0
        while i <= s.count {
            guard i == s.count || s[i] == "\n" else {
                i += 1
                continue
            }
            let lineEnd = i
            let next = min(s.count, i + 1)
            // The fence run at the line's start (after up to three spaces).
            var k = lineStart
            while k < lineEnd && k - lineStart < 3 && s[k] == " " { k += 1 }
            var run = 0
            if k < lineEnd, s[k] == "`" || s[k] == "~" {
                let c = s[k]
                while k + run < lineEnd && s[k + run] == c { run += 1 }
                if run >= 3 {
                    if let f = fence {
                        if c == f.char && run >= f.count {
                            out.append(f.start..<next)
                            fence = nil
                        }
                    } else {
                        fence = (lineStart, c, run)
                    }
                }
            }
            lineStart = next
            i += 1
        }
        if let f = fence { out.append(f.start..<s.count) }
        out += displayMath(s, outside: out)
        return out.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// `$$…$$` and `\[…\]` outside code blocks.
    private static func displayMath(_ s: [Unicode.Scalar], outside code: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        func inCode(_ p: Int) -> Range<Int>? { code.first { $0.contains(p) } }
        while i + 1 < s.count {
            if let block = inCode(i) {
                i = block.upperBound
                continue
            }
            let opensDollar = s[i] == "$" && s[i + 1] == "$"
            let opensBracket = s[i] == "\\" && s[i + 1] == "["
            guard opensDollar || opensBracket else {
                i += 1
                continue
            }
            let close: (Unicode.Scalar, Unicode.Scalar) = opensDollar ? ("$", "$") : ("\\", "]")
            var j = i + 2
            while j + 1 < s.count && !(s[j] == close.0 && s[j + 1] == close.1) { j += 1 }
            guard j + 1 < s.count else { break }
            out.append(i..<(j + 2))
            i = j + 2
        }
        return out
    }
}
