import CXXHash

/// Fast non-cryptographic hashes (xxHash) used for sampling, dedup keys and checksums.
public enum Hashing {
    /// XXH64 of UTF-8 bytes with a seed.
    public static func xxh64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        XXH64(bytes.baseAddress, bytes.count, seed)
    }

    /// XXH64 of a string's UTF-8 with a seed.
    public static func xxh64(_ string: String, seed: UInt64 = 0) -> UInt64 {
        var s = string
        return s.withUTF8 { XXH64($0.baseAddress, $0.count, seed) }
    }

    /// XXH3 128-bit hash of UTF-8 bytes.
    public static func xxh128(_ bytes: UnsafeRawBufferPointer) -> (high: UInt64, low: UInt64) {
        let h = XXH3_128bits(bytes.baseAddress, bytes.count)
        return (h.high64, h.low64)
    }

    /// XXH3 128-bit hash of a string's UTF-8.
    public static func xxh128(_ string: String) -> (high: UInt64, low: UInt64) {
        var s = string
        return s.withUTF8 { xxh128(UnsafeRawBufferPointer($0)) }
    }

    /// A value in [0, 1) derived from a string and a seed, uniform and stable across runs and machines.
    public static func unitInterval(_ string: String, seed: UInt64) -> Double {
        Double(xxh64(string, seed: seed) >> 11) * 0x1.0p-53
    }

    /// Lower-case hexadecimal, zero-padded to 16 digits.
    public static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// An incremental XXH3 128-bit hash, for checksums of files as they are written.
public final class StreamingHash128 {
    private let state: OpaquePointer

    public init() {
        guard let s = XXH3_createState() else { preconditionFailure("XXH3_createState failed: out of memory") }
        state = s
        XXH3_128bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    /// Adds bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        _ = XXH3_128bits_update(state, bytes.baseAddress, bytes.count)
    }

    /// The digest so far as 32 lower-case hex digits.
    public var hexDigest: String {
        let h = XXH3_128bits_digest(state)
        return Hashing.hex(h.high64) + Hashing.hex(h.low64)
    }
}
