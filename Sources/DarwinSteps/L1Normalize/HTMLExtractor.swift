import CDarwinHTML
import DarwinCore

/// Main-content extraction: the HTML in a document's text becomes clean Markdown-like text.
///
/// libxml2's HTML parser builds the tree; boilerplate (navigation, headers, footers, sidebars, cookie and
/// share widgets, comment sections, scripts, styles, hidden elements) is cut by tag, ARIA role and class
/// words; the article is the container whose paragraphs score highest (longer text, more commas, fewer
/// links), with its siblings that read like content. The text keeps headings (`#`), paragraphs, lists,
/// pipe tables, fenced code blocks and math as LaTeX (`$…$`, `$$…$$`, from MathML's alttext or TeX
/// annotation, or `<script type="math/tex">`).
struct HTMLExtractor: StreamingStep {
    var options: dh_options
    let maxBytes: Int

    static let descriptor = StepDescriptor(
        id: "html_extract", version: 2, levels: [.l1],
        summary:
            "extract the main content of HTML documents as Markdown-like text (headings, lists, tables, code, math); boilerplate removed",
        reference: "libxml2 HTML parser; main-content scoring in the manner of Readability and trafilatura",
        kind: .streaming,
        parameters: [
            ParameterSpec("links", .boolean, default: true, "keep the text of links"),
            ParameterSpec("tables", .boolean, default: true, "keep tables (data tables as pipe tables)"),
            ParameterSpec("images", .boolean, default: false, "keep images' alt text as ![alt]"),
            ParameterSpec(
                "favor", .choice(["balanced", "precision", "recall"]), default: "balanced",
                "precision: stricter on link lists and neighbouring blocks; recall: keeps more around the article"),
            ParameterSpec(
                "max_bytes", .byteSize, default: "16MiB",
                "larger pages are cut at this size before parsing (counted as truncated)"),
            ParameterSpec(
                "max_depth", .integer(min: 16, max: 4096), default: 512,
                "elements nested deeper are not read (counted as depth_capped)"),
        ],
        histograms: [
            HistogramSpec(
                name: "text_share", lower: 0, upper: 1, bins: 10, scale: .linear,
                summary: "extracted text bytes / HTML bytes")
        ],
        examples: [
            StepExample(
                #"{"id":"a","text":"<html><body><nav><a href='/'>Home</a> <a href='/b'>Blog</a></nav><article><h1>Title</h1><p>A first paragraph of real text, long enough to be content, with a comma.</p></article></body></html>"}"#,
                expect: .keep),
            StepExample(
                #"{"id":"b","text":"<html><body><script>var x = 1;</script></body></html>"}"#,
                expect: .drop(rule: "no_text")),
            StepExample(ExampleText.document("c", examplePage), expect: .keep),
            StepExample(
                ExampleText.document("d", examplePage), parameters: ["favor": "precision", "tables": false],
                expect: .keep),
            StepExample(
                ExampleText.document("e", exampleFigure), parameters: ["images": true, "links": false], expect: .keep),
            StepExample(ExampleText.document("f", "Plain text, not a web page."), expect: .keep),
        ],
        make: { p in .streaming(try HTMLExtractor(p)) })

