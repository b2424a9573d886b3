import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

@Suite struct URLFilterTests {
    let dir = TemporaryDirectory()

    func list(_ name: String, _ lines: [String]) throws -> JSONValue {
        let p = dir.file(name)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: p))
        return [.string(p)]
    }

    func params() throws -> [String: JSONValue] {
        [
            "block_domains": try list("domains", ["# comment", "bad.co.uk", "evil.example.com"]),
            "block_urls": try list("urls", ["https://ok.org/exact/page"]),
            "banned_words": try list("banned", ["casino"]),
            "soft_banned_words": try list("soft", ["free", "win", "prize"]),
            "banned_subwords": try list("sub", ["hotpocket"]),
        ]
    }

    @Test(arguments: [
        ("https://news.bad.co.uk/page", "domain"),
        ("http://evil.example.com:8080/x", "subdomain"),
        ("https://ok.org/exact/page", "url"),
        ("https://ok.org/best-casino-online", "banned_word"),
        ("https://ok.org/free-prize", "soft_banned_words"),
        ("https://ok.org/Hot-Pocket.html", "banned_subword"),
    ])
    func drops(url: String, expected: String) throws {
        let r = try run("url_filter", try params(), text: "x", fields: [("url", .string(url))])
        #expect(rule(r.decision) == expected, "\(url): \(r.decision)")
    }

    @Test(arguments: [
        "https://good.co.uk/bad.co.uk", "https://ok.org/CASINO", "https://ok.org/free", "https://192.168.1.1/x",
    ])
    func keeps(url: String) throws {
        #expect(
            try run("url_filter", try params(), text: "x", fields: [("metadata", ["url": .string(url)])]).decision
                == .keep)
    }

    @Test func publicSuffixList() throws {
        let psl = try PublicSuffixList(path: PublicSuffixList.defaultPath, includePrivate: false)
        #expect(psl.extract("https://news.bbc.co.uk/a").registeredDomain == "bbc.co.uk")
        #expect(psl.extract("https://news.bbc.co.uk/a").fqdn == "news.bbc.co.uk")
        #expect(psl.extract("user:pw@www.example.com:80/x").registeredDomain == "example.com")
        #expect(psl.extract("http://10.0.0.1/").domain == "10.0.0.1")
        #expect(psl.extract("http://localhost/").registeredDomain == "")
    }
}

@Suite struct PIITests {
    /// Expected outputs from datatrove's PIIFormatter (a new formatter per document).
    @Test(arguments: [
        ("contact john.doe@example.com today", "contact email@example.com today"),
        ("a..b@x.com and -abc@x.com", "a..email@example.com and -firstname.lastname@example.org"),
        ("two: a@b.co, c@d.org.", "two: email@example.com, firstname.lastname@example.org."),
        ("dns 8.8.8.8 and lan 192.168.1.1 and 01.2.3.4", "dns 22.214.171.124 and lan 192.168.1.1 and 01.2.3.4"),
        ("ip 1.2.3.456 and 100.64.0.1", "ip 22.214.171.1246 and 100.64.0.1"),
        ("no pii here", "no pii here"),
    ])
    func masking(text: String, expected: String) throws {
        let r = try run("pii", text: text)
        #expect(r.decision == .keep)
        #expect(r.document.text == expected)
    }

    @Test func countsReplacements() throws {
        let r = try run("pii", text: "x@y.com 8.8.4.4 z@w.net")
        #expect(r.context.stats.counters["emails_masked"] == 2)
        #expect(r.context.stats.counters["ips_masked"] == 1)
    }
}

@Suite struct DecontaminationTests {
    @Test func dropsDocumentsWithABenchmarkNGram() throws {
        let dir = TemporaryDirectory()
        let bench = dir.file("gsm-mini.jsonl")
        let item =
            #"{"question":"Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.","answer":"How many clips did Natalia sell altogether in April and May? 72"}"#
        try Data((item + "\n").utf8).write(to: URL(fileURLWithPath: bench))
        let params: [String: JSONValue] = ["benchmarks": [.string(bench)], "n": 8]
        let leaked = "Homework: NATALIA sold clips to 51 of her friends in April, and then she sold half!"
        let r = try run("decontaminate", params, text: leaked)
        #expect(rule(r.decision) == "benchmark_overlap", "numbers, case and punctuation are normalised: \(r.decision)")
        if case .drop(_, let detail) = r.decision {
            #expect(detail?.objectValue?["benchmark"] == "gsm-mini")
            #expect(detail?.objectValue?["ngram"] == "natalia sold clips to 0 of her friends")
        }
        #expect(try run("decontaminate", params, text: "Natalia sold apples to friends in June.").decision == .keep)
    }

    @Test func missingBenchmarkIsAParameterError() {
        #expect(throws: ParameterError.self) {
            try run("decontaminate", ["benchmarks": ["/nonexistent.jsonl"]], text: "x")
        }
    }

    @Test func simplifyMatchesDatatrove() {
        // simplify_text("Héllo, Wörld! 1,234.5 x") in datatrove.
        #expect(SimplifiedText.of("Héllo, Wörld! 1,234.5 x") == "hello world 0 0 x")
    }
}
