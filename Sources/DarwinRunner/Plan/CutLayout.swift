import DarwinCore
import DarwinIO
import Foundation

/// How a stage that cuts its output by size splits the documents its last pass kept into shards.
///
/// The last pass writes each input shard's kept documents, in order, to `_work/cut/` with the size of every
/// line. Once every such task is done (on every rank), the cut is laid out from those sizes alone — so the
/// same input and recipe give the same shards, whatever the number of ranks or workers — and saved as
/// `STAGE/_cut.json`; then one task per output shard copies its range of documents. Shards are named
/// `part-00000`, `part-00001`, … in order; a new one starts when the current one reaches the target (bytes
/// of JSON lines, newlines included, or documents), so every shard but the last holds at least the target
/// and at most the target plus one document.
public struct CutLayout: Sendable, Equatable, Codable {
    /// A position in the documents of the last pass: input shard index, then document index in that shard.
    public struct Position: Sendable, Equatable, Codable {
        public var shard: Int
        public var document: Int
    }

    /// One output shard: the documents from `from` (included) to `to` (excluded).
    public struct Shard: Sendable, Equatable, Codable {
        public var name: String
        public var from: Position
        public var to: Position
        public var documents: Int
        public var bytes: Int
    }

    /// `bytes` or `documents`, and the target.
    public var unit: String
    public var target: Int
    public var shards: [Shard]

    /// The recorded layout of a stage, if any.
    static func load(_ stage: StageLayout) throws -> CutLayout? {
        let path = stage.cutLayout
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(CutLayout.self, from: data)
        } catch {
            throw TaskFailure.failed("\(path): not a cut layout (\(error)); remove it to lay the cut out again")
        }
    }

    /// Lays out the cut from the sizes the last pass recorded for each of `shards` (in order) and saves it.
    static func make(_ stage: StageLayout, shards: [String], cut: ShardCut) throws -> CutLayout {
        let (unit, target): (String, Int)
        switch cut {
        case .bytes(let b): (unit, target) = ("bytes", b)
        case .documents(let d): (unit, target) = ("documents", d)
        }
        var ranges: [(from: Position, to: Position, documents: Int, bytes: Int)] = []
        var current: (from: Position, documents: Int, bytes: Int)?
        for (i, name) in shards.enumerated() {
            let sizes = try BinaryFile.read(stage.cutSizes(name))
            var r = ByteReader(sizes, path: stage.cutSizes(name))
            var d = 0
            while !r.isAtEnd {
                let size = Int(try r.uint64())
                if current == nil { current = (Position(shard: i, document: d), 0, 0) }
                current?.documents += 1
                current?.bytes += size
                d += 1
                if let c = current, (unit == "bytes" ? c.bytes : c.documents) >= target {
                    ranges.append((c.from, Position(shard: i, document: d), c.documents, c.bytes))
                    current = nil
                }
            }
        }
        if let c = current {
            let last = shards.count - 1
            let end = Position(shard: last, document: BinaryFile.size(stage.cutSizes(shards[last])) / 8)
            ranges.append((c.from, end, c.documents, c.bytes))
        }
        let width = max(5, String(max(0, ranges.count - 1)).count)
        let layout = CutLayout(
            unit: unit, target: target,
            shards: ranges.enumerated().map { k, r in
                let digits = String(k)
                let name = "part-" + String(repeating: "0", count: max(0, width - digits.count)) + digits
                return Shard(name: name, from: r.from, to: r.to, documents: r.documents, bytes: r.bytes)
            })
        try layout.save(stage)
        return layout
    }

    /// Writes `_cut.json` atomically; ranks that lay out the same cut write the same bytes.
    func save(_ stage: StageLayout) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let path = stage.cutLayout
        let temporary = path + ".tmp-\(getpid())"
        try encoder.encode(self).write(to: URL(fileURLWithPath: temporary))
        try AtomicFiles.commit([(temporary, path)])
    }
}
