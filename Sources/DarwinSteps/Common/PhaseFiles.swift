import DarwinIO

/// Reading the files global steps pass between phases.
enum PhaseFiles {
    /// Reads section `section` of each file in turn: `body` gets the file's position in `paths` and a reader
    /// over the section.
    static func forEachSection(
        _ section: Int, of paths: [String], magic: UInt32, count: Int? = nil, what: String,
        _ body: (Int, inout ByteReader) throws -> Void
    ) throws {
        for (k, path) in paths.enumerated() {
            var r = try SectionedFile.section(section, of: path, magic: magic, count: count, what: what)
            try body(k, &r)
        }
    }

    /// Calls `body` with the range of every run of consecutive elements with the same key in a sorted array.
    static func forEachRun<T>(_ sorted: [T], sameKey: (T, T) -> Bool, _ body: (Range<Int>) throws -> Void) rethrows {
        var i = 0
        while i < sorted.count {
            var j = i + 1
            while j < sorted.count && sameKey(sorted[i], sorted[j]) { j += 1 }
            try body(i..<j)
            i = j
        }
    }
}
