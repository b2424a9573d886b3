import CXXHash
import Foundation

/// A hash map from byte strings to values, compared as bytes (two token strings that Swift would call equal
/// — a precomposed letter and its decomposition — are different keys here).
struct ByteMap<Value> {
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var keyStarts: [Int32] = []
    private var keyLengths: [Int32] = []
    private(set) var values: [Value] = []
    private var arena: [UInt8] = []
    private var mask: Int

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { values.count }
    var arenaBytes: Int { arena.count }

    @inline(__always) static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        XXH3_64bits(key.baseAddress, key.count)
    }

    /// The value of `key`, if any.
    @inline(__always) func get(_ key: UnsafeBufferPointer<UInt8>) -> Value? {
        let h = Self.hash(key)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[i])
            if e < 0 { return nil }
            if hashes[e] == h && Int(keyLengths[e]) == key.count && equal(e, key) { return values[e] }
            i = (i + 1) & mask
        }
    }

    func get(_ key: [UInt8]) -> Value? { key.withUnsafeBufferPointer { get($0) } }

    private func equal(_ e: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(keyStarts[e])
        return arena.withUnsafeBufferPointer { a in
            guard key.count > 0, let base = a.baseAddress, let k = key.baseAddress else { return true }
            return memcmp(base + start, k, key.count) == 0
        }
    }

    /// Sets `key` to `value` (a later value for the same key replaces the earlier one).
    mutating func set(_ key: UnsafeBufferPointer<UInt8>, _ value: Value) {
        let h = Self.hash(key)
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[i])
            if e < 0 { break }
            if hashes[e] == h && Int(keyLengths[e]) == key.count && equal(e, key) {
                values[e] = value
                return
            }
            i = (i + 1) & mask
        }
        slots[i] = Int32(values.count)
        hashes.append(h)
        keyStarts.append(Int32(arena.count))
        keyLengths.append(Int32(key.count))
        arena.append(contentsOf: key)
        values.append(value)
        if values.count * 2 > slots.count { grow() }
    }

    mutating func set(_ key: [UInt8], _ value: Value) { key.withUnsafeBufferPointer { set($0, value) } }

    /// Every key, in insertion order, with its value.
    func forEach(_ body: ([UInt8], Value) -> Void) {
        for e in values.indices {
            let s = Int(keyStarts[e])
            body(Array(arena[s..<s + Int(keyLengths[e])]), values[e])
        }
    }

    mutating func removeAll() {
        for i in slots.indices { slots[i] = -1 }
        hashes.removeAll(keepingCapacity: true)
        keyStarts.removeAll(keepingCapacity: true)
        keyLengths.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for e in hashes.indices {
            var i = Int(truncatingIfNeeded: hashes[e]) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(e)
        }
    }
}

extension ByteMap: @unchecked Sendable where Value: Sendable {}

/// An open-addressing map from pairs of token ids to a merge (rank << 32 | merged id), with a cheap hash:
/// merges are looked up for every pair of symbols a word has, so this is the BPE model's hot loop.
struct PairMap: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    @inline(__always) subscript(_ a: UInt32, _ b: UInt32) -> UInt64? {
        let key = UInt64(a) << 32 | UInt64(b)
        var i = Self.slot(key, mask)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }

    /// Sets a pair (a later merge of the same pair replaces the earlier one, as in `tokenizers`).
    mutating func set(_ a: UInt32, _ b: UInt32, _ value: UInt64) {
        if (count + 1) * 2 > keys.count { grow() }
        let key = UInt64(a) << 32 | UInt64(b)
        var i = Self.slot(key, mask)
        while keys[i] != Self.empty && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == Self.empty { count += 1 }
        keys[i] = key
        values[i] = value
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
        values = [UInt64](repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        for (k, v) in zip(oldKeys, oldValues) where k != Self.empty {
            var i = Self.slot(k, mask)
            while keys[i] != Self.empty { i = (i + 1) & mask }
            keys[i] = k
            values[i] = v
        }
    }
}
