import DarwinCore
import Foundation

/// The Public Suffix List (Mozilla), for registered domains: `news.bbc.co.uk` → `bbc.co.uk`.
///
/// Matching follows tldextract (which datatrove's URL filter uses): a trie of reversed labels, the longest
/// rule wins, `*` wildcards and `!` exceptions; by default only the ICANN section is used. The list comes
/// from Debian's `publicsuffix` package (/usr/share/publicsuffix/public_suffix_list.dat).
final class PublicSuffixList: @unchecked Sendable {
    // @unchecked: immutable after init.
    static let defaultPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    private final class Node {
        var children: [String: Node] = [:]
        var isEnd = false
    }

    private let root = Node()

    init(path: String, includePrivate: Bool) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ParameterError(
                "public_suffix_list", "cannot read the public suffix list \(path) (Debian package publicsuffix)")
        }
        for var line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.contains("===BEGIN PRIVATE DOMAINS===") && !includePrivate { break }
            line = line.prefix { !$0.isWhitespace }
            guard let first = line.first, !line.hasPrefix("//"), first != "/" else { continue }
            var node = root
            for label in line.split(separator: ".").reversed() {
                let key = String(label).lowercased()
                if let next = node.children[key] {
                    node = next
                } else {
                    let next = Node()
                    node.children[key] = next
                    node = next
                }
            }
            node.isEnd = true
        }
    }

    /// Index of the first label of the public suffix (labels.count when there is none).
    func suffixIndex(_ labels: [Substring]) -> Int {
        var node = root
        var i = labels.count, j = labels.count
        for label in labels.reversed() {
            let key = Self.decodePunycode(String(label).lowercased())
            if let next = node.children[key] {
                j -= 1
                node = next
                if node.isEnd { i = j }
                continue
            }
            if node.children["*"] != nil {
                if node.children["!" + key] != nil { return j }
                return j - 1
            }
            break
        }
        return i
    }

    /// `xn--` labels stay as they are (the list also carries their ASCII forms for the common ones).
    private static func decodePunycode(_ label: String) -> String { label }

    /// Host parts of a URL, as tldextract extracts them.
    struct Parts {
        var subdomain = "", domain = "", suffix = ""
        /// `domain.suffix`, or "" without a suffix or domain.
        var registeredDomain: String { !domain.isEmpty && !suffix.isEmpty ? domain + "." + suffix : "" }
        /// `subdomain.domain.suffix`, or "".
        var fqdn: String {
            guard !domain.isEmpty && !suffix.isEmpty else { return "" }
            return [subdomain, domain, suffix].filter { !$0.isEmpty }.joined(separator: ".")
        }
    }

    func extract(_ url: String) -> Parts {
        let netloc = Self.netloc(url)
        if netloc.hasPrefix("[") { return Parts() }  // IPv6 literal
        let dotted = netloc.replacingOccurrences(of: "\u{3002}", with: ".").replacingOccurrences(
            of: "\u{FF0E}", with: "."
        )
        .replacingOccurrences(of: "\u{FF61}", with: ".")
        let labels = dotted.split(separator: ".", omittingEmptySubsequences: false)
        let s = suffixIndex(labels)
        if s == labels.count && labels.count == 4 && Self.looksLikeIPv4(dotted) {
            return Parts(subdomain: "", domain: dotted, suffix: "")
        }
        var p = Parts()
        p.suffix = s != labels.count ? labels[s...].joined(separator: ".") : ""
        p.subdomain = s >= 2 ? labels[..<(s - 1)].joined(separator: ".") : ""
        p.domain = s >= 1 ? String(labels[s - 1]) : ""
        return p
    }

    static func looksLikeIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { p in
                !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber)
                    && (Int(p) ?? 256) <= 255
            }
    }

    private static let schemeChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")

    /// tldextract's lenient netloc: scheme, path, query, fragment, user info and port removed.
    static func netloc(_ url: String) -> String {
        var rest = Substring(url)
        if let r = rest.range(of: "//") {
            let start = rest.distance(from: rest.startIndex, to: r.lowerBound)
            if start == 0 {
                rest = rest[r.upperBound...]
            } else if start >= 2, rest[rest.index(before: r.lowerBound)] == ":",
                rest[..<rest.index(before: r.lowerBound)].allSatisfy({ schemeChars.contains($0) })
            {
                rest = rest[r.upperBound...]
            }
        }
        rest = rest.prefix { $0 != "/" }
        rest = rest.prefix { $0 != "?" }
        rest = rest.prefix { $0 != "#" }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.first == "[", let close = rest.firstIndex(of: "]") { return String(rest[...close]) }
        let host = rest.prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces)
        var h = Substring(host)
        while let last = h.last, last == "." || last == "\u{3002}" || last == "\u{FF0E}" || last == "\u{FF61}" {
            h = h.dropLast()
        }
        return String(h)
    }
}
