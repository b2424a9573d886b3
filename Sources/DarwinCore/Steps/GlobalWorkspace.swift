/// The folder where a global step keeps the files that pass between its phases, seen from one task.
///
/// A task asks for an output path by name and writes there; the runner makes every output of the
/// task durable and visible under its final name only after the task succeeded, so a killed task
/// never leaves a half-written file that a later phase could read.
public final class GlobalWorkspace: @unchecked Sendable {
    // @unchecked: used by one task on one thread; the runner reads `pendingOutputs` after the task.

    /// The step's folder, `OUT/<stage>/_work/<NN>-<step>`.
    public let directory: String
    /// Suffix of temporary names, unique per task attempt.
    public let temporarySuffix: String
    /// How many tasks may run at once on this machine (the job's workers): a step with a memory budget
    /// gives each concurrent task its share.
    public let concurrency: Int
    /// Outputs requested by this task: temporary path and final path.
    public private(set) var pendingOutputs: [(temporary: String, final: String)] = []

    public init(directory: String, temporarySuffix: String, concurrency: Int = 1) {
        self.directory = directory
        self.temporarySuffix = temporarySuffix
        self.concurrency = max(1, concurrency)
    }

    /// The path to write output `name` to; it appears as ``path(of:)`` once the task completes.
    public func output(_ name: String) -> String {
        let final = path(of: name)
        let temporary = final + temporarySuffix
        pendingOutputs.append((temporary, final))
        return temporary
    }

    /// A path for a scratch file of this task attempt that is not an output (removed by the task, or with the
    /// stage's work folder).
    public func scratch(_ name: String) -> String { path(of: name) + temporarySuffix }

    /// The final path of file `name`, written by an earlier phase.
    public func path(of name: String) -> String { directory + "/" + name }
}
