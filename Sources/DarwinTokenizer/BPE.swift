/// A byte-pair-encoding model as `tokenizers` runs it: a word's characters looked up in the vocabulary (or
/// its bytes, with byte fallback, or the unknown token), then merged lowest rank first, leftmost first
/// among equal ranks.
struct BPEModel: Sendable {
    var vocab: ByteMap<UInt32>
    /// (left id, right id) → (rank << 32 | merged id)
    var merges: PairMap
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
    /// The `unk_token` the file names when the vocabulary lacks it: `tokenizers` fails on the first
    /// character that needs it.
    var missingUnk: String? = nil
    /// The id of every one-character token below U+30000, -1 when the vocabulary lacks it.
    var scalarIds: [Int32]

    init(
        vocab: ByteMap<UInt32>, merges: PairMap, unk: UInt32?, fuseUnk: Bool, byteFallback: Bool,
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
        var scalars = [Int32](repeating: -1, count: 0x30000)
        vocab.forEach { key, id in
            key.withUnsafeBufferPointer { k in
                guard !k.isEmpty else { return }
                let (c, n) = UTF8Scalars.decode(k, 0)
                if n == k.count && c < 0x30000 { scalars[Int(c)] = Int32(truncatingIfNeeded: id) }
            }
        }
        scalarIds = scalars
        byteTokens = ByteLevel.fallbackIds(vocab)
    }

    private struct Symbol {
        var id: UInt32
        var prev: Int32
        var next: Int32
        var alive: Bool
    }

    /// Appends the ids of one pre-token to `out`. `byteLevel`: the bytes are raw and stand for their
    /// byte-level characters.
    func encode(_ word: UnsafeBufferPointer<UInt8>, byteLevel: Bool, into out: inout [UInt32]) throws(TokenizerError) {
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
            // Fast path: a character with a token of its own and no prefix or suffix to add.
            if !byteLevel && continuingPrefix == nil && endSuffix == nil {
                let (c, _) = UTF8Scalars.decode(word, i)
                if c < 0x30000, scalarIds[Int(c)] >= 0 {
                    if let u = pendingUnk {
                        add(u)
                        pendingUnk = nil
                    }
                    add(UInt32(scalarIds[Int(c)]))
                    i += n
                    continue
                }
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
            } else if let missingUnk {
                throw TokenizerError("the unk_token \(missingUnk.debugDescription) is not in the vocabulary")
            }
        }
        if let u = pendingUnk { add(u) }
        if symbols.isEmpty { return }
        symbols[symbols.count - 1].next = -1
        mergeAll(&symbols)
        for s in symbols where s.alive { out.append(s.id) }
    }

    @inline(__always) private func merge(_ a: UInt32, _ b: UInt32) -> UInt64? { merges[a, b] }

    private func mergeAll(_ symbols: inout [Symbol]) {
        if symbols.count < 2 { return }
        var heap = MergeHeap()
        heap.reserve(symbols.count)
        for p in 0..<(symbols.count - 1) {
            if let m = merge(symbols[p].id, symbols[p + 1].id) {
                heap.push(rank: UInt32(m >> 32), pos: UInt32(p), newId: UInt32(truncatingIfNeeded: m))
            }
        }
        symbols.withUnsafeMutableBufferPointer { s in
            while let top = heap.pop() {
                let pos = Int(top.pos)
                guard s[pos].alive, s[pos].next >= 0 else { continue }
                let nextPos = Int(s[pos].next)
                let right = s[nextPos]
                guard let m = merge(s[pos].id, right.id), UInt32(truncatingIfNeeded: m) == top.newId else { continue }
                s[pos].id = top.newId
                s[pos].next = right.next
                s[nextPos].alive = false
                if right.next >= 0 { s[Int(right.next)].prev = Int32(pos) }
                let current = s[pos]
                if current.prev >= 0, let m2 = merge(s[Int(current.prev)].id, current.id) {
                    heap.push(rank: UInt32(m2 >> 32), pos: UInt32(current.prev), newId: UInt32(truncatingIfNeeded: m2))
                }
                if current.next >= 0, let m3 = merge(current.id, s[Int(current.next)].id) {
                    heap.push(rank: UInt32(m3 >> 32), pos: UInt32(pos), newId: UInt32(truncatingIfNeeded: m3))
                }
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

    mutating func reserve(_ n: Int) { items.reserveCapacity(n) }

    @inline(__always) mutating func push(rank: UInt32, pos: UInt32, newId: UInt32) {
        let e = Entry(key: UInt64(rank) << 32 | UInt64(pos), newId: newId)
        items.append(e)
        items.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) >> 1
                if h[parent].key <= e.key { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    @inline(__always) mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items.withUnsafeMutableBufferPointer { h in
            // Sift the last entry down from the root, moving the hole rather than swapping.
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var m = l
                if l + 1 < n && h[l + 1].key < h[l].key { m = l + 1 }
                if h[m].key >= last.key { break }
                h[i] = h[m]
                i = m
            }
            h[i] = last
        }
        return first
    }
}
