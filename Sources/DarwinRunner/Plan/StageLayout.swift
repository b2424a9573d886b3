import Foundation

/// Where a stage's files live.
struct StageLayout {
    let root: String
    let stage: String

    var directory: String { root + "/" + stage }
    var workDirectory: String { directory + "/_work" }

    func kept(_ shard: String) -> String { directory + "/" + shard + ".jsonl.zst" }
    func intermediate(segment: Int, _ shard: String) -> String {
        workDirectory + "/pass-\(segment)/" + shard + ".jsonl.zst"
    }
    func rejected(_ shard: String, phase: Int, isFinal: Bool) -> String {
        directory + "/_rejected/" + shard + (isFinal ? "" : ".p\(phase)") + ".jsonl.zst"
    }
    func errors(_ shard: String, phase: Int, isFinal: Bool) -> String {
        directory + "/_errors/" + shard + (isFinal ? "" : ".p\(phase)") + ".jsonl.zst"
    }
    func workspace(step index: Int, name: String) -> String {
        workDirectory + "/" + String(format: "%02d", index) + "-" + name.replacingOccurrences(of: "#", with: "_")
    }
    /// A stage that cuts its output: the layout of the cut, and what its last pass keeps of each input shard
    /// (documents and the size of each line) for the cut to copy.
    var cutLayout: String { directory + "/_cut.json" }
    func cutInput(_ shard: String) -> String { workDirectory + "/cut/" + shard + ".jsonl.zst" }
    func cutSizes(_ shard: String) -> String { workDirectory + "/cut/" + shard + ".sizes" }
}
