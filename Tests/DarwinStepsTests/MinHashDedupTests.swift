import CDarwinText
import DarwinCore
import DarwinTestSupport
import Foundation
import Testing

@testable import DarwinSteps

@Suite struct MinHashDedupTests {
    let dir = TemporaryDirectory()

    /// NumPy's `RandomState(1).randint(1, 2**61 - 1, dtype=uint64, size=112)`, then the same from 0: the values
    /// datatrove's default MinhashConfig draws.
    @Test func permutationsAreNumPys() {
        let h = MinHasher()
        #expect(h.a.prefix(3) == [775_169_054_918_279_404, 1_758_426_461_858_698_313, 2_109_959_069_025_162])
        #expect(h.b.prefix(3) == [1_062_448_801_025_099_917, 1_324_811_268_927_594_100, 1_217_488_311_597_731_462])
        #expect(h.a.last == 223_865_076_026_037_746 && h.b.last == 1_097_409_548_522_419_201)
        #expect(abs(h.threshold - 0.719008) < 1e-6)
        #expect(abs(h.candidateProbability(0.8) - 0.924) < 1e-3)
    }

    /// The vectorised and portable kernels give the slot-by-slot result, for any number of shingles and slots.
    @Test(arguments: [(0, 112), (1, 112), (7, 112), (1000, 112), (300, 20), (50, 3)])
    func signatureKernelsAgree(shingles: Int, slots: Int) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
        let h = MinHasher(bands: slots, rows: 1)
        let sh = (0..<shingles).map { _ in next() | (shingles > 500 ? UInt64.max << 61 : 0) }
        let expected = h.referenceSignature(sh)
        #expect(h.signature(sh) == expected)
        var portable = [UInt64](repeating: 0, count: slots)
        dt_minhash_portable(sh, sh.count, h.a, h.b, slots, &portable)
        #expect(portable == expected)
    }

    /// datatrove's `simplify_text` on hard cases (final sigma, dotted capital I, numbers with separators in
    /// other scripts, Hangul decomposition, marks, Unicode spaces, full-width digits), byte for byte.
    @Test(arguments: [
        (
            "\u{39F}\u{394}\u{39F}\u{3A3} \u{3A3}\u{39F}\u{3A6}\u{39F}\u{3A3} \u{3A3}",
            "\u{3BF}\u{3B4}\u{3BF}\u{3C2} \u{3C3}\u{3BF}\u{3C6}\u{3BF}\u{3C2} \u{3C3}"
        ),
        ("\u{130}stanbul \u{130}", "istanbul i"),
        ("Price: 1,234.56 USD; 3.14 and \u{663}\u{66B}\u{661}\u{664} or 12.", "price 0 0 usd 0 and 0 or 0"),
        (
            "\u{D55C}\u{AD6D}\u{C5B4} \u{D14D}\u{C2A4}\u{D2B8} \u{C815}\u{ADDC}\u{D654}",
            "\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}\u{110B}\u{1165} \u{1110}\u{1166}\u{11A8}\u{1109}\u{1173}\u{1110}\u{1173} \u{110C}\u{1165}\u{11BC}\u{1100}\u{1172}\u{1112}\u{116A}"
        ),
        ("Caf\u{E9} na\u{EF}ve \u{2014} r\u{E9}sum\u{E9}!", "cafe naive resume"),
        ("  \u{9} spaced\u{A}\u{A}out  ", "spaced out"),
        ("a\u{A0}b\u{2003}c", "a b c"),
        ("x \u{301} y \u{301}", "x  y"),
        ("A.B.C. don't stop", "a b c don t stop"),
        ("\u{FF11}\u{FF12}\u{FF13} \u{FF46}\u{FF55}\u{FF4C}\u{FF4C}", "0 \u{FF46}\u{FF55}\u{FF4C}\u{FF4C}"),
    ])
    func simplifiesAsDatatrove(text: String, expected: String) {
        #expect(SimplifiedText.bytes(Array(text.utf8)) == Array(expected.utf8), "\(text)")
    }

    /// datatrove's signatures of the 739 sample documents (scripts/gen/minhash-reference-sample), value for value.
    @Test func signaturesEqualDatatroves() throws {
        let fixture = Repository.root + "/Tests/DarwinStepsTests/Fixtures/minhash-datatrove-sample.tsv"
        var expected: [String: (Int, UInt64, UInt64)] = [:]
        for line in try String(contentsOfFile: fixture, encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: "\t").map(String.init)
            expected[f[0]] = (Int(f[1]) ?? -1, UInt64(f[2]) ?? 0, UInt64(f[3]) ?? 0)
        }
        #expect(expected.count == 739)
        let h = MinHasher(words: .en)
        var same = 0
        for shard in Repository.sampleShards {
            for d in try Shards.documents(shard) {
                let (count, digest, first) = try #require(expected[d.id])
                let shingles = h.shingles(d.text, language: nil)
                guard shingles.count == count else {
                    Issue.record("\(d.id): \(shingles.count) shingles, datatrove \(count)")
                    continue
                }
                if count == 0 {
                    same += 1
                    continue
                }
                let sig = h.signature(shingles)
                var fnv: UInt64 = 0xcbf2_9ce4_8422_2325
                for v in sig {
                    for k in 0..<8 { fnv = (fnv ^ ((v >> (8 * UInt64(k))) & 0xFF)) &* 0x100_0000_01b3 }
                }
                #expect(sig[0] == first, "\(d.id)")
                if fnv == digest { same += 1 } else { Issue.record("\(d.id): signature differs from datatrove's") }
            }
        }
        #expect(same == 739)
    }

    func doc(_ id: String, _ text: String, _ metadata: JSONObject = JSONObject()) -> Document {
        Document(id: id, text: text, fields: [(key: "metadata", value: .object(metadata))])
    }

    /// A real paragraph, edited in a few words: similar enough to collide in some band almost surely.
    var base: String {
        """
        The history of the printing press is the history of how ideas travelled. Before movable type, books were \
        copied by hand, which made them rare and expensive. With the press, a workshop could produce hundreds of \
        copies of the same text, and readers in distant cities could study the same words at the same time. This \
        changed schools, churches and trade, and it gave scientists a way to share their results and to correct \
        each other. It is not an exaggeration to say that the modern world began in those workshops.
        """
    }

    func results(_ shards: [[Document]], _ params: [String: JSONValue] = [:]) throws -> [String: Decision] {
        let sub = dir.file("run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        var out: [String: Decision] = [:]
        for shard in try runGlobal("minhash_dedup", params, shards: shards, in: sub) {
            for (id, d) in shard { out[id] = d }
        }
        return out
    }

    @Test func nearDuplicatesAreDroppedWithTheirClusterAndKeptId() throws {
        let edited = base.replacingOccurrences(of: "rare and expensive", with: "rare and costly")
        let other = "An entirely different text about the migration of birds across the northern seas every autumn."
        let docs = [doc("a", base), doc("b", other), doc("c", edited), doc("d", base + " The end.")]
        let r = try results([Array(docs[0..<2]), Array(docs[2...])])
        #expect(r["a"] == .keep && r["b"] == .keep)
        for id in ["c", "d"] {
            guard case .drop(let rule, let detail) = r[id] else {
                Issue.record("\(id) kept")
                continue
            }
            #expect(rule == "near_duplicate")
            #expect(detail?.objectValue?["duplicate_of"] == .string("a"))
            #expect(detail?.objectValue?["cluster"] == .string("a"))
            #expect(detail?.objectValue?["cluster_size"] == 3)
        }
        // Whatever the shards, the same decisions.
        #expect(try results([docs]) == r)
        #expect(try results(docs.map { [$0] }) == r)
    }

    @Test func keepHighestScopeAndClusterSizes() throws {
        func m(_ q: Double, _ source: String) -> JSONObject {
            JSONObject([(key: "quality", value: .number(JSONNumber(q))), (key: "source", value: .string(source))])
        }
        let docs = [
            doc("x1", base, m(0.2, "web")), doc("x2", base, m(0.9, "web")), doc("x3", base, m(0.5, "books")),
        ]
        let highest = try results([docs], ["keep": "highest", "keep_field": "metadata.quality"])
        #expect(highest["x2"] == .keep)
        #expect(highest["x1"] != .keep && highest["x3"] != .keep)
        let scoped = try results([docs], ["scope": "metadata.source"])
        #expect(scoped["x1"] == .keep && scoped["x3"] == .keep, "different sources are never compared")
        #expect(scoped["x2"] != .keep)
        // Kept documents carry their cluster size (1 without duplicates).
        let d = try #require(StepCatalog.registry.descriptor("minhash_dedup"))
        let p = try Parameters.validate([], against: d.parameters).get()
        guard case .global(let step) = try d.make(p) else { return }
        let sub = dir.file("sizes")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        _ = try runGlobal(
            "minhash_dedup", [:], shards: [docs + [doc("y", "a short unrelated note with enough words in it")]], in: sub
        )
        var applier = try step.makeApplier(
            shard: ShardInfo(index: 0, name: "s0"), workspace: GlobalWorkspace(directory: sub, temporarySuffix: ".tmp"))
        var ctx = StepContext(stage: "L2", step: "minhash_dedup", shard: nil, seed: 0, histograms: [])
        var first = docs[0]
        #expect(try applier.process(&first, context: &ctx) == .keep)
        #expect(first.value(atPath: "metadata.dedup.cluster_size") == 3)
        ctx.documentIndex = 3
        var lone = doc("y", "a short unrelated note with enough words in it")
        #expect(try applier.process(&lone, context: &ctx) == .keep)
        #expect(lone.value(atPath: "metadata.dedup.cluster_size") == 1)
    }

    /// With a budget far below the data the collectors write many runs and the cluster arrays live in mapped
    /// scratch files: the same decisions, including the highest keeper and the ids it names.
    @Test func tinyBudgetKeepsTheSameHighest() throws {
        var shards: [[Document]] = [[], [], []]
        for i in 0..<90 {
            let words = base.split(separator: " ")
            // Three families of copies, each copy with one word changed; quality varies within a family.
            let family = i % 3
            var text = words.map(String.init)
            text[(i * 7) % text.count] = "edit\(i)"
            let body = "family\(family) " + text.joined(separator: " ") + " family\(family)"
            let q = Double((i * 37) % 101) / 100
            shards[i % 3].append(doc("d\(i)", family == 0 ? body : String(body.reversed()), m(q)))
        }
        func m(_ q: Double) -> JSONObject { JSONObject([(key: "quality", value: .number(JSONNumber(q)))]) }
        let params: [String: JSONValue] = ["keep": "highest", "keep_field": "metadata.quality"]
        let roomy = try results(shards, params)
        var tight = params
        tight["memory"] = "16B"
        #expect(try results(shards, tight) == roomy)
        #expect(roomy.values.filter { $0 != .keep }.count > 30)
    }

    /// Chinese and Thai are shingled on ICU words with `words: auto`: an edited copy is found, an unrelated
    /// text is not; with spaces-only splitting a whole paragraph would be a handful of "words".
    @Test func textWithoutSpacesIsShingledOnWords() throws {
        let zh = "我们今天去北京大学参观，然后在图书馆里读书。下午我们去了博物馆，看到了很多古代的文物和艺术品。晚上我们在学校附近的餐厅吃饭，大家都很开心。"
        let zhEdited = zh.replacingOccurrences(of: "很开心", with: "非常开心")
        let th = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ ผู้คนอ่านหนังสือในห้องสมุดทุกวันและเรียนรู้สิ่งใหม่ๆ อยู่เสมอ"
        let h = MinHasher()
        #expect(h.shingles(zh, language: "zh").count > 20)
        #expect(h.shingles(th, language: nil).count > 10)
        let r = try results([[doc("z1", zh), doc("z2", zhEdited), doc("t", th)]])
        #expect(r["z1"] == .keep && r["t"] == .keep)
        #expect(r["z2"] != .keep)
    }
}

extension MinHasher {
    /// The same computed one slot at a time, for checks.
    func referenceSignature(_ shingles: [UInt64]) -> [UInt64] {
        (0..<a.count).map { j in shingles.reduce(UInt64.max) { min($0, Self.modPrime($1 &* a[j] &+ b[j])) } }
    }

    /// x mod (2⁶¹ − 1) without a division.
    @inline(__always)
    static func modPrime(_ x: UInt64) -> UInt64 {
        let r = (x & prime) &+ (x >> 61)
        return r >= prime ? r &- prime : r
    }
}
