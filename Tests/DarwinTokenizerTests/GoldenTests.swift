import DarwinCore
import DarwinTestSupport
import DarwinTokenizer
import Foundation
import Testing

/// darwin's ids against those the `tokenizers` library gave for the edge cases of
/// `scripts/tokenizers/edge_cases.py` (emoji, combining marks, CJK, right-to-left text, whitespace runs,
/// special-token strings…), for every tokenizer `scripts/fetch-tokenizers` fetches; `make-golden` wrote them.
@Suite struct GoldenTests {
    struct Case {
        var tokenizer: String
        var text: String
        var ids: [UInt32]
        var special: [UInt32]
    }

    /// The sha256 of the tokenizer.json each tokenizer's cases were made with (the header lines).
    static func hashes() throws -> [String: String] {
        let text = try String(
            contentsOfFile: Repository.root + "/Tests/Fixtures/tokenizers/golden.jsonl", encoding: .utf8)
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let o = try JSONValue.parse(String(line)).objectValue
            if let name = o?["tokenizer"]?.stringValue, let sha = o?["sha256"]?.stringValue { out[name] = sha }
        }
        return out
    }

    static func cases() throws -> [Case] {
        let path = Repository.root + "/Tests/Fixtures/tokenizers/golden.jsonl"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var out: [Case] = []
        for line in text.split(separator: "\n") {
            let v = try JSONValue.parse(String(line))
            guard let o = v.objectValue, let name = o["tokenizer"]?.stringValue, let t = o["text"]?.stringValue,
                let ids = o["ids"]?.arrayValue, let special = o["ids_special"]?.arrayValue
            else { continue }
            out.append(
                Case(
                    tokenizer: name, text: t, ids: ids.compactMap { $0.intValue.map(UInt32.init) },
                    special: special.compactMap { $0.intValue.map(UInt32.init) }))
        }
        return out
    }

    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Tokenizer(contentsOf: Repository.root + "/.cache/tokenizers/\(name)/tokenizer.json")
    }

    @Test(arguments: [
        "qwen2.5", "llama3", "deepseek-v3", "deepseek-llm", "glm4", "jiutian-unigram", "mistral-v1", "unigram-trained",
    ])
    func idsAreTheLibrarys(_ name: String) throws {
        let cases = try Self.cases().filter { $0.tokenizer == name }
        #expect(cases.count >= 40, "golden cases for \(name)")
        // The cases hold for the file they were made with: the one scripts/fetch-tokenizers fetched.
        let file = Repository.root + "/.cache/tokenizers/\(name)/tokenizer.json"
        let sha = String(decoding: try Process.output("sha256sum", [file]), as: UTF8.self).prefix(64)
        try #require(
            String(sha) == (try Self.hashes()[name]),
            "\(file) is not the tokenizer.json the golden cases were made with: run scripts/tokenizers/make-golden")
        let encoder = try Self.tokenizer(name).makeEncoder()
        for c in cases {
            let ids = try encoder.encode(c.text)
            #expect(ids == c.ids, "\(name): \(c.text.debugDescription.prefix(80))")
            let special = try encoder.encode(c.text, addSpecialTokens: true)
            #expect(special == c.special, "\(name) with special tokens: \(c.text.debugDescription.prefix(80))")
        }
    }

    /// Tokens are compared as bytes: "é" precomposed and "e" + U+0301 are different tokens, though Swift calls
    /// the two strings equal.
    @Test func canonicallyEquivalentTextsKeepTheirOwnTokens() throws {
        let encoder = try Self.tokenizer("llama3").makeEncoder()
        let composed = try encoder.encode("caf\u{E9}")
        let decomposed = try encoder.encode("cafe\u{301}")
        #expect(composed != decomposed)
    }

    @Test func aBrokenFileIsNamedInItsError() throws {
        let dir = TemporaryDirectory("darwin-tokenizer")
        let path = dir.file("tokenizer.json")
        try Data(#"{"model": {"type": "WordPiece", "vocab": {}}}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TokenizerError.self) { try Tokenizer(contentsOf: path) }
        do {
            _ = try Tokenizer(contentsOf: path)
        } catch {
            #expect(error.description.contains(path) && error.description.contains("WordPiece"), "\(error)")
        }
        try Data(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        do {
            _ = try Tokenizer(contentsOf: path)
            Issue.record("a merge of a token not in the vocabulary was accepted")
        } catch {
            #expect(error.description.contains("merges[0]"), "\(error)")
        }
    }
}

/// Small tokenizers made with `tokenizers` itself (`scripts/tokenizers/make-crafted.py`) for the places where
/// its rules are easy to get wrong: Rust's per-character lowercasing (no final sigma), Rust's `\w` in the
/// Whitespace pre-tokenizer, BERT's accent stripping (non-spacing marks only), Metaspace's `first` scheme
/// after a Replace or a split, an `rstrip` added token followed by another, a Unigram model without unk.
@Suite struct CraftedTokenizerTests {
    static let directory = Repository.root + "/Tests/Fixtures/tokenizers/crafted"

    @Test(arguments: [
        "lower-whitespace", "bert-strip", "replace-metaspace-first", "split-metaspace-first", "rstrip-overlap",
        "unigram-no-unk",
    ])
    func idsAreTheLibrarys(_ name: String) throws {
        let expected = try JSONValue.parse(
            try String(contentsOfFile: Self.directory + "/expected.json", encoding: .utf8))
        let cases = expected.objectValue?[name]?.arrayValue ?? []
        #expect(!cases.isEmpty)
        let encoder = try Tokenizer(contentsOf: Self.directory + "/\(name).json").makeEncoder()
        for c in cases {
            let text = c.objectValue?["text"]?.stringValue ?? ""
            let ids = (c.objectValue?["ids"]?.arrayValue ?? []).compactMap { $0.intValue.map(UInt32.init) }
            #expect(try encoder.encode(text) == ids, "\(name): \(text.debugDescription)")
        }
    }
}
