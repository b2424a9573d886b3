import DarwinCore
import Foundation
import Testing

@testable import DarwinSteps

/// html_extract: every structure kind comes out as Markdown-like text; boilerplate does not; bad pages are
/// handled with a reason.
@Suite struct HTMLExtractorTests {
    /// A page with the usual furniture around an article.
    func page(_ article: String, title: String = "A page") -> String {
        """
        <!doctype html><html><head><title>\(title)</title><style>p { color: red }</style>
        <script>var tracking = "do not keep me";</script></head><body>
        <header id="site-header"><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About us</a></header>
        <nav class="main-menu"><ul><li><a href="/a">Politics</a></li><li><a href="/b">Sports</a></li>
        <li><a href="/c">Culture</a></li></ul></nav>
        <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
        <main><article>\(article)</article></main>
        <aside class="sidebar"><h3>Most read</h3><ul><li><a href="/x">Another story everyone read</a></li>
        <li><a href="/y">Yet another story</a></li></ul></aside>
        <div id="comments" class="comments"><p>First comment: I disagree with this article entirely, for many
        reasons that I will not list here.</p></div>
        <footer><p>© 2026 Example Media. Impressum. Datenschutz.</p></footer>
        </body></html>
        """
    }

    let prose = """
        <p>The committee met on Tuesday to discuss the budget, and after a long debate it approved the plan with \
        a narrow majority of seven votes to five.</p>
        <p>Critics said the plan ignores the rising costs of maintenance, while supporters argued that it finally \
        funds the repairs that were postponed for a decade.</p>
        """

    func extract(_ html: String, _ params: [String: JSONValue] = [:]) throws -> (String, Decision, Document) {
        let r = try run("html_extract", params, text: html)
        return (r.document.text, r.decision, r.document)
    }

