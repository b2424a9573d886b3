import DarwinCore
import DarwinIO
import Foundation

/// `darwin inspect`: documents of a stage, those a step or rule dropped with the reason, or the input
/// errors; the first ones in shard order or a deterministic sample.
public struct Inspector {
    /// What to look at.
    public enum Selection: Sendable, Equatable {
        case kept
        /// Dropped documents, optionally only by one step (`min_length`) or rule (`min_length:too_short`).
        case rejected(by: String?)
        case errors
        /// The members of a near-duplicate cluster (minhash_dedup): the kept one and those dropped for it.
        case cluster(String)
    }

    public let outputDirectory: String
    public let stage: String
    public let selection: Selection
    /// Only documents that have this field (a dotted path such as `darwin.refine.kept_original`).
    public let field: String?

    public init(outputDirectory: String, stage: String, selection: Selection, having field: String? = nil) {
        self.outputDirectory = outputDirectory
        self.stage = stage
        self.selection = selection
        self.field = field
    }

    /// One document or error record shown.
    public struct Entry: Sendable {
        public var line: JSONValue
        public var shard: String
    }

    /// The shard files of the selection, sorted.
    public func files() throws(RunError) -> [String] {
        let dir = outputDirectory + "/" + stage
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw .output("\(outputDirectory) has no stage '\(stage)' output")
        }
        let roots: [String]
        switch selection {
        case .kept: roots = [dir]
        case .rejected: roots = [dir + "/_rejected"]
        case .errors: roots = [dir + "/_errors"]
        case .cluster: roots = [dir, dir + "/_rejected"]
        }
        var out: [String] = []
        for root in roots {
            guard let e = FileManager.default.enumerator(atPath: root) else { continue }
            var files: [String] = []
            while let rel = e.nextObject() as? String {
                if rel.hasPrefix("_") {
                    e.skipDescendants()
                    continue
                }
                if rel.hasSuffix(".jsonl.zst") { files.append(root + "/" + rel) }
            }
            out += files.sorted()
        }
        return out
    }

    /// Matching entries: the first `limit` in shard order, or, with a seed, the `limit` whose id hashes
    /// lowest (a uniform sample that is the same on every run).
    public func entries(limit: Int, sampleSeed: UInt64?) throws(RunError) -> [Entry] {
        var picked: [(key: UInt64, entry: Entry)] = []
        for path in try files() {
            let reader = try ShardReader.opened(path)
            let shard = (path as NSString).lastPathComponent
            while let item = try reader.nextItem() {
                var value: JSONValue
                var id: String
                switch item {
                case .document(let doc):
                    if let field, doc.value(atPath: field) == nil { continue }
                    if case .rejected(let by?) = selection {
                        guard let r = doc.rejection, r.step == by || r.rule == by else { continue }
                    }
                    if case .cluster(let cluster) = selection {
                        let id = JSONValue.string(cluster)
                        guard
                            doc.value(atPath: "metadata.dedup.cluster") == id
                                || doc.value(atPath: "darwin.rejected.detail.cluster") == id
                        else { continue }
                    }
                    value = (try? JSONValue.parse(doc.jsonString)) ?? .null
                    id = doc.id
                case .error(let record):
                    // Error shards are not documents (no id/text): read them as plain JSON.
                    guard let v = try? JSONValue.parse(record.raw) else { continue }
                    value = v
                    id = "\(v.objectValue?["shard"]?.stringValue ?? ""):\(v.objectValue?["line"]?.intValue ?? 0)"
                }
                let entry = Entry(line: value, shard: shard)
                if let seed = sampleSeed {
                    let key = Hashing.xxh64(id, seed: seed)
                    picked.append((key, entry))
                    if picked.count > limit * 4 {
                        picked.sort { $0.key < $1.key }
                        picked.removeLast(picked.count - limit)
                    }
                } else {
                    picked.append((0, entry))
                    if picked.count >= limit { return picked.map(\.entry) }
                }
            }
        }
        if sampleSeed != nil {
            picked.sort { $0.key < $1.key }
            return Array(picked.prefix(limit).map(\.entry))
        }
        return picked.map(\.entry)
    }

    /// A readable rendering: a header with id, shard and reason, then the text (cut at `maxChars`).
    public static func render(_ entry: Entry, maxChars: Int) -> String {
        guard let o = entry.line.objectValue else { return JSONWriter.string(entry.line) }
        var head = "── "
        if let id = o["id"] {
            head += (id.stringValue ?? JSONWriter.string(id)) + " · " + entry.shard
        } else {
            head += "\(o["shard"]?.stringValue ?? entry.shard) line \(o["line"]?.intValue ?? 0)"
        }
        if let r = o["darwin"]?.objectValue?["rejected"]?.objectValue {
            head += " · dropped by \(r["rule"]?.stringValue ?? "?")"
            if let d = r["detail"] { head += " " + JSONWriter.string(d) }
        }
        if let kind = o["kind"]?.stringValue, let error = o["error"]?.stringValue { head += " · \(kind): \(error)" }
        var body = o["text"]?.stringValue ?? o["raw"]?.stringValue ?? ""
        if body.count > maxChars { body = String(body.prefix(maxChars)) + " […]" }
        var meta: [String] = []
        for (k, v) in o
        where !["id", "text", "darwin", "raw", "raw_base64", "kind", "error", "shard", "line"].contains(k) {
            var s = JSONWriter.string(v)
            if s.count > 120 { s = String(s.prefix(120)) + "…" }
            meta.append("\(k): \(s)")
        }
        // What a model step recorded about the document's chunks (refine, complete).
        for (k, v) in o["darwin"]?.objectValue ?? JSONObject() where v.objectValue?["chunks"] != nil {
            var s = JSONWriter.string(v)
            if s.count > 300 { s = String(s.prefix(300)) + "…" }
            meta.append("darwin.\(k): \(s)")
        }
        return head + "\n" + (meta.isEmpty ? "" : meta.joined(separator: "\n") + "\n") + body + "\n"
    }
}

extension ShardReader {
    /// A reader of the shard at `path` for reports: failures are ``RunError/io(_:)``.
    static func opened(_ path: String) throws(RunError) -> ShardReader {
        do {
            return try ShardReader(path: path)
        } catch {
            throw .io("\(error)")
        }
    }

    /// The next item, for reports: failures are ``RunError/io(_:)``.
    func nextItem() throws(RunError) -> Item? {
        do {
            return try next()
        } catch {
            throw .io("\(error)")
        }
    }
}
