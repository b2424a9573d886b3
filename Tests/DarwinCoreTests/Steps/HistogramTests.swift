import DarwinCore
import Testing

@Suite struct HistogramTests {
    @Test func linearBinsUnderflowOverflowAndMerge() {
        let spec = HistogramSpec(name: "s", lower: 0, upper: 1, bins: 10, scale: .linear, summary: "score")
        var a = Histogram(spec: spec)
        for v in [-0.1, 0.0, 0.05, 0.15, 0.99, 1.0, 2.0] { a.add(v) }
        #expect(a.underflow == 1)
        #expect(a.overflow == 1, "1.0 is in the last bin, 2.0 above the range")
        #expect(a.counts[0] == 2)
        #expect(a.counts[1] == 1)
        #expect(a.counts[9] == 2)
        var b = Histogram(spec: spec)
        b.add(0.55)
        a.merge(b)
        #expect(a.total == 8)
        #expect(a.counts[5] == 1)
        #expect(a.minimum == -0.1 && a.maximum == 2.0)
    }

    @Test func logBins() {
        let spec = HistogramSpec(name: "len", lower: 1, upper: 1e4, bins: 4, scale: .log, summary: "length")
        #expect(spec.bin(of: 5) == 0)
        #expect(spec.bin(of: 50) == 1)
        #expect(spec.bin(of: 9999) == 3)
        #expect(spec.bin(of: 0) == -1)
        #expect(abs(spec.edge(2) - 100) < 1e-9)
    }

    @Test func quantileFromBins() throws {
        let spec = HistogramSpec(name: "s", lower: 0, upper: 100, bins: 100, scale: .linear, summary: "x")
        var h = Histogram(spec: spec)
        for i in 0..<100 { h.add(Double(i) + 0.5) }
        let median = try #require(h.quantile(0.5))
        #expect(abs(median - 50) < 1.01)
    }
}
