import Testing

@testable import DarwinInference

@Suite struct SamplingTests {
    @Test func canonicalLineChangesWithEveryParameter() {
        let base = Sampling()
        var other = base
        other.seed = 1
        #expect(base.canonical != other.canonical)
        other = base
        other.stop = ["\n"]
        #expect(base.canonical != other.canonical)
        other = base
        other.grammar = "root ::= \"a\""
        #expect(base.canonical != other.canonical)
    }
}
