import CDarwinText
import DarwinCore

/// Masks e-mail addresses and public IPv4 addresses in the text, counting what it replaced.
///
/// The patterns and their matching are those of datatrove's `PIIFormatter` (FineWeb's last step): the
/// e-mail expression with a word boundary before the local part, dotted quads whose octets are at most
/// 255, and only addresses Python's `ipaddress` calls global (not private, loopback, link-local, shared
/// or documentation ranges, no leading zeros). Replacements are used in turn within each document (datatrove
/// carries the turn across documents, which makes output depend on sharding; darwin restarts it per
/// document so it stays deterministic).
struct PIIMasker: StreamingStep {
    let emails: Bool
    let ips: Bool
    let emailReplacements: [String]
    let ipReplacements: [String]

    static let descriptor = StepDescriptor(
        id: "pii", version: 1, levels: [.l2],
        summary: "mask e-mail addresses and public IP addresses, counting replacements",
        reference: "datatrove PIIFormatter (FineWeb, Penedo et al. 2024)",
        kind: .streaming,
        parameters: [
            ParameterSpec("emails", .boolean, default: true, "mask e-mail addresses"),
            ParameterSpec("ips", .boolean, default: true, "mask public IPv4 addresses"),
            ParameterSpec(
                "email_replacement", .stringList, default: ["email@example.com", "firstname.lastname@example.org"],
                "replacements, used in turn"),
            ParameterSpec(
                "ip_replacement", .stringList,
                default: [
                    "22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11",
                    "18.104.22.168",
                ],
                "replacements, used in turn"),
        ],
        histograms: [],
        examples: [
            StepExample(#"{"id":"a","text":"write to jane.doe@mail.example.net or call 8.8.8.8"}"#, expect: .keep),
            // Replacements in turn; private and documentation addresses stay.
            StepExample(
                #"{"id":"b","text":"a@b.co, c@d.org and e@f.net; dns 1.1.1.1, lan 192.168.1.1, doc 203.0.113.5"}"#,
                expect: .keep),
            StepExample(
                #"{"id":"c","text":"mail kim@example.org from 9.9.9.9"}"#,
                parameters: ["email_replacement": "<email>", "ips": false], expect: .keep),
        ],
        make: { p in
            let e = p.strings("email_replacement"), i = p.strings("ip_replacement")
            if e.isEmpty { throw ParameterError("email_replacement", "give at least one replacement") }
            if i.isEmpty { throw ParameterError("ip_replacement", "give at least one replacement") }
            return .streaming(
                PIIMasker(emails: p.bool("emails"), ips: p.bool("ips"), emailReplacements: e, ipReplacements: i))
        })

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        var text = document.text
        var masked = 0
        // Each kind runs only when its trigger byte ('@', '.') is in the text at all.
        func mask(_ on: Bool, trigger: UInt8, counter: String, _ replace: (String) -> (String, Int)) {
            guard on, text.utf8.contains(trigger) else { return }
            let (t, n) = replace(text)
            guard n > 0 else { return }
            text = t
            masked += n
            context.count(counter, by: n)
        }
        mask(emails, trigger: 0x40, counter: "emails_masked") {
            Self.replaceEmails($0, replacements: emailReplacements)
        }
        mask(ips, trigger: 0x2E, counter: "ips_masked") { Self.replaceIPs($0, replacements: ipReplacements) }
        if masked > 0 { document.text = text }
        return .keep
    }

    // MARK: - E-mail addresses

    private static func isLocal(_ c: UInt32) -> Bool {
        // [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]
        if c >= 0x80 { return false }
        let u = UInt8(c)
        if (u >= 0x30 && u <= 0x39) || (u | 0x20 >= 0x61 && u | 0x20 <= 0x7A) { return true }
        return "!#$%&'*+/=?^_`{|}~-".utf8.contains(u)
    }

    private static func isAlnum(_ c: UInt32) -> Bool {
        c < 0x80 && ((c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A))
    }