    /// A documentation page: a header with navigation, a sidebar, a footer and a script around an article with
    /// headings, paragraphs, a list, a table and code.
    static let examplePage = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Installing the toolkit – Example Docs</title></head>
        <body>
        <header><a href="/">Example Docs</a>
        <nav><ul><li><a href="/guide/">Guide</a></li><li><a href="/api/">API</a></li>
        <li><a href="/blog/">Blog</a></li></ul></nav></header>
        <main>
        <article>
        <h1>Installing the toolkit</h1>
        <p>The toolkit runs on Linux and macOS. This page explains how to install it from the release archive, how
        to check the installation, and what to do when a step fails.</p>
        <h2>Requirements</h2>
        <ul>
        <li>A C compiler, such as GCC 12 or Clang 15</li>
        <li>Python 3.10 or newer, with pip</li>
        <li>About 200 MB of free disk space</li>
        </ul>
        <h2>Supported releases</h2>
        <table>
        <thead><tr><th>Release</th><th>Published</th><th>Supported until</th></tr></thead>
        <tbody><tr><td>2.4</td><td>March 2024</td><td>March 2026</td></tr>
        <tr><td>2.3</td><td>June 2023</td><td>June 2025</td></tr></tbody>
        </table>
        <h2>Installing</h2>
        <p>Download the archive, unpack it, and run the installer from the new folder:</p>
        <pre><code>tar xf toolkit-2.4.tar.gz
        cd toolkit-2.4
        ./install --prefix "$HOME/.local"</code></pre>
        <p>When the installer has finished, run <code>toolkit --version</code> to check that the new release is the
        one on your path. If the build step fails, see <a href="/faq/#build">the build questions</a>.</p>
        </article>
        <aside class="sidebar"><h3>Related pages</h3>
        <ul><li><a href="/upgrade/">Upgrading</a></li><li><a href="/faq/">FAQ</a></li></ul></aside>
        </main>
        <footer><p>© 2024 Example Project. All rights reserved.</p>
        <p><a href="/privacy/">Privacy</a> · <a href="/terms/">Terms</a></p></footer>
        <script>window.analytics = {site: 42};</script>
        </body></html>
        """

    /// An article with a formula in MathML and a figure.
    static let exampleFigure = """
        <html><body><article><h1>Circles</h1>
        <p>The area of a circle of radius r is <math alttext="\\pi r^2"><mi>π</mi><msup><mi>r</mi><mn>2</mn></msup></math>,
        as <a href="/archimedes/">Archimedes</a> showed with inscribed and circumscribed polygons.</p>
        <figure><img src="/circle.png" alt="A circle with its radius drawn"><figcaption>A circle and its radius.
        </figcaption></figure>
        <p>Doubling the radius therefore multiplies the area by four, whatever the size of the circle.</p>
        </article></body></html>
        """

    init(_ p: Parameters) throws {
        let favor: Int32 =
            switch p.string("favor") {
            case "precision": 1
            case "recall": 2
            default: 0
            }
        options = dh_options(
            keep_links: p.bool("links") ? 1 : 0, keep_tables: p.bool("tables") ? 1 : 0,
            keep_images: p.bool("images") ? 1 : 0, favor: favor, max_depth: Int32(p.int("max_depth")))
        maxBytes = p.int("max_bytes")
    }

    /// Whether a document's text is HTML: its content type (`declared`) says so, or (without one) it starts like
    /// markup.
    static func isHTML(_ document: Document, declared: String?) -> Bool {
        if let type = declared { return type.contains("html") }
        var text = document.text.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = text.dropFirst(3) }
        return text.first == UInt8(ascii: "<")
    }

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let declared = document.value(atPath: "metadata.content_type")?.stringValue
        context.count("content_type." + (declared ?? "none"))
        guard Self.isHTML(document, declared: declared) else {
            context.count("not_html")
            return .keep
        }
        // The extractor reads the text's UTF-8 where it is, cut at a character boundary past max_bytes.
        var html = document.text
        var result = dh_result()
        var options = self.options
        var binary = false
        let bytesIn = html.utf8.count
        let failure = html.withUTF8 { utf8 -> Int32 in
            var end = utf8.count
            if end > maxBytes {
                end = maxBytes
                while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
            }
            let page = UnsafeBufferPointer(rebasing: utf8[..<end])
            if Self.looksBinary(page) {
                binary = true
                return 0
            }
            return page.withMemoryRebound(to: CChar.self) { dh_extract($0.baseAddress, $0.count, &options, &result) }
        }
        if bytesIn > maxBytes { context.count("truncated") }
        if binary { return .drop(rule: "binary_content") }
        defer { dh_result_free(&result) }
        if result.depth_capped != 0 { context.count("depth_capped") }
        guard failure == 0, let text = result.text else {
            let rule =
                switch Int(failure) {
                case 1: "parse_failed"
                case 2: "no_text"
                default: "boilerplate_only"
                }
            return .drop(rule: rule, detail: ["html_bytes": .number(JSONNumber(bytesIn))])
        }
        let extracted = String(
            decoding: UnsafeRawBufferPointer(start: text, count: result.length).bindMemory(to: UInt8.self),
            as: UTF8.self)
        context.count("extracted")
        context.count("html_bytes", by: bytesIn)
        context.count("text_bytes", by: Int(result.length))
        if result.has_math != 0 { context.count("with_math") }
        if result.has_code != 0 { context.count("with_code") }
        if result.has_table != 0 { context.count("with_tables") }
        context.observe("text_share", bytesIn > 0 ? Double(result.length) / Double(bytesIn) : 0)
        document.text = extracted
        var facts = JSONObject([
            (key: "html_bytes", value: .number(JSONNumber(bytesIn))),
            (key: "text_bytes", value: .number(JSONNumber(Int(result.length)))),
        ])
        if result.has_math != 0 { facts["math"] = .bool(true) }
        if result.has_code != 0 { facts["code"] = .bool(true) }
        if result.has_table != 0 { facts["tables"] = .bool(true) }
        if bytesIn > maxBytes { facts["truncated"] = .bool(true) }
        if result.depth_capped != 0 { facts["depth_capped"] = .bool(true) }
        document.setValue(.object(facts), atPath: "metadata.extraction")
        if let t = result.title, document.value(atPath: "metadata.title") == nil {
            let title = String(cString: t)
            if !title.isEmpty { document.setValue(.string(title), atPath: "metadata.title") }
        }
        document.setValue(.string("text/markdown"), atPath: "metadata.content_type")
        return .keep
    }

    /// NUL bytes or many control characters in the first 4 KB: not a web page.
    static func looksBinary(_ html: UnsafeBufferPointer<UInt8>) -> Bool {
        let head = html.prefix(4096)
        var controls = 0
        for b in head {
            if b == 0 { return true }
            if b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D && b != 0x0C { controls += 1 }
        }
        return controls * 10 > head.count
    }
}
