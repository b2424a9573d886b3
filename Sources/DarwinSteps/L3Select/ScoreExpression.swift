import DarwinCore

/// A condition on a document's fields, such as `metadata.quality.hq >= 0.3 and metadata.domain in [math, code]`.
///
/// Grammar (keywords are case-insensitive; `&&`, `||` and `!` also work):
///
///     expr    := and ('or' and)*
///     and     := unary ('and' unary)*
///     unary   := 'not' unary | primary
///     primary := '(' expr ')' | operand (cmp operand | 'in' list | 'not' 'in' list)?
///     cmp     := >= | > | <= | < | == | = | !=
///     operand := path | number | 'string' | "string" | true | false
///     list    := '[' (item (',' item)*)? ']'       items: numbers, quoted strings or bare words
///
/// A path is a dotted field name (`metadata.quality.hq`, `source`). Comparisons of numbers are numeric, of
/// strings lexicographic; `in` also matches when the field is a list sharing an element with the given one.
/// A path alone is true when its value is `true`, a non-zero number or a non-empty string. A comparison
/// with a missing field (or with a value of another type) is false, and the field is reported as missing.
public struct ScoreExpression: Sendable, CustomStringConvertible {
    indirect enum Node: Sendable {
        case or(Node, Node)
        case and(Node, Node)
        case not(Node)
        case compare(Operand, Comparison, Operand)
        case member(Operand, [JSONValue], negated: Bool)
        case truthy(Operand)
    }

    enum Operand: Sendable {
        case path(String)
        case literal(JSONValue)
    }

    enum Comparison: String, Sendable {
        case lt = "<", le = "<=", gt = ">", ge = ">=", eq = "==", ne = "!="
    }

    /// The expression as written.
    public let source: String
    let root: Node
    /// Every field the expression reads, in order of first use.
    public let paths: [String]

    public var description: String { source }

    /// Parses an expression.
    ///
    /// - Throws: ``ScoreExpression/SyntaxError`` with the character position.
    public init(_ source: String) throws(SyntaxError) {
        self.source = source
        var p = Parser(tokens: try Self.tokenize(source), source: source)
        root = try p.expression()
        if p.i < p.tokens.count {
            throw SyntaxError(position: p.tokens[p.i].position, message: "unexpected '\(p.tokens[p.i].text)'")
        }
        paths = p.paths
    }

    /// The result for one document, and the fields that were missing where the expression needed them.
    public func evaluate(_ document: Document) -> (value: Bool, missing: [String]) {
        var missing: [String] = []
        let v = Self.eval(root, document, &missing)
        return (v, missing)
    }

    // MARK: - Evaluation

    private static func eval(_ node: Node, _ d: Document, _ missing: inout [String]) -> Bool {
        switch node {
        case .or(let a, let b): return eval(a, d, &missing) || eval(b, d, &missing)
        case .and(let a, let b): return eval(a, d, &missing) && eval(b, d, &missing)
        case .not(let a): return !eval(a, d, &missing)
        case .truthy(let o):
            guard let v = value(o, d, &missing) else { return false }
            switch v {
            case .bool(let b): return b
            case .number(let n): return n.doubleValue != 0
            case .string(let s): return !s.isEmpty
            case .array(let a): return !a.isEmpty
            case .object(let o): return !o.isEmpty
            case .null: return false
            }
        case .compare(let a, let op, let b):
            guard let x = value(a, d, &missing), let y = value(b, d, &missing) else { return false }
            if let u = x.doubleValue, let w = y.doubleValue {
                guard !u.isNaN, !w.isNaN else { return false }
                return compare(u, op, w)
            }
            if let u = x.stringValue, let w = y.stringValue { return compare(u, op, w) }
            if let u = x.boolValue, let w = y.boolValue {
                switch op {
                case .eq: return u == w
                case .ne: return u != w
                default: return false
                }
            }
            // A value of another type than the comparison needs counts as missing.
            if case .path(let p) = a, y.doubleValue != nil || y.stringValue != nil { note(p, &missing) }
            if case .path(let p) = b, x.doubleValue != nil || x.stringValue != nil { note(p, &missing) }
            return false
        case .member(let a, let list, let negated):
            guard let x = value(a, d, &missing) else { return false }
            let found: Bool
            if let items = x.arrayValue {
                found = items.contains { item in list.contains { same(item, $0) } }
            } else {
                found = list.contains { same(x, $0) }
            }
            return found != negated
        }
    }

