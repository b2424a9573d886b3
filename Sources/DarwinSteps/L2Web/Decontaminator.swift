import CDarwinText
import DarwinCore
import DarwinIO
import Foundation

/// Drops documents that share a word n-gram with a benchmark, so evaluation items do not leak into
/// training data.
///
/// Benchmarks are JSONL files whose items' fields (question and answer by default) are joined; text on
/// both sides is normalised as datatrove's `simplify_text` does (lower case, numbers to 0, punctuation
/// to spaces, whitespace collapsed, diacritics removed) and split into words with spaCy's English rules.
/// Darwin-Science removes documents with an exact 20-gram match against GSM8K, MATH and MMLU (Data
/// Darwinism Part I, §3.7). The dropped document records the benchmark and the matching n-gram.
struct Decontaminator: StreamingStep {
    let index: Index
    let n: Int

    /// n-gram hashes of all benchmarks (benchmark number per hash), loaded once per process.
    final class Index: @unchecked Sendable {
        // @unchecked: immutable after init.
        let hashes: [UInt64: Int32]
        let names: [String]
        init(hashes: [UInt64: Int32], names: [String]) {
            self.hashes = hashes
            self.names = names
        }
    }

    static let descriptor = StepDescriptor(
        id: "decontaminate", version: 2, levels: [.l2],
        summary: "drop documents sharing a normalised word n-gram (default 20) with benchmark items",
        reference:
            "n-gram decontamination (GPT-3; datatrove NGramsDecontFilter); Darwin-Science exact 20-grams (DD §3.7)",
        kind: .streaming,
        parameters: [
            ParameterSpec(
                "benchmarks", .stringList, default: nil, "JSONL files of benchmark items (one benchmark per file)"),
            ParameterSpec(
                "fields", .stringList, default: ["question", "answer"], "item fields joined into the reference text"),
            ParameterSpec("n", .integer(min: 1, max: 200), default: 20, "n-gram length in words"),
        ],
        histograms: [],
        examples: [
            // data/examples/benchmark.jsonl: three items in GSM8K's layout (relative to the checkout).
            StepExample(
                ExampleText.document(
                    "a",
                    """
                    Homework help: a baker fills 12 trays with 24 rolls each and sells all but 30 of the rolls. How \
                    many rolls does the baker sell? Show your working.
                    """),
                parameters: ["benchmarks": "data/examples/benchmark.jsonl"], expect: .drop(rule: "benchmark_overlap")),
            // Numbers, case and punctuation are normalised before comparing.
            StepExample(
                ExampleText.document(
                    "b", "TOM READS 20 PAGES OF HIS BOOK EVERY EVENING; how many evenings does he need to finish?"),
                parameters: ["benchmarks": "data/examples/benchmark.jsonl", "n": 8],
                expect: .drop(rule: "benchmark_overlap")),
            // Greek capitals lower-cased as Python does (final sigma) and their accents stripped.
            StepExample(
                ExampleText.document("c", "ΑΣΚΗΣΗ: Ο ΝΙΚΟΣ ΕΧΕΙ ΤΡΕΙΣ ΓΑΤΕΣ ΚΑΙ ΔΥΟ ΣΚΥΛΟΥΣ."),
                parameters: ["benchmarks": "data/examples/benchmark.jsonl", "n": 6],
                expect: .drop(rule: "benchmark_overlap")),
            StepExample(
                ExampleText.document("d", "A baker sells rolls and bread every morning at the market square."),
                parameters: ["benchmarks": "data/examples/benchmark.jsonl"], expect: .keep),
        ],
        resources: { p in p.strings("benchmarks").map { ResourceReference(parameter: "benchmarks", path: $0) } },
        check: { p in try checkFiles(p.strings("benchmarks")) },
        make: { p in
            let n = p.int("n"), fields = p.strings("fields"), files = p.strings("benchmarks")
            try checkFiles(files)
            let index = try ResourceRegistry.shared.resource("benchmark index", p.canonicalJSON) {
                try buildIndex(files: files, fields: fields, n: n)
            }
            return .streaming(Decontaminator(index: index, n: n))
        })

