import DarwinCore
import Foundation

/// Drops documents by their URL: blocked registered domains and host names, blocked URLs, banned words
/// in the URL, enough "soft" banned words, and banned sub-words anywhere in the normalised URL.
///
/// Semantics of datatrove's `URLFilter` (FineWeb's first step): URL words are the runs of `[A-Za-z0-9]`
/// (case kept, as datatrove); list entries are lower-cased and stripped of other characters; domains
/// are matched through the Public Suffix List like tldextract. Lists are files, one entry a line, `#` for
/// comments.
struct URLFilter: StreamingStep {
    let lists: Lists
    let softThreshold: Int
    let fields: [String]

    /// Block lists, loaded once per process per set of files.
    final class Lists: @unchecked Sendable {
        // @unchecked: immutable after init.
        let domains: HashSet
        let urls: HashSet
        let bannedWords: Set<String>
        let softWords: Set<String>
        let subwords: [[UInt8]]
        let suffixes: PublicSuffixList

        init(
            domains: HashSet, urls: HashSet, bannedWords: Set<String>, softWords: Set<String>, subwords: [[UInt8]],
            suffixes: PublicSuffixList
        ) {
            self.domains = domains
            self.urls = urls
            self.bannedWords = bannedWords
            self.softWords = softWords
            self.subwords = subwords
            self.suffixes = suffixes
        }
    }