    private static func note(_ path: String, _ missing: inout [String]) {
        if !missing.contains(path) { missing.append(path) }
    }

    private static func value(_ o: Operand, _ d: Document, _ missing: inout [String]) -> JSONValue? {
        switch o {
        case .literal(let v): return v
        case .path(let p):
            let v = p == "text" ? .string(d.text) : d.value(atPath: p)
            guard let v, v != .null else {
                note(p, &missing)
                return nil
            }
            return v
        }
    }

    private static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    private static func compare<T: Comparable>(_ a: T, _ op: Comparison, _ b: T) -> Bool {
        switch op {
        case .lt: return a < b
        case .le: return a <= b
        case .gt: return a > b
        case .ge: return a >= b
        case .eq: return a == b
        case .ne: return a != b
        }
    }

    // MARK: - Syntax

    /// A syntax error at a character position (0-based) of the expression.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let position: Int
        public let message: String
        public var description: String { "at character \(position + 1): \(message)" }
    }

    struct Token {
        enum Kind { case word, number, string, symbol }
        let kind: Kind
        let text: String
        let position: Int
    }

    static func tokenize(_ s: String) throws(SyntaxError) -> [Token] {
        let c = Array(s.unicodeScalars)
        var out: [Token] = []
        var i = 0
        func isWordStart(_ u: Unicode.Scalar) -> Bool { u.properties.isAlphabetic || u == "_" }
        func isWord(_ u: Unicode.Scalar) -> Bool {
            u.properties.isAlphabetic || u == "_" || u == "-" || u == "." || ("0"..."9").contains(u)
        }
        while i < c.count {
            let u = c[i]
            if u.properties.isWhitespace {
                i += 1
                continue
            }
            let start = i
            if isWordStart(u) {
                while i < c.count && isWord(c[i]) { i += 1 }
                out.append(Token(kind: .word, text: String(String.UnicodeScalarView(c[start..<i])), position: start))
            } else if ("0"..."9").contains(u)
                || ((u == "-" || u == "+" || u == ".") && i + 1 < c.count
                    && (("0"..."9").contains(c[i + 1]) || c[i + 1] == "."))
            {
                i += 1
                while i < c.count
                    && (("0"..."9").contains(c[i]) || c[i] == "." || c[i] == "e" || c[i] == "E"
                        || ((c[i] == "-" || c[i] == "+") && (c[i - 1] == "e" || c[i - 1] == "E")))
                {
                    i += 1
                }
                let text = String(String.UnicodeScalarView(c[start..<i]))
                guard Double(text) != nil else { throw SyntaxError(position: start, message: "bad number '\(text)'") }
                out.append(Token(kind: .number, text: text, position: start))
            } else if u == "'" || u == "\"" {
                i += 1
                var text = String.UnicodeScalarView()
                while i < c.count && c[i] != u {
                    if c[i] == "\\" && i + 1 < c.count { i += 1 }
                    text.append(c[i])
                    i += 1
                }
                guard i < c.count else { throw SyntaxError(position: start, message: "unterminated string") }
                i += 1
                out.append(Token(kind: .string, text: String(text), position: start))
            } else {
                let two = i + 1 < c.count ? String(String.UnicodeScalarView([u, c[i + 1]])) : ""
                if [">=", "<=", "==", "!=", "&&", "||"].contains(two) {
                    out.append(Token(kind: .symbol, text: two, position: start))
                    i += 2
                } else if "<>=!()[],".unicodeScalars.contains(u) {
                    out.append(Token(kind: .symbol, text: String(u), position: start))
                    i += 1
                } else {
                    throw SyntaxError(position: start, message: "unexpected character '\(u)'")
                }
            }
        }
        return out
    }

    struct Parser {
        let tokens: [Token]
        let source: String
        var i = 0
        var paths: [String] = []

        init(tokens: [Token], source: String) {
            self.tokens = tokens
            self.source = source
        }

        var peek: Token? { i < tokens.count ? tokens[i] : nil }

        func isKeyword(_ t: Token?, _ word: String) -> Bool {
            guard let t, t.kind == .word else { return false }
            return t.text.lowercased() == word
        }

        func isSymbol(_ t: Token?, _ s: String...) -> Bool {
            guard let t, t.kind == .symbol else { return false }
            return s.contains(t.text)
        }

        var end: Int { source.unicodeScalars.count }

        mutating func expression() throws(SyntaxError) -> Node {
            var node = try conjunction()
            while isKeyword(peek, "or") || isSymbol(peek, "||") {
                i += 1
                node = .or(node, try conjunction())
            }
            return node
        }

        mutating func conjunction() throws(SyntaxError) -> Node {
            var node = try unary()
            while isKeyword(peek, "and") || isSymbol(peek, "&&") {
                i += 1
                node = .and(node, try unary())
            }
            return node
        }

        mutating func unary() throws(SyntaxError) -> Node {
            if isKeyword(peek, "not") || isSymbol(peek, "!") {
                i += 1
                return .not(try unary())
            }
            return try primary()
        }

        mutating func primary() throws(SyntaxError) -> Node {
            if isSymbol(peek, "(") {
                i += 1
                let node = try expression()
                guard isSymbol(peek, ")") else {
                    throw SyntaxError(position: peek?.position ?? end, message: "expected ')'")
                }
                i += 1
                return node
            }
            let left = try operand()
            if let t = peek, t.kind == .symbol, let op = Self.comparison(t.text) {
                i += 1
                return .compare(left, op, try operand())
            }
            if isKeyword(peek, "in") {
                i += 1
                return .member(left, try list(), negated: false)
            }
            if isKeyword(peek, "not"), i + 1 < tokens.count, isKeyword(tokens[i + 1], "in") {
                i += 2
                return .member(left, try list(), negated: true)
            }
            return .truthy(left)
        }

        static func comparison(_ s: String) -> Comparison? {
            switch s {
            case "<": return .lt
            case "<=": return .le
            case ">": return .gt
            case ">=": return .ge
            case "==", "=": return .eq
            case "!=": return .ne
            default: return nil
            }
        }

        mutating func operand() throws(SyntaxError) -> Operand {
            guard let t = peek else { throw SyntaxError(position: end, message: "expression ends too early") }
            switch t.kind {
            case .number:
                i += 1
                return .literal(.number(JSONNumber(Double(t.text) ?? 0)))
            case .string:
                i += 1
                return .literal(.string(t.text))
            case .word:
                let lower = t.text.lowercased()
                if lower == "true" || lower == "false" {
                    i += 1
                    return .literal(.bool(lower == "true"))
                }
                if ["and", "or", "not", "in"].contains(lower) {
                    throw SyntaxError(position: t.position, message: "expected a field or a value, found '\(t.text)'")
                }
                guard !t.text.hasSuffix("."), !t.text.contains("..") else {
                    throw SyntaxError(position: t.position, message: "bad field name '\(t.text)'")
                }
                i += 1
                if !paths.contains(t.text) { paths.append(t.text) }
                return .path(t.text)
            case .symbol:
                throw SyntaxError(position: t.position, message: "expected a field or a value, found '\(t.text)'")
            }
        }

        mutating func list() throws(SyntaxError) -> [JSONValue] {
            guard isSymbol(peek, "[") else {
                throw SyntaxError(position: peek?.position ?? end, message: "expected '[' after 'in'")
            }
            i += 1
            var items: [JSONValue] = []
            while let t = peek, !isSymbol(t, "]") {
                switch t.kind {
                case .number: items.append(.number(JSONNumber(Double(t.text) ?? 0)))
                case .string, .word: items.append(.string(t.text))
                case .symbol: throw SyntaxError(position: t.position, message: "expected a list item")
                }
                i += 1
                if isSymbol(peek, ",") {
                    i += 1
                } else if !isSymbol(peek, "]") {
                    throw SyntaxError(position: peek?.position ?? end, message: "expected ',' or ']'")
                }
            }
            guard isSymbol(peek, "]") else { throw SyntaxError(position: end, message: "unterminated list") }
            i += 1
            return items
        }
    }
}
