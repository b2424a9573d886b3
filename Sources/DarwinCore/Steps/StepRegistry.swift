/// The steps darwin knows, by id.
public struct StepRegistry: Sendable {
    /// Every descriptor, ordered by first level then id.
    public let descriptors: [StepDescriptor]
    private let byID: [String: StepDescriptor]

    public init(_ descriptors: [StepDescriptor]) {
        var seen: [String: StepDescriptor] = [:]
        for d in descriptors {
            precondition(seen[d.id] == nil, "two steps share the id '\(d.id)'")
            seen[d.id] = d
        }
        self.byID = seen
        self.descriptors = descriptors.sorted {
            ($0.levels.first?.rawValue ?? 0, $0.id) < ($1.levels.first?.rawValue ?? 0, $1.id)
        }
    }

    /// The step with this id.
    public func descriptor(_ id: String) -> StepDescriptor? { byID[id] }

    /// All ids.
    public var ids: [String] { descriptors.map(\.id) }
}
