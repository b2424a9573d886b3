import Foundation

/// A refinement program (ProX / RefineX): what a model wrote about a chunk whose lines it saw numbered, one call
/// a line —
///
/// ```
/// remove_lines(0, 2)
/// normalize(5, "Clic k here", "")
/// keep_doc()
/// ```
///
/// `remove_lines(a, b)` deletes lines a to b (inclusive); `normalize(line, "old", "new")` replaces `old` by `new`
/// on that line; `keep_doc()` ends the program, `drop_doc()` deletes the whole chunk. darwin checks every call
/// before it runs any: line numbers inside the chunk, `old` present on its line, and `new` made only of `old`'s
/// characters in their order (it may delete characters and change spacing — join a split word, drop a stray
/// mark — never add one). A program with two or more calls that fail this or do not parse is ignored; with one,
/// that call is skipped. Substitutions run first, then deletions, so the output is always the input's lines,
/// some left out, some with characters removed: an edit cannot invent text.
struct EditProgram: Sendable, Equatable {
    enum Call: Sendable, Equatable {
        case removeLines(Int, Int)
        case normalize(line: Int, old: String, new: String)
    }

    var calls: [Call] = []
    /// Lines that are not a call darwin knows.
    var malformed: [String] = []
    var dropsChunk = false
    /// Whether the program ended with `keep_doc()` or `drop_doc()`.
    var terminated = false

    /// The GBNF grammar of the language: up to `maxCalls` calls, one a line, then `keep_doc()` or `drop_doc()`.
    static func grammar(maxCalls: Int) -> String {
        """
        root ::= (call "\\n"){0,\(maxCalls)} ("keep_doc()" | "drop_doc()")
        call ::= "remove_lines(" num ", " num ")" | "normalize(" num ", " str ", " str ")"
        num ::= [0-9] | [1-9] [0-9] | [1-9] [0-9] [0-9] | [1-9] [0-9] [0-9] [0-9]
        str ::= "\\"" ([^"\\\\\\n] | "\\\\" ["\\\\n])* "\\""
        """
    }

    /// The chunk as the model sees it: `[000] line`, one per line (the number padded to the widest).
    static func numbered(_ lines: [Substring]) -> String {
        let width = max(3, String(max(0, lines.count - 1)).count)
        var out = ""
        for (i, line) in lines.enumerated() {
            let n = String(i)
            out += "[" + String(repeating: "0", count: width - n.count) + n + "] " + line + "\n"
        }
        return out
    }

    /// The chunk's lines (its trailing line breaks set apart).
    static func lines(of chunk: String) -> (lines: [Substring], tail: Substring) {
        let parts = chunk.trimmedParts
        let body = chunk[chunk.startIndex..<parts.body.endIndex]
        return (body.split(separator: "\n", omittingEmptySubsequences: false), parts.tail)
    }