    @Test func keepsTheArticleAndDropsTheFurniture() throws {
        let (text, decision, doc) = try extract(page("<h1>Budget approved</h1>" + prose))
        #expect(decision == .keep)
        #expect(text.hasPrefix("# Budget approved\n\nThe committee met on Tuesday"))
        #expect(text.contains("seven votes to five.\n\nCritics said"))
        for junk in [
            "Politics", "cookies", "Most read", "First comment", "Impressum", "tracking", "color: red", "Home",
        ] {
            #expect(!text.contains(junk), "\(junk) is boilerplate")
        }
        #expect(doc.value(atPath: "metadata.title") == "A page")
        #expect(doc.value(atPath: "metadata.content_type") == "text/markdown")
        #expect(
            doc.value(atPath: "metadata.extraction.html_bytes")?.intValue
                == page("<h1>Budget approved</h1>" + prose).utf8.count)
    }

    @Test func shortBlocksAfterTheArticleAreItsTail() throws {
        let (text, _, _) = try extract(
            page(prose + "<p>Share this article</p><h4>You may also like</h4><p>12.12.2022, 08:30</p>"))
        #expect(text.hasSuffix("funds the repairs that were postponed for a decade."))
        let (head, _, _) = try extract(page("<p>12.12.2022 · Politics</p><h1>Budget approved</h1>" + prose))
        #expect(head.hasPrefix("# Budget approved\n\nThe committee met"))
        let (recall, _, _) = try extract(
            page(prose + "<p>Share this article</p>"), ["favor": "recall"])
        #expect(recall.hasSuffix("Share this article"))
    }

    @Test func shortParagraphsThatAreALinkGo() throws {
        let (text, _, _) = try extract(
            page(prose + "<p>Read also: <a href='/other'>The council's other budget fight, explained</a></p>" + prose))
        #expect(!text.contains("Read also"))
        #expect(text.components(separatedBy: "The committee met").count == 3, "both copies of the prose stay")
    }

    @Test func headingsAndLists() throws {
        let (text, _, _) = try extract(
            page(
                prose
                    + """
                    <h2>Main points</h2><ul><li>First point</li><li>Second point<ul><li>Nested detail</li></ul></li></ul>
                    <h3>Steps</h3><ol><li>Open the file</li><li>Save it</li></ol>
                    """))
        #expect(text.contains("## Main points\n\n- First point\n- Second point\n  - Nested detail"))
        #expect(text.contains("### Steps\n\n1. Open the file\n2. Save it"))
    }

    @Test func tablesBecomePipeTables() throws {
        let (text, _, doc) = try extract(
            page(
                prose
                    + """
                    <table><thead><tr><th>Year</th><th>Votes | share</th></tr></thead>
                    <tbody><tr><td>2024</td><td>7</td></tr><tr><td>2025</td><td>5</td></tr></tbody></table>
                    """))
        #expect(text.contains("| Year | Votes \\| share |\n| --- | --- |\n| 2024 | 7 |\n| 2025 | 5 |"))
        #expect(doc.value(atPath: "metadata.extraction.tables") == true)
        let (without, _, _) = try extract(
            page(prose + "<table><tr><td>2024</td><td>7</td></tr></table>"), ["tables": false])
        #expect(!without.contains("2024"))
    }

    @Test func codeKeepsItsWhitespace() throws {
        let (text, _, doc) = try extract(
            page(
                prose
                    + """
                    <p>Run <code>make test</code> first.</p>
                    <pre><code class="language-python">def f(x):
                        if x:
                            return  1
                    </code></pre>
                    """))
        #expect(text.contains("Run `make test` first."))
        let (spaced, _, _) = try extract(
            page(prose + "<pre>first()\n\n\n\nsecond()</pre><p>Print recipe</p>" + prose))
        #expect(spaced.contains("```\nfirst()\n\n\n\nsecond()\n```"), "blank lines inside code stay")
        #expect(!spaced.contains("Print recipe"), "a lone widget label goes")
        #expect(text.contains("```python\ndef f(x):\n    if x:\n        return  1\n```"))
        #expect(doc.value(atPath: "metadata.extraction.code") == true)
    }

    @Test func mathBecomesLaTeX() throws {
        let (text, _, doc) = try extract(
            page(
                prose
                    + """
                    <p>Energy is <math alttext="E = mc^2"><mi>E</mi><mo>=</mo><mi>m</mi><msup><mi>c</mi><mn>2</mn></msup></math> as known.</p>
                    <p>The sum <math><semantics><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow>
                    <annotation encoding="application/x-tex">a + b</annotation></semantics></math> is simple.</p>
                    <p>Inline <script type="math/tex">\\alpha^2</script> and display:</p>
                    <script type="math/tex; mode=display">\\int_0^1 x\\,dx = \\frac{1}{2}</script>
                    """))
        #expect(text.contains("Energy is $E = mc^2$ as known."))
        #expect(text.contains("The sum $a + b$ is simple."))
        #expect(text.contains("Inline $\\alpha^2$ and display:"))
        #expect(text.contains("$$\\int_0^1 x\\,dx = \\frac{1}{2}$$"))
        #expect(doc.value(atPath: "metadata.extraction.math") == true)
    }

    @Test func linksAndImagesOptions() throws {
        let html = page(
            prose + "<p>Read the <a href='/r'>full report</a> here. <img src='a.png' alt='A chart of votes'></p>"
                + prose)
        let (with, _, _) = try extract(html)
        #expect(with.contains("Read the full report here.") && !with.contains("chart"))
        let (spaced, _, _) = try extract(page(prose + "<p><b>alpha</b> <i>beta</i> <span>gamma</span>.</p>" + prose))
        #expect(spaced.contains("alpha beta gamma."), "spaces between inline elements stay")
        let (noLinks, _, _) = try extract(html, ["links": false, "images": true])
        #expect(noLinks.contains("Read the here.") || noLinks.contains("Read the  here."))
        #expect(noLinks.contains("![A chart of votes]"))
    }

    @Test func nonLatinScriptsAndMalformedMarkup() throws {
        // Unclosed paragraphs and a stray end tag: libxml2 recovers; Thai and Chinese text survive as written.
        let thai = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ ผู้คนอ่านหนังสือในห้องสมุดทุกวันและเรียนรู้สิ่งใหม่ๆ อยู่เสมอ"
        let zh = "我们今天去北京大学参观，然后在图书馆里读书。下午我们去了博物馆，看到了很多古代的文物和艺术品。"
        let (text, decision, _) = try extract(page("<p>\(thai)<p>\(zh)</span></div>"))
        #expect(decision == .keep)
        #expect(text.contains(thai) && text.contains(zh))
        // The text is UTF-8 already (decoded at L0): a <meta> naming another charset does not re-decode it.
        let (latin, _, _) = try extract(
            "<html><head><meta charset='iso-8859-1'></head><body>"
                + page(
                    "<p>Un café crème, s’il vous plaît, avec des croissants chauds et un journal du matin.</p>" + prose)
                + "</body></html>")
        #expect(latin.contains("Un café crème, s’il vous plaît"))
    }

    @Test func badPagesGetAReason() throws {
        #expect(rule(try extract("<html><body><script>x()</script></body></html>").1) == "no_text")
        #expect(rule(try extract("<html>\u{0}\u{1}\u{2}\u{3}binary\u{0}\u{0}</html>").1) == "binary_content")
        // Oversized: cut before parsing, counted.
        let big = page(
            prose + String(repeating: "<p>More text of the article, repeated to make it large.</p>", count: 2000))
        let r = try run("html_extract", ["max_bytes": "20KB"], text: big)
        #expect(r.decision == .keep)
        #expect(r.context.stats.counters["truncated"] == 1)
        #expect(r.document.value(atPath: "metadata.extraction.truncated") == true)
        // Deeper than the cap: read down to the cap, no crash, counted.
        let deep =
            "<html><body><p>" + prose + "</p>" + String(repeating: "<div>", count: 100_000) + "deep"
            + String(repeating: "</div>", count: 100_000) + "</body></html>"
        let d = try run("html_extract", ["max_depth": 64], text: deep)
        #expect(d.decision == .keep)
        #expect(d.context.stats.counters["depth_capped"] == 1)
        #expect(!d.document.text.contains("deep"))
        // Not HTML: left alone.
        let plain = try run("html_extract", [:], text: "Just a line of text.")
        #expect(plain.decision == .keep && plain.document.text == "Just a line of text.")
        #expect(plain.context.stats.counters["not_html"] == 1)
    }
}

