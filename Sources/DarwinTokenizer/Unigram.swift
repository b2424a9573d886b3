/// A Unigram model as `tokenizers` runs it: the best-scoring segmentation (Viterbi over the pieces found by
/// a prefix trie), unknown characters at the lowest score minus 10 and fused, then byte fallback.
struct UnigramModel: Sendable {
    var pieces: ByteMap<UInt32>
    var scores: [Double]
    var unk: UInt32?
    var byteFallback: Bool
    var minScore: Double
    var byteTokens: [Int32]
    private var trie: ByteTrie

    init(vocab: [([UInt8], Double)], unk: UInt32?, byteFallback: Bool) {
        var map = ByteMap<UInt32>(capacity: vocab.count)
        var trie = ByteTrie()
        var minScore = Double.infinity
        for (id, (piece, score)) in vocab.enumerated() {
            map.set(piece, UInt32(id))
            if score < minScore { minScore = score }
        }
        // A piece listed twice takes its last id, in the trie as in the map.
        for (piece, _) in vocab { trie.insert(piece, id: Int32(map.get(piece) ?? 0)) }
        pieces = map
        scores = vocab.map(\.1)
        self.unk = unk
        self.byteFallback = byteFallback
        self.minScore = minScore
        self.trie = trie
        byteTokens = ByteLevel.fallbackIds(map)
    }

    func encode(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt32]) throws(TokenizerError) {
        let size = text.count
        if size == 0 { return }
        let unkScore = minScore - 10
        var bestScore = [Double](repeating: 0, count: size + 1)
        var startsAt = [Int](repeating: -1, count: size + 1)
        var ids = [Int](repeating: 0, count: size + 1)
        var pos = 0
        while pos < size {
            let here = bestScore[pos]
            let charLength = UTF8Scalars.length(text[pos])
            var single = false
            trie.prefixes(of: text, from: pos) { end, id in
                let score = scores[Int(id)] + here
                if startsAt[end] < 0 || score > bestScore[end] {
                    bestScore[end] = score
                    startsAt[end] = pos
                    ids[end] = Int(id)
                }
                if end - pos == charLength { single = true }
            }
            if !single {
                // An unknown character (id -1 when the model has no unk_id: an error only if that path wins).
                let end = pos + charLength
                let score = unkScore + here
                if startsAt[end] < 0 || score > bestScore[end] {
                    bestScore[end] = score
                    startsAt[end] = pos
                    ids[end] = unk.map { Int($0) } ?? -1
                }
            }
            pos += charLength
        }
        // Walk back; runs of unknown pieces fuse into one.
        var spans: [(Int, Int)] = []
        var end = size
        var unkEnd = -1
        while end > 0 {
            let start = startsAt[end]
            if ids[end] < 0 { throw TokenizerError("the Unigram model has no unk_id for a character it lacks") }
            if let unk, ids[end] == Int(unk) {
                if unkEnd < 0 { unkEnd = end }
            } else {
                if unkEnd >= 0 {
                    spans.append((end, unkEnd))
                    unkEnd = -1
                }
                spans.append((start, end))
            }
            end = start
        }
        if unkEnd >= 0 { spans.append((0, unkEnd)) }
        for (a, b) in spans.reversed() {
            let piece = UnsafeBufferPointer(rebasing: text[a..<b])
            if let id = pieces.get(piece) {
                out.append(id)
            } else if byteFallback, piece.allSatisfy({ byteTokens[Int($0)] >= 0 }) {
                for b in piece { out.append(UInt32(byteTokens[Int(b)])) }
            } else if let unk {
                out.append(unk)
            } else {
                throw TokenizerError("the Unigram model has no unk_id for a character it lacks")
            }
        }
    }
}

/// A byte trie of the Unigram pieces: nodes in flat arrays, children found through one hash map.
struct ByteTrie: Sendable {
    private var children: [UInt64: Int32] = [:]  // node << 8 | byte → child
    private var terminal: [Int32] = [-1]  // the piece id ending at each node, -1 when none

    mutating func insert(_ key: [UInt8], id: Int32) {
        var node: Int32 = 0
        for b in key {
            let k = UInt64(node) << 8 | UInt64(b)
            if let c = children[k] {
                node = c
            } else {
                let c = Int32(terminal.count)
                terminal.append(-1)
                children[k] = c
                node = c
            }
        }
        terminal[Int(node)] = id
    }

    /// Calls `body(end, _)` for every piece that starts at `from`, shortest first.
    func prefixes(of text: UnsafeBufferPointer<UInt8>, from: Int, _ body: (Int, Int32) -> Void) {
        var node: Int32 = 0
        var i = from
        while i < text.count {
            guard let c = children[UInt64(node) << 8 | UInt64(text[i])] else { return }
            node = c
            i += 1
            if terminal[Int(node)] >= 0 { body(i, terminal[Int(node)]) }
        }
    }
}
