import ArgumentParser
import DarwinCore
import DarwinIO
import DarwinRunner
import DarwinTokenizer
import Foundation

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

        struct Group { var documents = 0, tokens = 0, bytes = 0 }

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
                for p in paths { for f in Self.shards(p) { work.append(("-", nil, f)) } }
            }
            guard !work.isEmpty else {
                FileHandle.standardError.write(
                    Data("darwin: error: no shards in \(paths.joined(separator: " "))\n".utf8))
                throw ExitCode(2)
            }
            let shards = work.map(\.shard)
            let results = LockedResults<[String: Group]>(count: work.count)
            let next = LockedCounter()
            let started = Date()
            let group = DispatchGroup()
            for _ in 0..<max(1, min(workers, work.count)) {
                group.enter()
                Thread {
                    defer { group.leave() }
                    let encoder = t.makeEncoder()
                    var ids: [UInt32] = []
                    while let i = next.take(below: shards.count) {
                        var groups: [String: Group] = [:]
                        do {
                            let reader = try ShardReader(path: shards[i])
                            while let item = try reader.next() {
                                guard case .document(let doc) = item else { continue }
                                ids.removeAll(keepingCapacity: true)
                                try encoder.encode(doc.text, into: &ids)
                                let source = doc.value(atPath: "metadata.source")?.stringValue ?? "-"
                                let language = doc.value(atPath: "metadata.language")?.stringValue ?? "-"
                                for key in ["", "source\t" + source, "language\t" + language] {
                                    groups[key, default: Group()].documents += 1
                                    groups[key, default: Group()].tokens += ids.count
                                    groups[key, default: Group()].bytes += doc.textUTF8Count
                                }
                            }
                            results.set(i, .success(groups))
                        } catch {
                            results.set(i, .failure("\(shards[i]): \(error)"))
                        }
                    }
                }.start()
            }
            group.wait()
            let seconds = Date().timeIntervalSince(started)
            // Totals per stage, then per stage and source or language.
            var byStage: [(String, Int?, [String: Group])] = []
            for (i, w) in work.enumerated() {
                switch results.get(i) {
                case .failure(let message):
                    FileHandle.standardError.write(Data("darwin: error: \(message)\n".utf8))
                    throw ExitCode(1)
                case .success(let groups):
                    if byStage.last?.0 != w.stage { byStage.append((w.stage, w.level, [:])) }
                    for (k, g) in groups {
                        byStage[byStage.count - 1].2[k, default: Group()].documents += g.documents
                        byStage[byStage.count - 1].2[k, default: Group()].tokens += g.tokens
                        byStage[byStage.count - 1].2[k, default: Group()].bytes += g.bytes
                    }
                }
            }
            let total = byStage.last?.2[""] ?? Group()
            if json {
                func n(_ i: Int) -> JSONValue { .number(JSONNumber(i)) }
                var stages: [JSONValue] = []
                for (name, level, groups) in byStage {
                    var o = JSONObject()
                    o["stage"] = .string(name)
                    o["level"] = level.map { .string("L\($0)") } ?? .null
                    let g = groups[""] ?? Group()
                    o["documents"] = n(g.documents)
                    o["tokens"] = n(g.tokens)
                    o["bytes"] = n(g.bytes)
                    for kind in ["source", "language"] {
                        var by = JSONObject()
                        for (k, v) in groups.sorted(by: { $0.key < $1.key }) where k.hasPrefix(kind + "\t") {
                            by[String(k.dropFirst(kind.count + 1))] = .object(
                                JSONObject([
                                    (key: "documents", value: n(v.documents)), (key: "tokens", value: n(v.tokens)),
                                ]))
                        }
                        o["by_" + kind] = .object(by)
                    }
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
            for (name, level, groups) in byStage {
                let g = groups[""] ?? Group()
                let head = name == "-" ? "all shards" : "stage \(name)" + (level.map { " (L\($0))" } ?? "")
                print(
                    "\n\(head): \(Format.count(g.tokens)) tokens in \(Format.count(g.documents)) documents, "
                        + String(format: "%.2f", g.tokens > 0 ? Double(g.bytes) / Double(g.tokens) : 0)
                        + " bytes per token")
                for kind in ["source", "language"] {
                    let rows = groups.filter { $0.key.hasPrefix(kind + "\t") }
                        .sorted {
                            $0.value.tokens != $1.value.tokens ? $0.value.tokens > $1.value.tokens : $0.key < $1.key
                        }
                    if rows.count <= 1 && rows.first?.key == kind + "\t-" { continue }
                    print(
                        "  by \(kind): "
                            + rows.prefix(12).map {
                                "\($0.key.dropFirst(kind.count + 1)) \(Format.count($0.value.tokens)) (\(Format.percent($0.value.tokens, of: g.tokens)))"
                            }.joined(separator: ", ") + (rows.count > 12 ? ", … \(rows.count - 12) more" : ""))
                }
            }
            print(
                "\ncounted in " + String(format: "%.2f s", seconds) + " ("
                    + Format.count(Int(Double(total.tokens) / max(seconds, 1e-9))) + " tokens/s)")
        }

        /// The JSONL shards under a path (itself when it is a file), in name order.
        static func shards(_ path: String) -> [String] {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [] }
            guard isDir.boolValue else { return [path] }
            let all = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []
            return all.filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".jsonl.zst") || $0.hasSuffix(".jsonl.gz") }
                .sorted().map { path + "/" + $0 }
        }
    }
}

/// Results by index, written from many threads.
final class LockedResults<T>: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var values: [Result<T, Failure>?]
    struct Failure: Error { var message: String }
    enum Outcome { case success(T), failure(String) }

    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ o: Outcome) {
        lock.withLock {
            switch o {
            case .success(let v): values[i] = .success(v)
            case .failure(let m): values[i] = .failure(Failure(message: m))
            }
        }
    }
    func get(_ i: Int) -> Outcome {
        lock.withLock {
            switch values[i] {
            case .success(let v)?: return .success(v)
            case .failure(let f)?: return .failure(f.message)
            case nil: return .failure("not counted")
            }
        }
    }
}

/// Hands out indices once each.
final class LockedCounter: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var next = 0
    func take(below n: Int) -> Int? {
        lock.withLock {
            guard next < n else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