    /// Reads a program, leniently: `remove_lines(line_start=3, line_end=5)`, single quotes, a missing final
    /// call and code fences around it are accepted.
    static func parse(_ text: String) -> EditProgram {
        var program = EditProgram()
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("```") { continue }
            if program.terminated { break }
            if line.firstMatch(of: /^keep_doc\(\s*\)$/) != nil {
                program.terminated = true
            } else if line.firstMatch(of: /^drop_doc\(\s*\)$/) != nil {
                program.terminated = true
                program.dropsChunk = true
            } else if let m = line.firstMatch(
                of: /^remove_lines\(\s*(?:line_start\s*=\s*)?(\d+)\s*,\s*(?:line_end\s*=\s*)?(\d+)\s*\)$/),
                let a = Int(m.output.1), let b = Int(m.output.2)
            {
                program.calls.append(.removeLines(a, b))
            } else if let call = parseNormalize(line) {
                program.calls.append(call)
            } else {
                program.malformed.append(line)
            }
        }
        return program
    }

    private static func parseNormalize(_ line: String) -> Call? {
        guard let m = line.firstMatch(of: /^normalize\(\s*(?:line\s*=\s*)?(\d+)\s*,\s*(.*)\)$/),
            let n = Int(m.output.1)
        else { return nil }
        var rest = Substring(m.output.2)
        var strings: [String] = []
        while !rest.isEmpty {
            rest = rest.drop(while: { $0 == " " })
            if let eq = rest.firstIndex(of: "="), let q = rest.firstIndex(where: { $0 == "\"" || $0 == "'" }), eq < q {
                rest = rest[rest.index(after: eq)...].drop(while: { $0 == " " })  // source_str=…
            }
            guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
            var value = ""
            var i = rest.index(after: rest.startIndex)
            var closed = false
            while i < rest.endIndex {
                let c = rest[i]
                if c == "\\", rest.index(after: i) < rest.endIndex {
                    let e = rest[rest.index(after: i)]
                    value.append(e == "n" ? "\n" : e == "t" ? "\t" : e)
                    i = rest.index(i, offsetBy: 2)
                    continue
                }
                if c == quote {
                    closed = true
                    i = rest.index(after: i)
                    break
                }
                value.append(c)
                i = rest.index(after: i)
            }
            guard closed else { return nil }
            strings.append(value)
            rest = rest[i...].drop(while: { $0 == " " })
            if rest.first == "," { rest = rest.dropFirst() }
        }
        switch strings.count {
        case 1: return .normalize(line: n, old: strings[0], new: "")
        case 2: return .normalize(line: n, old: strings[0], new: strings[1])
        default: return nil
        }
    }

    /// What running the program on a chunk gives.
    struct Result: Sendable, Equatable {
        /// The chunk's lines after the program, or nil when the program was ignored.
        var lines: [Substring]?
        /// Calls that did not parse or failed their check, with the reason.
        var invalid: [String]
        var removedLines: Int
        var substitutions: Int
    }

    /// Checks every call against the chunk's lines and runs the program (nil lines: ignored, two or more calls
    /// invalid; an empty list: the chunk is dropped).
    func run(on lines: [Substring]) -> Result {
        var invalid = malformed.map { "does not parse: \($0.prefix(80))" }
        var removals: [ClosedRange<Int>] = []
        var edits: [(line: Int, old: String, new: String)] = []
        for call in calls {
            switch call {
            case .removeLines(let a, let b):
                guard a <= b, b < lines.count else {
                    invalid.append("remove_lines(\(a), \(b)): the chunk has lines 0 to \(lines.count - 1)")
                    continue
                }
                removals.append(a...b)
            case .normalize(let line, let old, let new):
                guard line < lines.count else {
                    invalid.append("normalize(\(line), …): the chunk has lines 0 to \(lines.count - 1)")
                    continue
                }
                guard !old.isEmpty, old != new, lines[line].contains(old) else {
                    invalid.append("normalize(\(line), \"\(old.prefix(40))\", …): not on line \(line)")
                    continue
                }
                guard Self.onlyRemoves(old, new) else {
                    invalid.append("normalize(\(line), …): \"\(new.prefix(40))\" adds characters")
                    continue
                }
                edits.append((line, old, new))
            }
        }
        if invalid.count >= 2 { return Result(lines: nil, invalid: invalid, removedLines: 0, substitutions: 0) }
        if dropsChunk { return Result(lines: [], invalid: invalid, removedLines: lines.count, substitutions: 0) }
        var out = lines.map { String($0) }
        for e in edits { out[e.line] = out[e.line].replacingOccurrences(of: e.old, with: e.new) }
        var removed = Array(repeating: false, count: lines.count)
        for r in removals { for i in r { removed[i] = true } }
        let kept = out.indices.filter { !removed[$0] }.map { Substring(out[$0]) }
        return Result(
            lines: kept, invalid: invalid, removedLines: removed.filter { $0 }.count, substitutions: edits.count)
    }

    /// Whether `new` is `old` with characters removed and spacing changed: its characters other than white
    /// space appear in `old`, in order.
    static func onlyRemoves(_ old: String, _ new: String) -> Bool {
        var source = old.unicodeScalars.filter { !$0.properties.isWhitespace }.makeIterator()
        for c in new.unicodeScalars where !c.properties.isWhitespace {
            var found = false
            while let s = source.next() {
                if s == c {
                    found = true
                    break
                }
            }
            if !found { return false }
        }
        return true
    }
}
