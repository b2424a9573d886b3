/// An open-addressing table of 64-bit keys (already hashes) with a count and the first position of each,
/// reused from document to document so counting n-grams allocates nothing in the steady state.
final class HashCounter {
    private var keys: UnsafeMutablePointer<UInt64>
    private var counts: UnsafeMutablePointer<Int32>
    private var firsts: UnsafeMutablePointer<Int32>
    private var capacity: Int
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        self.capacity = 1
        while self.capacity < capacity { self.capacity <<= 1 }
        mask = self.capacity - 1
        keys = .allocate(capacity: self.capacity)
        counts = .allocate(capacity: self.capacity)
        firsts = .allocate(capacity: self.capacity)
        keys.initialize(repeating: 0, count: self.capacity)
    }

    deinit {
        keys.deallocate()
        counts.deallocate()
        firsts.deallocate()
    }

    /// Empties the table, sized for up to `n` keys.
    func reset(expected n: Int) {
        var want = 16
        while want < n * 2 { want <<= 1 }
        if want > capacity || want * 8 < capacity {
            keys.deallocate()
            counts.deallocate()
            firsts.deallocate()
            capacity = want
            keys = .allocate(capacity: capacity)
            counts = .allocate(capacity: capacity)
            firsts = .allocate(capacity: capacity)
        }
        mask = capacity - 1
        keys.initialize(repeating: 0, count: capacity)
        count = 0
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
        while true {
            let k = keys[i]
            if k == key || k == 0 { return i }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    private static func nonzero(_ key: UInt64) -> UInt64 { key == 0 ? 0x5851_F42D_4C95_7F2D : key }

    /// Adds one occurrence at `position`; returns (count after, first position).
    @inline(__always)
    func add(_ key: UInt64, at position: Int) -> (count: Int, first: Int) {
        let k = Self.nonzero(key)
        let i = slot(k)
        if keys[i] == 0 {
            keys[i] = k
            counts[i] = 1
            firsts[i] = Int32(truncatingIfNeeded: position)
            count += 1
            return (1, position)
        }
        counts[i] += 1
        return (Int(counts[i]), Int(firsts[i]))
    }

    /// Inserts; returns false when the key was already there.
    @inline(__always)
    func insert(_ key: UInt64) -> Bool {
        let k = Self.nonzero(key)
        let i = slot(k)
        if keys[i] != 0 { return false }
        keys[i] = k
        counts[i] = 1
        firsts[i] = 0
        count += 1
        return true
    }

    @inline(__always)
    func contains(_ key: UInt64) -> Bool { keys[slot(Self.nonzero(key))] != 0 }
}

/// Powers of the n-gram hash base, extended on demand.
final class HashPowers {
    private(set) var table: [UInt64] = [1]

    @inline(__always)
    func power(_ n: Int) -> UInt64 {
        if n >= table.count { extend(to: n) }
        return table[n]
    }

    private func extend(to n: Int) {
        table.reserveCapacity(n + 1)
        while table.count <= n { table.append(NGramHash.mulmod(table[table.count - 1], NGramHash.base)) }
    }
}