    /// A set of strings kept as sorted 64-bit hashes (millions of domains in a few tens of MB).
    struct HashSet: Sendable {
        let hashes: [UInt64]
        init(_ entries: [String]) { hashes = Array(Set(entries.map { Hashing.xxh64($0) })).sorted() }
        func contains(_ s: String) -> Bool {
            let h = Hashing.xxh64(s)
            var lo = 0, hi = hashes.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if hashes[mid] < h { lo = mid + 1 } else { hi = mid }
            }
            return lo < hashes.count && hashes[lo] == h
        }
        var count: Int { hashes.count }
    }

    static let descriptor = StepDescriptor(
        id: "url_filter", version: 1, levels: [.l2],
        summary: "drop documents whose URL's domain, host or URL is block-listed, or that contains banned words",
        reference: "datatrove URLFilter (FineWeb, Penedo et al. 2024); Public Suffix List via Debian publicsuffix",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "block_domains", .stringList, default: [], "files of blocked registered domains or host names"),
            ParameterSpec("block_urls", .stringList, default: [], "files of blocked URLs (exact)"),
            ParameterSpec(
                "banned_words", .stringList, default: [], "files of words; one in the URL drops the document"),
            ParameterSpec(
                "soft_banned_words", .stringList, default: [], "files of words; soft_word_threshold of them drop it"),
            ParameterSpec(
                "banned_subwords", .stringList, default: [], "files of strings searched in the normalised URL"),
            ParameterSpec("soft_word_threshold", .integer(min: 1), default: 2, "soft banned words needed to drop"),
            ParameterSpec(
                "field", .stringList, default: ["url", "metadata.url"], "where the URL is read, first found wins"),
            ParameterSpec(
                "public_suffix_list", .string, default: .string(PublicSuffixList.defaultPath),
                "the Public Suffix List file"),
            ParameterSpec("include_private_suffixes", .boolean, default: false, "use the list's private section too"),
        ],
        histograms: [],
        examples: [
            StepExample(
                #"{"id":"a","text":"x","url":"https://docs.example.com/guide/install"}"#, parameters: exampleLists,
                expect: .keep),
            StepExample(
                #"{"id":"b","text":"x","url":"https://shop.example.net/offer"}"#, parameters: exampleLists,
                expect: .drop(rule: "domain")),
            StepExample(
                #"{"id":"c","text":"x","metadata":{"url":"http://ads.example.org:8080/banner"}}"#,
                parameters: exampleLists, expect: .drop(rule: "subdomain")),
            StepExample(
                #"{"id":"d","text":"x","url":"https://play.example.com/best-casino-bonus"}"#, parameters: exampleLists,
                expect: .drop(rule: "banned_word")),
            StepExample(
                #"{"id":"e","text":"x","url":"https://play.example.com/casinos"}"#, parameters: exampleLists,
                expect: .keep),
            StepExample(#"{"id":"f","text":"no URL at all"}"#, parameters: exampleLists, expect: .keep),
        ],
        resources: { p in
            var files: [ResourceReference] = []
            for name in ["block_domains", "block_urls", "banned_words", "soft_banned_words", "banned_subwords"] {
                files += p.strings(name).map { ResourceReference(parameter: name, path: $0) }
            }
            return files + [ResourceReference(parameter: "public_suffix_list", path: p.string("public_suffix_list"))]
        },
        check: { p in
            // The lists are read by the first task that needs them; a recipe check only sees that they are there.
            for name in ["block_domains", "block_urls", "banned_words", "soft_banned_words", "banned_subwords"] {
                for f in p.strings(name) where !FileManager.default.isReadableFile(atPath: f) {
                    throw ParameterError(name, "cannot read list file \(f)")
                }
            }
            let psl = p.string("public_suffix_list")
            guard FileManager.default.isReadableFile(atPath: psl) else {
                throw ParameterError(
                    "public_suffix_list", "cannot read the public suffix list \(psl) (Debian package publicsuffix)")
            }
        },
        make: { p in
            let lists = try ResourceRegistry.shared.resource("url lists", p.canonicalJSON) {
                try Lists(
                    domains: HashSet(try readLists(p.strings("block_domains"), "block_domains", normalize: false)),
                    urls: HashSet(try readLists(p.strings("block_urls"), "block_urls", normalize: false)),
                    bannedWords: Set(try readLists(p.strings("banned_words"), "banned_words", normalize: true)),
                    softWords: Set(try readLists(p.strings("soft_banned_words"), "soft_banned_words", normalize: true)),
                    subwords: try readLists(p.strings("banned_subwords"), "banned_subwords", normalize: true).map {
                        Array($0.utf8)
                    },
                    suffixes: PublicSuffixList(
                        path: p.string("public_suffix_list"), includePrivate: p.bool("include_private_suffixes")))
            }
            return .streaming(
                URLFilter(lists: lists, softThreshold: p.int("soft_word_threshold"), fields: p.strings("field")))
        })

    /// The block lists of the examples (data/examples, relative to the checkout).
    static let exampleLists: [String: JSONValue] = [
        "block_domains": ["data/examples/blocked-domains.txt"], "banned_words": ["data/examples/banned-words.txt"],
    ]

    /// Entries of list files; `normalize` keeps [a-z0-9] of the lower-cased entry, as datatrove.
    static func readLists(_ files: [String], _ parameter: String, normalize: Bool) throws -> [String] {
        var out: [String] = []
        for f in files {
            guard let data = FileManager.default.contents(atPath: f) else {
                throw ParameterError(parameter, "cannot read list file \(f)")
            }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
                guard let first = line.first, first != "#" else { continue }
                let entry =
                    normalize ? Self.normalize(String(line)) : line.trimmingCharacters(in: .whitespacesAndNewlines)
                if !entry.isEmpty { out.append(entry) }
            }
        }
        return out
    }

    /// Characters outside [A-Za-z0-9] removed, lower-cased (datatrove's `normalize`).
    static func normalize(_ s: String) -> String {
        String(
            String.UnicodeScalarView(
                s.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) })
        )
        .lowercased()
    }

    /// Runs of [A-Za-z0-9] (datatrove's `normalizer.split`, case kept).
    static func words(_ url: String) -> Set<String> {
        var out = Set<String>()
        var cur = ""
        for u in url.utf8 {
            let isAlnum = (u >= 0x30 && u <= 0x39) || (u | 0x20 >= 0x61 && u | 0x20 <= 0x7A)
            if isAlnum {
                cur.append(Character(Unicode.Scalar(u)))
            } else {
                out.insert(cur)
                cur = ""
            }
        }
        out.insert(cur)
        return out
    }

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let doc = document
        guard let url = fields.lazy.compactMap({ doc.value(atPath: $0)?.stringValue }).first, !url.isEmpty else {
            context.count("no_url")
            return .keep
        }
        let parts = lists.suffixes.extract(url)
        if lists.domains.count > 0 {
            if lists.domains.contains(parts.registeredDomain) && !parts.registeredDomain.isEmpty {
                return .drop(rule: "domain", detail: ["domain": .string(parts.registeredDomain)])
            }
            if lists.domains.contains(parts.fqdn) && !parts.fqdn.isEmpty {
                return .drop(rule: "subdomain", detail: ["host": .string(parts.fqdn)])
            }
        }
        if lists.urls.count > 0 && lists.urls.contains(url) { return .drop(rule: "url") }
        if !lists.bannedWords.isEmpty || !lists.softWords.isEmpty {
            let words = Self.words(url)
            if let w = words.first(where: { lists.bannedWords.contains($0) }) {
                return .drop(rule: "banned_word", detail: ["word": .string(w)])
            }
            let soft = words.filter { lists.softWords.contains($0) }
            if soft.count >= softThreshold {
                return .drop(rule: "soft_banned_words", detail: ["words": .array(soft.sorted().map { .string($0) })])
            }
        }
        if !lists.subwords.isEmpty {
            let normalized = Array(Self.normalize(url).utf8)
            for s in lists.subwords
            where normalized.withUnsafeBufferPointer({ PyText($0).contains(s, in: 0..<$0.count) }) {
                return .drop(rule: "banned_subword", detail: ["subword": .string(String(decoding: s, as: UTF8.self))])
            }
        }
        return .keep
    }
}