    private static func isWord(_ c: UInt32) -> Bool {
        if c < 0x80 { return isAlnum(c) || c == 0x5F }
        return dt_has_prop(DT_PROP_WORD, c) != 0
    }

    /// Replaces matches of datatrove's e-mail expression; returns the text and the number replaced.
    static func replaceEmails(_ text: String, replacements: [String]) -> (String, Int) {
        let s = Array(text.unicodeScalars.map(\.value))
        var out = String.UnicodeScalarView()
        var copied = 0
        var pos = 0
        var count = 0
        var a = 0
        while a < s.count {
            guard s[a] == 0x40 else {
                a += 1
                continue
            }
            // The leftmost start of a local part ending at this '@'.
            var q = a
            while q > pos && (isLocal(s[q - 1]) || s[q - 1] == 0x2E) {
                if s[q - 1] == 0x2E && q < a && s[q] == 0x2E { break }  // ".." cannot be inside
                q -= 1
            }
            var start = -1
            if a > 0 && s[a - 1] != 0x2E {
                var p = q
                while p < a {
                    if s[p] != 0x2E && isLocal(s[p]) {
                        let before = p > 0 ? isWord(s[p - 1]) : false
                        if before != isWord(s[p]) {
                            // [p, a) must not contain ".." (q guarantees) nor start with '.'.
                            start = p
                            break
                        }
                    }
                    p += 1
                }
            }
            if start >= 0, let end = emailDomainEnd(s, from: a + 1) {
                out.append(contentsOf: s[copied..<start].compactMap(Unicode.Scalar.init))
                out.append(contentsOf: replacements[count % replacements.count].unicodeScalars)
                count += 1
                copied = end
                pos = end
                a = end
                continue
            }
            a += 1
        }
        guard count > 0 else { return (text, 0) }
        out.append(contentsOf: s[copied...].compactMap(Unicode.Scalar.init))
        return (String(out), count)
    }

    /// End of `(?:label\.)+label` or of the bracketed form after '@', or nil.
    private static func emailDomainEnd(_ s: [UInt32], from d: Int) -> Int? {
        // Segments: runs of [A-Za-z0-9-] separated by '.'.
        var pairsEnd: [Int] = []  // end (after '.') of each leading valid "label." pair
        var i = d
        while true {
            var j = i
            while j < s.count && (isAlnum(s[j]) || s[j] == 0x2D) { j += 1 }
            guard j > i, j < s.count, s[j] == 0x2E, isAlnum(s[i]), isAlnum(s[j - 1]) else { break }
            pairsEnd.append(j + 1)
            i = j + 1
        }
        if !pairsEnd.isEmpty {
            // Final label after all pairs: the longest alnum-ending prefix.
            let f = pairsEnd[pairsEnd.count - 1]
            if f < s.count && isAlnum(s[f]) {
                var j = f
                var lastAlnum = f
                while j < s.count && (isAlnum(s[j]) || s[j] == 0x2D) {
                    if isAlnum(s[j]) { lastAlnum = j }
                    j += 1
                }
                return lastAlnum + 1
            }
            // Give back one pair: its label is the final one.
            if pairsEnd.count >= 2 { return pairsEnd[pairsEnd.count - 1] - 1 }
        }
        // \[ (octet \.){3} (octet | [A-Za-z0-9-]*[A-Za-z0-9]:) ]
        guard d < s.count, s[d] == 0x5B else { return nil }
        return bracketDomain(s, d + 1)
    }

    private static func bracketDomain(_ s: [UInt32], _ p: Int) -> Int? {
        func tail(_ k: Int, _ i: Int) -> Int? {
            if k == 3 {
                for e in octetEnds(s, i) where e < s.count && s[e] == 0x5D { return e + 1 }
                // [A-Za-z0-9-]*[A-Za-z0-9]: then ]
                var j = i
                while j < s.count && (isAlnum(s[j]) || s[j] == 0x2D) { j += 1 }
                // backtrack to an alnum followed by ':'
                var e = j
                while e > i {
                    if isAlnum(s[e - 1]), e < s.count, s[e] == 0x3A, e + 1 < s.count, s[e + 1] == 0x5D { return e + 2 }
                    e -= 1
                }
                return nil
            }
            for e in octetEnds(s, i) where e < s.count && s[e] == 0x2E {
                if let r = tail(k + 1, e + 1) { return r }
            }
            return nil
        }
        return tail(0, p)
    }