/// normalize_text: each repair on its own, and code blocks untouched.
@Suite struct TextNormalizerTests {
    func normalize(_ text: String, _ params: [String: JSONValue] = [:]) throws -> (String, StepContext) {
        let r = try run("normalize_text", params, text: text)
        return (r.document.text, r.context)
    }

    @Test func repairsMojibake() throws {
        #expect(try normalize("cafÃ© crÃ¨me").0 == "café crème")
        #expect(try normalize("Itâ€™s â€œquotedâ€\u{9D}").0 == "It’s “quoted”")
        // Twice encoded.
        #expect(try normalize("cafÃƒÂ©").0 == "café")
        // Real Latin-1 text stays.
        #expect(try normalize("Ã la carte: 5 £ per Ø").0 == "Ã la carte: 5 £ per Ø")
        #expect(try normalize("cafÃ©", ["mojibake": false]).0 == "cafÃ©")
    }

    @Test func controlsNFCAndWhitespace() throws {
        let (t, ctx) = try normalize("a\u{0}b\u{7}c\r\nd\u{85}e\u{FEFF}f")
        #expect(t == "abc\ndef")
        #expect(ctx.stats.counters["control_characters_removed"] == 1)
        #expect(try normalize("e\u{301}te\u{301}").0 == "été")
        #expect(try normalize("e\u{301}", ["nfc": false]).0 == "e\u{301}")
        let text =
            "Title  with   spaces   \n\n\n\nPara\t\ttext\n\n```\ncode   with    spaces\n\n\n  indented  \n```\n\n\n\nEnd"
        #expect(
            try normalize(text).0
                == "Title with spaces\n\nPara text\n\n```\ncode   with    spaces\n\n\n  indented  \n```\n\nEnd")
    }
}
