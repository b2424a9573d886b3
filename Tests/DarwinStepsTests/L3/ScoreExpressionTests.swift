import DarwinCore
import Testing

@testable import DarwinSteps

@Suite struct ScoreExpressionTests {
    let doc: Document

    init() throws {
        doc = try Document.parse(
            #"{"id":"a","text":"hello","source":"web","metadata":{"quality":{"hq":0.42,"lq":0.58},"domain":"math","tags":["x","code"],"flag":true,"n":3}}"#
        )
    }

    @Test(arguments: [
        ("metadata.quality.hq >= 0.3", true),
        ("metadata.quality.hq >= 0.42", true),
        ("metadata.quality.hq > 0.42", false),
        ("metadata.quality.hq<0.5", true),
        ("metadata.quality.hq == 0.42", true),
        ("metadata.quality.hq != 0.42", false),
        ("metadata.domain in [math, code]", true),
        ("metadata.domain in ['physics', \"code\"]", false),
        ("metadata.domain not in [physics]", true),
        ("metadata.tags in [code]", true),
        ("metadata.n in [1, 3.0]", true),
        ("source == 'web' and metadata.quality.hq > 0.4", true),
        ("source == 'news' or metadata.quality.hq > 0.4", true),
        ("not metadata.quality.hq > 0.4", false),
        ("!(metadata.quality.hq > 0.4) || metadata.flag", true),
        ("source == 'news' or metadata.quality.hq > 0.4 and metadata.domain == 'code'", false),
        ("(source == 'news' or metadata.quality.hq > 0.4) and metadata.domain == 'math'", true),
        ("metadata.flag", true),
        ("metadata.flag == false", false),
        ("metadata.quality.lq - 1 < 0", false),
    ])
    func evaluates(expression: String, expected: Bool) throws {
        if expression.contains(" - ") {
            // Arithmetic is not part of the language: a clear syntax error, not a silent false.
            #expect(throws: ScoreExpression.SyntaxError.self) { try ScoreExpression(expression) }
            return
        }
        let e = try ScoreExpression(expression)
        #expect(e.evaluate(doc).value == expected, "\(expression)")
        #expect(e.evaluate(doc).missing.isEmpty)
    }

    @Test func reportsMissingAndMistypedFields() throws {
        let e = try ScoreExpression("metadata.edu >= 3 or metadata.domain > 2")
        let r = e.evaluate(doc)
        #expect(r.value == false)
        #expect(r.missing == ["metadata.edu", "metadata.domain"])
        #expect(e.paths == ["metadata.edu", "metadata.domain"])
    }

    @Test(arguments: [
        ("metadata.x >=", 14, "expression ends too early"),
        ("metadata.x in math", 15, "expected '[' after 'in'"),
        ("(metadata.x > 1", 16, "expected ')'"),
        ("metadata.x > 1 extra", 16, "unexpected 'extra'"),
        ("metadata.x > 'open", 14, "unterminated string"),
        ("metadata.x ~ 1", 12, "unexpected character '~'"),
    ])
    func syntaxErrorsNameThePosition(expression: String, position: Int, message: String) {
        do {
            _ = try ScoreExpression(expression)
            Issue.record("parsed: \(expression)")
        } catch {
            #expect(error.position + 1 == position, "\(expression): \(error)")
            #expect(error.message == message)
        }
    }
}