    /// The benchmark files are given and readable (the index is built by the first task that needs it).
    static func checkFiles(_ files: [String]) throws {
        if files.isEmpty { throw ParameterError("benchmarks", "give at least one benchmark file") }
        for f in files where !FileManager.default.isReadableFile(atPath: f) {
            throw ParameterError("benchmarks", "cannot read benchmark \(f)")
        }
    }

    static func buildIndex(files: [String], fields: [String], n: Int) throws -> Index {
        var hashes: [UInt64: Int32] = [:]
        var names: [String] = []
        for (b, file) in files.enumerated() {
            names.append(
                ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                    .replacingOccurrences(of: ".jsonl", with: ""))
            let reader: ShardReader
            do {
                reader = try ShardReader(path: file)
            } catch {
                throw ParameterError("benchmarks", "cannot read benchmark \(file): \(error)")
            }
            var line = 0
            while true {
                let item: ShardReader.Item?
                do { item = try reader.next() } catch { throw ParameterError("benchmarks", "\(file): \(error)") }
                guard let item else { break }
                line += 1
                let object: JSONObject
                switch item {
                case .document(let d): object = (try? JSONValue.parse(d.jsonString).objectValue) ?? JSONObject()
                case .error(let e):
                    // Benchmark items need no id or text field; any JSON object will do.
                    guard let o = try? JSONValue.parse(e.raw).objectValue else {
                        throw ParameterError("benchmarks", "\(file) line \(line): not a JSON object")
                    }
                    object = o
                }
                let text = fields.compactMap { f -> String? in
                    guard let v = object[f] else { return nil }
                    return v.stringValue ?? JSONWriter.string(v)
                }.joined(separator: " ")
                forEachNGram(SimplifiedText.of(text), n: n) { h, _ -> Bool in
                    if hashes[h] == nil { hashes[h] = Int32(b) }
                    return true
                }
            }
        }
        return Index(hashes: hashes, names: names)
    }

    func process(_ document: inout Document, context: inout StepContext) throws -> Decision {
        let simplified = SimplifiedText.of(document.text)
        var hit: (UInt64, String)?
        Self.forEachNGram(simplified, n: n) { h, text in
            if hit == nil, index.hashes[h] != nil { hit = (h, text()) }
            return hit == nil
        }
        guard let (h, gram) = hit, let b = index.hashes[h] else { return .keep }
        context.count("contaminated." + index.names[Int(b)])
        return .drop(
            rule: "benchmark_overlap",
            detail: ["benchmark": .string(index.names[Int(b)]), "ngram": .string(gram)])
    }

    /// Calls `body` with the hash of each word n-gram (words joined by single spaces) and a way to get its
    /// text; stops when `body` returns false.
    static func forEachNGram(_ text: String, n: Int, _ body: (UInt64, () -> String) -> Bool) {
        var bytes = Array(text.utf8)
        let words = TextAnalysis.tokenize(bytes, withSpace: false)
        guard words.count >= n else { return }
        bytes.withUnsafeMutableBufferPointer { mb in
            let buf = UnsafeBufferPointer(mb)
            var hw = [UInt64](), pw = [UInt64]()
            for w in words {
                let (h, p) = NGramHash.of(buf, Int(w.start)..<Int(w.end))
                hw.append(h)
                pw.append(p)
            }
            for i in 0...(words.count - n) {
                var x = hw[i]
                for k in (i + 1)..<(i + n) {
                    x = NGramHash.concat(x, NGramHash.space.hash, powerY: NGramHash.space.power)
                    x = NGramHash.concat(x, hw[k], powerY: pw[k])
                }
                let keepGoing = body(x) {
                    (i..<(i + n)).map {
                        String(decoding: buf[Int(words[$0].start)..<Int(words[$0].end)], as: UTF8.self)
                    }
                    .joined(separator: " ")
                }
                if !keepGoing { return }
            }
        }
    }
}
