import DarwinCore
import DarwinRunner
import DarwinSteps
import Testing

/// Walks every parameter of every step in the catalog through a recipe: a misspelled name is refused with its
/// place and the right name, a value of the wrong type names the parameter, and a value out of bounds is
/// refused, all before any work starts.
@Suite struct StepCatalogRecipeTests {
    /// A parameter of a step, and the text written for it in a recipe.
    struct Use: Sendable, CustomTestStringConvertible {
        let step: String
        let parameter: String
        /// The parameter name as written (a misspelling, or the name itself).
        let key: String
        /// The value as YAML flow text.
        let value: String

        var testDescription: String { "\(step): {\(key): \(value)}" }
    }

    static let loader = RecipeLoader(registry: StepCatalog.registry)
    static let descriptors = StepCatalog.registry.descriptors

    // MARK: - Cases

    /// Misspellings a hand makes: two neighbouring letters swapped and one letter dropped (both near the middle),
    /// the last letter doubled or (from four letters on) mistyped, and for names with words, the words run
    /// together or joined by a hyphen. None is the name of another parameter of the step.
    static func misspellings(of name: String, in d: StepDescriptor) -> [String] {
        let c = Array(name)
        let middle = c.count / 2
        func nearMiddle(_ positions: [Int]) -> Int? { positions.min { abs($0 - middle) < abs($1 - middle) } }
        var out: [String] = []
        let swappable = c.indices.dropLast().filter { c[$0] != c[$0 + 1] && c[$0] != "_" && c[$0 + 1] != "_" }
        if let i = nearMiddle(Array(swappable)) {
            var s = c
            s.swapAt(i, i + 1)
            out.append(String(s))
        }
        if c.count >= 3, let i = nearMiddle(c.indices.filter { c[$0] != "_" }) {
            var s = c
            s.remove(at: i)
            out.append(String(s))
        }
        if let last = c.last {
            out.append(name + String(last))
            if c.count >= 4 { out.append(String(c.dropLast()) + (last == "z" ? "x" : "z")) }
        }
        if name.contains("_") {
            out.append(name.replacingOccurrences(of: "_", with: ""))
            out.append(name.replacingOccurrences(of: "_", with: "-"))
        }
        var seen: Set<String> = [name]
        // A typo as close to another parameter as to this one (`modee`: `mode` or `model`?) is ambiguous.
        let others = d.parameters.map(\.name).filter { $0 != name }
        return out.filter { typo in
            seen.insert(typo).inserted && d.parameter(typo) == nil
                && others.allSatisfy { distance(typo, $0) > distance(typo, name) }
        }
    }

    /// Edits (insertions, deletions, substitutions, swaps of neighbours) between two names.
    static func distance(_ x: String, _ y: String) -> Int {
        let a = Array(x)
        let b = Array(y)
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    static let misspelled: [Use] = descriptors.flatMap { d in
        d.parameters.flatMap { p in
            misspellings(of: p.name, in: d).map { Use(step: d.id, parameter: p.name, key: $0, value: "1") }
        }
    }

    /// A value of the wrong type for every parameter that has a type to get wrong (`.json` takes any value).
    static let mistyped: [Use] = descriptors.flatMap { d in
        d.parameters.compactMap { p -> Use? in
            let value: String
            switch p.type {
            case .integer, .number, .byteSize, .boolean, .choice: value = "not-this"
            case .string: value = "[a, b]"
            case .stringList: value = "{a: b}"
            case .json: return nil
            }
            return Use(step: d.id, parameter: p.name, key: p.name, value: value)
        }
    }

    /// A value just outside each bound of every bounded parameter (sizes are never negative).
    static let outOfBounds: [Use] = descriptors.flatMap { d in
        d.parameters.flatMap { p -> [Use] in
            let values: [String]
            switch p.type {
            case .integer(let lo, let hi): values = [lo.map { "\($0 - 1)" }, hi.map { "\($0 + 1)" }].compactMap { $0 }
            case .number(let lo, let hi):
                values = [lo.map { "\($0 - 0.5)" }, hi.map { "\($0 + 0.5)" }].compactMap { $0 }
            case .byteSize: values = ["-1"]
            default: values = []
            }
            return values.map { Use(step: d.id, parameter: p.name, key: p.name, value: $0) }
        }
    }

    // MARK: - Recipes

    /// A recipe whose one stage (at the step's first level) uses the step with one parameter; the error it
    /// raises, and the line and column of the parameter's name.
    static func refusal(_ use: Use) throws -> (error: RecipeError, line: Int, column: Int) {
        let d = try #require(StepCatalog.registry.descriptor(use.step))
        let level = try #require(d.levels.first)
        let lines = [
            "input:", "  paths: [data]", "output: out", "stages:", "  - level: \(level)", "    steps:",
            "      - \(use.step):", "          \(use.key): \(use.value)",
        ]
        do {
            _ = try loader.parse(text: lines.joined(separator: "\n") + "\n", path: "r.yaml")
        } catch {
            return (error, lines.count, 11)
        }
        throw RecipeError(path: "r.yaml", line: nil, message: "accepted \(use.testDescription)")
    }

    // MARK: - Tests

    @Test func everyParameterHasMisspellings() {
        for d in Self.descriptors {
            for p in d.parameters {
                #expect(
                    Self.misspelled.contains { $0.step == d.id && $0.parameter == p.name },
                    "\(d.id).\(p.name) has a misspelling to try")
            }
        }
    }

    @Test(arguments: misspelled)
    func misspelledParameterIsRefusedWithTheRightName(_ use: Use) throws {
        let (e, line, column) = try Self.refusal(use)
        #expect(e.description.hasPrefix("r.yaml:\(line):\(column): "), "\(e)")
        #expect(e.message.contains("unknown parameter '\(use.key)'"), "\(e)")
        #expect(e.message.contains("did you mean '\(use.parameter)'?"), "\(e)")
    }

    @Test(arguments: mistyped)
    func valueOfTheWrongTypeIsRefusedByName(_ use: Use) throws {
        let (e, line, column) = try Self.refusal(use)
        #expect(e.description.hasPrefix("r.yaml:\(line):\(column): "), "\(e)")
        #expect(e.message.hasPrefix("step '\(use.step)': parameter '\(use.parameter)': expected "), "\(e)")
    }

    @Test(arguments: outOfBounds)
    func valueOutOfBoundsIsRefused(_ use: Use) throws {
        let (e, line, column) = try Self.refusal(use)
        #expect(e.description.hasPrefix("r.yaml:\(line):\(column): "), "\(e)")
        #expect(e.message.hasPrefix("step '\(use.step)': parameter '\(use.parameter)': expected "), "\(e)")
        #expect(e.message.hasSuffix("got \(use.value)"), "\(e)")
    }
}
