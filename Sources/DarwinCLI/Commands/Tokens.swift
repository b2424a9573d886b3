import ArgumentParser
import DarwinCore
import DarwinIO
import DarwinRunner
import DarwinTokenizer
import Foundation
import Synchronization

extension DarwinCommand {
    /// `darwin tokens OUT|DIR --tokenizer FILE`: exact token counts per stage, level, source and language.
    struct Tokens: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Count tokens with a tokenizer.json: per stage, level, source and language of a job, or of a folder of shards.",
            discussion: """
                For a job folder, every stage's kept shards are counted (not _rejected/, _errors/ or _work/); \
                for any other folder or file, every JSONL shard in it. Tokens are counted as the tokenizers \
                library encodes the text (add_special_tokens=False). Source is metadata.source, language \
                metadata.language ("-" when a document has none).
                """)

        @Argument(help: "A job folder, a folder of shards, or shard files.")
        var paths: [String]

        @Option(name: .long, help: "The tokenizer.json to count with.")
        var tokenizer: String

        @Option(name: .long, help: "Threads encoding at once (default: the number of cores).")
        var workers: Int = ProcessInfo.processInfo.activeProcessorCount

        @Flag(name: .long, help: "Print the counts as JSON.")
        var json = false

        struct Group {
            var documents = 0, tokens = 0, bytes = 0

            mutating func add(_ g: Group) {
                documents += g.documents
                tokens += g.tokens
                bytes += g.bytes
            }
        }

        /// The counts of some shards: in all, by source and by language.
        struct Counts {
            var total = Group()
            var bySource: [String: Group] = [:]
            var byLanguage: [String: Group] = [:]

            mutating func add(_ c: Counts) {
                total.add(c.total)
                for (k, g) in c.bySource { bySource[k, default: Group()].add(g) }
                for (k, g) in c.byLanguage { byLanguage[k, default: Group()].add(g) }
            }
        }

        func run() throws {
            let t = Tokenizer.loadOrExit(tokenizer)
            // (stage, level, shard) triples to count.
            var work: [(stage: String, level: Int?, shard: String)] = []
            if paths.count == 1, let report = try? JobReport(outputDirectory: paths[0]) {
                for s in report.stageSummaries {
                    let dir = paths[0] + "/" + s.name
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                    for n in names.sorted() where n.hasSuffix(".jsonl.zst") {
                        work.append((s.name, s.level, dir + "/" + n))
                    }
                }
            } else {
                let spec = InputSpec(
                    paths: paths, format: "jsonl", maxLineBytes: ShardReader.defaultMaxLineBytes, pathLines: [])
                do {
                    let cwd = FileManager.default.currentDirectoryPath
                    for shard in try InputResolver.resolve(spec, base: cwd, recipePath: "darwin tokens") {
                        work.append(("-", nil, shard.path))
                    }
                } catch {
                    FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                    throw ExitCode(2)
                }
            }
            let shards = work.map(\.shard)
            let results = Mutex<[Result<Counts, ShardFailure>?]>(Array(repeating: nil, count: shards.count))
            let next = Atomic<Int>(0)
            let started = Date()
            let group = DispatchGroup()
            for _ in 0..<max(1, min(workers, shards.count)) {
                group.enter()
                Thread {
                    defer { group.leave() }
                    let encoder = t.makeEncoder()
                    var ids: [UInt32] = []
                    while case let i = next.wrappingAdd(1, ordering: .relaxed).oldValue, i < shards.count {
                        let counted = Result { () throws(ShardFailure) -> Counts in
                            do {
                                return try Self.count(shards[i], encoder, &ids)
                            } catch {
                                throw ShardFailure(message: "\(shards[i]): \(error)")
                            }
                        }
                        results.withLock { $0[i] = counted }
                    }
                }.start()
            }
            group.wait()
            let seconds = Date().timeIntervalSince(started)
            var byStage: [(name: String, level: Int?, counts: Counts)] = []
            for (i, w) in work.enumerated() {
                switch results.withLock({ $0[i] }) {
                case .failure(let f)?:
                    FileHandle.standardError.write(Data("darwin: error: \(f.message)\n".utf8))
                    throw ExitCode(1)
                case .success(let c)?:
                    if byStage.last?.name != w.stage { byStage.append((w.stage, w.level, Counts())) }
                    byStage[byStage.count - 1].counts.add(c)
                case nil:
                    throw ExitCode(1)
                }
            }
            let total = byStage.last?.counts.total ?? Group()
            if json {
                func n(_ i: Int) -> JSONValue { .number(JSONNumber(i)) }
                func groups(_ by: [String: Group]) -> JSONValue {
                    var o = JSONObject()
                    for (k, v) in by.sorted(by: { $0.key < $1.key }) {
                        o[k] = .object(
                            JSONObject([(key: "documents", value: n(v.documents)), (key: "tokens", value: n(v.tokens))])
                        )
                    }
                    return .object(o)
                }
                var stages: [JSONValue] = []
                for (name, level, counts) in byStage {
                    var o = JSONObject()
                    o["stage"] = .string(name)
                    o["level"] = level.map { .string("L\($0)") } ?? .null
                    o["documents"] = n(counts.total.documents)
                    o["tokens"] = n(counts.total.tokens)
                    o["bytes"] = n(counts.total.bytes)
                    o["by_source"] = groups(counts.bySource)
                    o["by_language"] = groups(counts.byLanguage)
                    stages.append(.object(o))
                }
                var root = JSONObject()
                root["tokenizer"] = .string(t.path)
                root["documents"] = n(total.documents)
                root["tokens"] = n(total.tokens)
                root["bytes"] = n(total.bytes)
                root["seconds"] = .number(JSONNumber((seconds * 1000).rounded() / 1000))
                root["stages"] = .array(stages)
                print(JSONWriter.string(.object(root)))
                return
            }
            print("tokens with \(t.path) (\(t.modelType), \(Format.count(t.vocabularySize)) tokens)")
            for (name, level, counts) in byStage {
                let g = counts.total
                let head = name == "-" ? "all shards" : "stage \(name)" + (level.map { " (L\($0))" } ?? "")
                print(
                    "\n\(head): \(Format.count(g.tokens)) tokens in \(Format.count(g.documents)) documents, "
                        + String(format: "%.2f", g.tokens > 0 ? Double(g.bytes) / Double(g.tokens) : 0)
                        + " bytes per token")
                for (kind, by) in [("source", counts.bySource), ("language", counts.byLanguage)] {
                    if by.isEmpty || by.keys.sorted() == ["-"] { continue }
                    let rows = by.sorted {
                        $0.value.tokens != $1.value.tokens ? $0.value.tokens > $1.value.tokens : $0.key < $1.key
                    }
                    print(
                        "  by \(kind): "
                            + rows.prefix(12).map {
                                "\($0.key) \(Format.count($0.value.tokens)) (\(Format.percent($0.value.tokens, of: g.tokens)))"
                            }.joined(separator: ", ") + (rows.count > 12 ? ", … \(rows.count - 12) more" : ""))
                }
            }
            print(
                "\ncounted in " + String(format: "%.2f s", seconds) + " ("
                    + Format.count(Int(Double(total.tokens) / max(seconds, 1e-9))) + " tokens/s)")
        }

        struct ShardFailure: Error { var message: String }

        /// The counts of one shard.
        static func count(_ path: String, _ encoder: Encoder, _ ids: inout [UInt32]) throws -> Counts {
            var c = Counts()
            let reader = try ShardReader(path: path)
            while let item = try reader.next() {
                guard case .document(let doc) = item else { continue }
                ids.removeAll(keepingCapacity: true)
                try encoder.encode(doc.text, into: &ids)
                let g = Group(documents: 1, tokens: ids.count, bytes: doc.textUTF8Count)
                c.total.add(g)
                c.bySource[doc.value(atPath: "metadata.source")?.stringValue ?? "-", default: Group()].add(g)
                c.byLanguage[doc.value(atPath: "metadata.language")?.stringValue ?? "-", default: Group()].add(g)
            }
            return c
        }
    }
}