    // MARK: - IP addresses

    /// Ends of `25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?` at `i`, in the order the regex tries them.
    private static func octetEnds(_ s: [UInt32], _ i: Int) -> [Int] {
        func d(_ k: Int) -> UInt32? { k < s.count && s[k] >= 0x30 && s[k] <= 0x39 ? s[k] - 0x30 : nil }
        var ends: [Int] = []
        if d(i) == 2, d(i + 1) == 5, let c = d(i + 2), c <= 5 { ends.append(i + 3) }
        if d(i) == 2, let b = d(i + 1), b <= 4, d(i + 2) != nil { ends.append(i + 3) }
        if let a = d(i), a <= 1, d(i + 1) != nil {
            if d(i + 2) != nil { ends.append(i + 3) }
            ends.append(i + 2)
        }
        if d(i) != nil {
            if d(i + 1) != nil { ends.append(i + 2) }
            ends.append(i + 1)
        }
        return ends
    }

    private static func ipEnd(_ s: [UInt32], _ i: Int, _ k: Int) -> Int? {
        if k == 3 { return octetEnds(s, i).first }
        for e in octetEnds(s, i) where e < s.count && s[e] == 0x2E {
            if let r = ipEnd(s, e + 1, k + 1) { return r }
        }
        return nil
    }

    /// Python 3.11's `ipaddress.ip_address(x).is_global` for a dotted quad; false for leading zeros.
    static func isGlobalIPv4(_ octets: String) -> Bool {
        let parts = octets.split(separator: ".")
        guard parts.count == 4 else { return false }
        var v: UInt32 = 0
        for p in parts {
            if p.count > 1 && p.first == "0" { return false }
            guard let n = UInt32(p), n <= 255 else { return false }
            v = v << 8 | n
        }
        let privateNets: [(UInt32, Int)] = [
            (0x0000_0000, 8), (0x0A00_0000, 8), (0x7F00_0000, 8), (0xA9FE_0000, 16), (0xAC10_0000, 12),
            (0xC000_0000, 29),
            (0xC000_00AA, 31), (0xC000_0200, 24), (0xC0A8_0000, 16), (0xC612_0000, 15), (0xC633_6400, 24),
            (0xCB00_7100, 24),
            (0xF000_0000, 4), (0xFFFF_FFFF, 32), (0x6440_0000, 10),
        ]
        for (net, bits) in privateNets {
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
            if v & mask == net { return false }
        }
        return true
    }

    /// Replaces public addresses matched by datatrove's IP expression (non-public matches stay).
    static func replaceIPs(_ text: String, replacements: [String]) -> (String, Int) {
        let s = Array(text.unicodeScalars.map(\.value))
        var out = String.UnicodeScalarView()
        var copied = 0
        var count = 0
        var i = 0
        while i < s.count {
            guard s[i] >= 0x30 && s[i] <= 0x39, let end = ipEnd(s, i, 0) else {
                i += 1
                continue
            }
            let matched = String(String.UnicodeScalarView(s[i..<end].compactMap(Unicode.Scalar.init)))
            if isGlobalIPv4(matched) {
                out.append(contentsOf: s[copied..<i].compactMap(Unicode.Scalar.init))
                out.append(contentsOf: replacements[count % replacements.count].unicodeScalars)
                count += 1
                copied = end
            }
            i = end
        }
        guard count > 0 else { return (text, 0) }
        out.append(contentsOf: s[copied...].compactMap(Unicode.Scalar.init))
        return (String(out), count)
    }
}
