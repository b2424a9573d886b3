import DarwinCore
import Foundation
import GRDB

/// Every successful model answer, kept in an SQLite file so that a resumed or repeated job pays only for what
/// it has not got.
///
/// Keyed by an XXH3-128 of everything that changes an answer: the operation, the backend's model identity (the
/// GGUF file's content hash, or server URL and model name), the prompt template's hash, the rendered prompt
/// and the sampling parameters with the seed. Failures are never stored. WAL mode, one transaction per batch:
/// a killed process loses at most the batch it was answering. Several processes may share one file.
public final class ResponseCache: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// Opens or creates the cache file (and its folder).
    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(60)
        config.label = "response cache"
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS responses (
                            key TEXT PRIMARY KEY,
                            operation TEXT NOT NULL,
                            model TEXT NOT NULL,
                            value BLOB NOT NULL,
                            created_at REAL NOT NULL
                        ) WITHOUT ROWID
                        """)
            }
        } catch {
            throw LlamaError("\(path): cannot open the response cache: \(error)")
        }
    }

    /// The key of one answer.
    public static func key(operation: String, model: String, template: String, prompt: String, sampling: String)
        -> String
    {
        let material = ["darwin-response-v1", operation, model, template, prompt, sampling].joined(separator: "\u{1}")
        let h = Hashing.xxh128(material)
        return Hashing.hex(h.high) + Hashing.hex(h.low)
    }

    /// The stored values of the keys that are present.
    public func lookup<Value: Decodable>(_ keys: [String], as type: Value.Type) throws -> [String: Value] {
        guard !keys.isEmpty else { return [:] }
        let decoder = JSONDecoder()
        return try pool.read { db in
            var found: [String: Value] = [:]
            for chunk in stride(from: 0, to: keys.count, by: 500).map({ Array(keys[$0..<min(keys.count, $0 + 500)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(
                    db, sql: "SELECT key, value FROM responses WHERE key IN (\(marks))",
                    arguments: StatementArguments(chunk))
                for row in rows {
                    let data: Data = row["value"]
                    if let value = try? decoder.decode(Value.self, from: data) { found[row["key"]] = value }
                }
            }
            return found
        }
    }

    /// Stores answers in one transaction.
    public func store<Value: Encodable>(_ entries: [(key: String, value: Value)], operation: String, model: String)
        throws
    {
        guard !entries.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let now = Date().timeIntervalSince1970
        let encoded = try entries.map { ($0.key, try encoder.encode($0.value)) }
        try pool.write { db in
            for (key, data) in encoded {
                try db.execute(
                    sql:
                        "INSERT OR REPLACE INTO responses (key, operation, model, value, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [key, operation, model, data, now])
            }
        }
    }

    /// Answers stored, for statistics and tests.
    public func count() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM responses") ?? 0 }
    }
}
