/// A byte-pair-encoding model as `tokenizers` runs it: a word's characters looked up in the vocabulary (or
/// its bytes, with byte fallback, or the unknown token), then merged lowest rank first, leftmost first
/// among equal ranks.
struct BPEModel: Sendable {
    var vocab: ByteMap<UInt32>
    /// (left id << 32 | right id) → (rank << 32 | merged id)
    var merges: [UInt64: UInt64]
    var unk: UInt32?
    var fuseUnk: Bool
    var byteFallback: Bool
    var ignoreMerges: Bool
    var continuingPrefix: [UInt8]?
    var endSuffix: [UInt8]?
    /// The id of every byte's byte-level character, -1 when the vocabulary lacks it.
    var byteLevelIds: [Int32]
    /// The id of `<0xXX>` for every byte, -1 when missing.
    var byteTokens: [Int32]

    init(
        vocab: ByteMap<UInt32>, merges: [UInt64: UInt64], unk: UInt32?, fuseUnk: Bool, byteFallback: Bool,
        ignoreMerges: Bool, continuingPrefix: [UInt8]?, endSuffix: [UInt8]?
    ) {
        self.vocab = vocab
        self.merges = merges
        self.unk = unk
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        self.continuingPrefix = continuingPrefix
        self.endSuffix = endSuffix
        byteLevelIds = ByteLevel.mapped.map { vocab.get($0).map { Int32($0) } ?? -1 }
        byteTokens = (0..<256).map { b in
            let name = Array("<0x\(String(b, radix: 16, uppercase: true).leftPadded(2))>".utf8)
            return vocab.get(name).map { Int32($0) } ?? -1
        }
    }

    private struct Symbol {
        var id: UInt32
        var prev: Int32
        var next: Int32
        var alive: Bool
    }

    /// Appends the ids of one pre-token to `out`. `byteLevel`: the bytes are raw and stand for their
    /// byte-level characters.
    func encode(_ word: UnsafeBufferPointer<UInt8>, byteLevel: Bool, into out: inout [UInt32]) {
        if word.isEmpty { return }
        if ignoreMerges {
            if byteLevel {
                var mapped: [UInt8] = []
                mapped.reserveCapacity(word.count * 2)
                for b in word { mapped += ByteLevel.mapped[Int(b)] }
                if let id = vocab.get(mapped) {
                    out.append(id)
                    return
                }
            } else if let id = vocab.get(word) {
                out.append(id)
                return
            }
        }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        func add(_ id: UInt32) {
            symbols.append(Symbol(id: id, prev: Int32(symbols.count - 1), next: Int32(symbols.count + 1), alive: true))
        }
        var pendingUnk: UInt32? = nil
        var i = 0
        var piece: [UInt8] = []
        while i < word.count {
            let n = byteLevel ? 1 : UTF8Scalars.length(word[i])
            let isFirst = i == 0
            let isLast = i + n >= word.count
            // Fast path: a byte-level byte with no prefix or suffix to add.
            if byteLevel && continuingPrefix == nil && endSuffix == nil, byteLevelIds[Int(word[i])] >= 0 {
                if let u = pendingUnk {
                    add(u)
                    pendingUnk = nil
                }
                add(UInt32(byteLevelIds[Int(word[i])]))
                i += 1
                continue
            }
            piece.removeAll(keepingCapacity: true)
            if !isFirst, let prefix = continuingPrefix { piece += prefix }
            if byteLevel { piece += ByteLevel.mapped[Int(word[i])] } else { piece += word[i..<i + n] }
            if isLast, let suffix = endSuffix { piece += suffix }
            i += n
            if let id = vocab.get(piece) {
                if let u = pendingUnk {
                    add(u)
                    pendingUnk = nil
                }
                add(id)
                continue
            }
            if byteFallback, piece.allSatisfy({ byteTokens[Int($0)] >= 0 }) {
                for b in piece { add(UInt32(byteTokens[Int(b)])) }
                continue
            }
            if let u = unk {
                if let pending = pendingUnk, !fuseUnk { add(pending) }
                if pendingUnk == nil || !fuseUnk { pendingUnk = u }
            }
        }
        if let u = pendingUnk { add(u) }
        if symbols.isEmpty { return }
        symbols[symbols.count - 1].next = -1
        mergeAll(&symbols)
        for s in symbols where s.alive { out.append(s.id) }
    }

    private func merge(_ a: UInt32, _ b: UInt32) -> UInt64? {
        merges[UInt64(a) << 32 | UInt64(b)]
    }

    private func mergeAll(_ symbols: inout [Symbol]) {
        if symbols.count < 2 { return }
        var heap = MergeHeap()
        for p in 0..<(symbols.count - 1) {
            if let m = merge(symbols[p].id, symbols[p + 1].id) {
                heap.push(rank: UInt32(m >> 32), pos: UInt32(p), newId: UInt32(truncatingIfNeeded: m))
            }
        }
        while let top = heap.pop() {
            let pos = Int(top.pos)
            guard symbols[pos].alive, symbols[pos].next >= 0 else { continue }
            let nextPos = Int(symbols[pos].next)
            let right = symbols[nextPos]
            guard let m = merge(symbols[pos].id, right.id), UInt32(truncatingIfNeeded: m) == top.newId else { continue }
            symbols[pos].id = top.newId
            symbols[pos].next = right.next
            symbols[nextPos].alive = false
            if right.next >= 0 { symbols[Int(right.next)].prev = Int32(pos) }
            let current = symbols[pos]
            if current.prev >= 0, let m2 = merge(symbols[Int(current.prev)].id, current.id) {
                heap.push(rank: UInt32(m2 >> 32), pos: UInt32(current.prev), newId: UInt32(truncatingIfNeeded: m2))
            }
            if current.next >= 0, let m3 = merge(current.id, symbols[Int(current.next)].id) {
                heap.push(rank: UInt32(m3 >> 32), pos: UInt32(pos), newId: UInt32(truncatingIfNeeded: m3))
            }
        }
    }
}

/// A min-heap of merges ordered by rank, then position.
struct MergeHeap {
    struct Entry {
        var key: UInt64  // rank << 32 | pos
        var newId: UInt32
        var pos: UInt32 { UInt32(truncatingIfNeeded: key) }
    }
    private var items: [Entry] = []

    mutating func push(rank: UInt32, pos: UInt32, newId: UInt32) {
        items.append(Entry(key: UInt64(rank) << 32 | UInt64(pos), newId: newId))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent].key <= items[i].key { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < items.count && items[l].key < items[m].key { m = l }
                if r < items.count && items[r].key < items[m].key { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
