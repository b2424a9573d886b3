/// What an edit program may do to a text, as a check for tests.
public enum EditCheck {
    /// Whether every line of `output` is, in order, a line of `input` with characters removed (white space
    /// aside): what an edit program may do.
    public static func isEdit(_ output: String, of input: String) -> Bool {
        let source = input.split(separator: "\n").map { $0.unicodeScalars.filter { !$0.properties.isWhitespace } }
        var next = 0
        for line in output.split(separator: "\n") {
            let chars = line.unicodeScalars.filter { !$0.properties.isWhitespace }
            if chars.isEmpty { continue }
            var matched = false
            while next < source.count {
                let candidate = source[next]
                next += 1
                var it = candidate.makeIterator()
                if chars.allSatisfy({ c in
                    while let s = it.next() { if s == c { return true } }
                    return false
                }) {
                    matched = true
                    break
                }
            }
            if !matched { return false }
        }
        return true
    }
}
