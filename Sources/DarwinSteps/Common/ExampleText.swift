import DarwinCore

/// Texts that several steps' documented examples share (`darwin steps NAME` prints the examples; the test
/// suite runs them and records a hash of their output per step version).
enum ExampleText {
    /// A paragraph of plain English prose, the kind every quality rule keeps.
    static let english = """
        The history of the printing press is the history of how ideas travelled. Before movable type, books were \
        copied by hand, which made them rare and expensive. With the press, a workshop could produce hundreds of \
        copies of the same text, and readers in distant cities could study the same words at the same time. This \
        changed schools, churches and trade, and it gave scientists a way to share their results and to correct \
        each other. It is not an exaggeration to say that the modern world began in those workshops.
        """

    /// A French sentence.
    static let french = """
        Le renard brun saute par-dessus le chien paresseux pendant que les enfants regardent par la fenêtre.
        """

    /// A German sentence.
    static let german = """
        Der schnelle braune Fuchs springt über den faulen Hund, während die Kinder aus dem Fenster schauen.
        """

    /// A document as one JSON line: its id, its text and other top-level fields.
    static func document(_ id: String, _ text: String, _ fields: [(key: String, value: JSONValue)] = []) -> String {
        Document(id: id, text: text, fields: fields).jsonString
    }
}
