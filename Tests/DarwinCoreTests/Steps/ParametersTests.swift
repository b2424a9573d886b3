import DarwinCore
import Testing

@Suite struct ParametersTests {
    let specs = [
        ParameterSpec("min", .integer(min: 0), default: 1, "minimum"),
        ParameterSpec("fraction", .number(min: 0, max: 1), default: nil, "share"),
        ParameterSpec("unit", .choice(["chars", "bytes"]), default: "chars", "unit"),
        ParameterSpec("size", .byteSize, default: "8KB", "size"),
        ParameterSpec("langs", .stringList, default: ["en"], "languages"),
        ParameterSpec("limit", .integer(), default: .null, "optional"),
    ]

    @Test func defaultsAreFilledAndValuesNormalised() throws {
        let p = try Parameters.validate([("fraction", 0.5), ("langs", "fr"), ("size", "64MiB")], against: specs).get()
        #expect(p.int("min") == 1)
        #expect(p.double("fraction") == 0.5)
        #expect(p.strings("langs") == ["fr"])
        #expect(p.int("size") == 64 << 20)
        #expect(p.optionalInt("limit") == nil)
        #expect(
            p.canonicalJSON == #"{"fraction":0.5,"langs":["fr"],"limit":null,"min":1,"size":67108864,"unit":"chars"}"#)
    }

    @Test(
        arguments: [
            ([("fraction", 0.5), ("minn", 3)], "unknown parameter 'minn'; did you mean 'min'?"),
            ([("fraction", 1.5)], "parameter 'fraction': expected a number in 0…1, got 1.5"),
            ([("fraction", "half")], "parameter 'fraction': expected a number, got 'half'"),
            ([("fraction", 0.1), ("min", -1)], "parameter 'min': expected an integer ≥ 0, got -1"),
            ([("fraction", 0.1), ("min", 2.5)], "parameter 'min': expected an integer, got 2.5"),
            ([("fraction", 0.1), ("unit", "words")], "parameter 'unit': expected one of chars, bytes, got 'words'"),
            (
                [("fraction", 0.1), ("size", "8 parsecs")],
                "parameter 'size': expected a size such as 8KB or 64MiB, got '8 parsecs'"
            ),
            ([("min", 1)], "missing required parameter 'fraction'"),
        ] as [([(String, JSONValue)], String)])
    func errors(raw: [(String, JSONValue)], message: String) {
        switch Parameters.validate(raw.map { (name: $0.0, value: $0.1) }, against: specs) {
        case .success: Issue.record("accepted \(raw)")
        case .failure(let e): #expect(e.message.hasPrefix(message), "got: \(e.message)")
        }
    }

    @Test(arguments: [("8KB", 8000), ("8 kB", 8000), ("64MiB", 67_108_864), ("1.5G", 1_500_000_000), ("512", 512)])
    func byteSizes(text: String, bytes: Int) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test func suggestions() {
        #expect(nearest("min_lenght", in: ["min_length", "sample"]) == "min_length")
        #expect(nearest("zzzzzz", in: ["min_length", "sample"]) == nil)
    }

    @Test(
        arguments: [
            ("mxa", ["min", "max", "unit"], "max"),
            ("mni", ["min", "max", "unit"], "min"),
            ("ky", ["model", "k", "key"], "key"),
            ("kk", ["model", "k", "key"], "k"),
            ("N", ["benchmarks", "fields", "n"], "n"),
            ("max-depth", ["max_bytes", "max_depth"], "max_depth"),
            ("maxbytes", ["max_bytes", "max_depth"], "max_bytes"),
            ("bytes_max", ["max_bytes", "max_depth"], "max_bytes"),
            ("kep", ["keep", "keep_field", "key"], "keep"),
            ("min_prob", ["min_probability", "max_chars"], "min_probability"),
            ("language", ["language_field", "language_overrides"], nil),
            ("xyz", ["k", "n"], nil),
            ("eng", ["en", "eo", "et", "de"], "en"),
        ] as [(String, [String], String?)])
    func suggestionsForShortAndCompoundNames(typed: String, names: [String], expected: String?) {
        #expect(nearest(typed, in: names) == expected)
    }
}
