import DarwinCore
import DarwinIO
import DarwinProvenance
import Foundation

extension JobRunner {
    /// Compares every input shard with what the job recorded about it, and forgets the tasks that depend
    /// on a shard that changed, so that this run redoes exactly them (and says so).
    ///
    /// The rule: a shard whose size and modification time are as recorded is unchanged, unless its record
    /// was made within a second of its modification (an edit in the same clock tick could keep the time)
    /// or `--verify-inputs` is given; otherwise its content is hashed and compared with the hash of what
    /// the job read (or, before any task read it, with the hash of its first and last 64 KiB).
    func reconcileInputs(plan: JobPlan, store: ProvenanceStore) throws(RunError) {
        let recorded: [String: InputShardRecord]
        do {
            recorded = try store.inputShards()
        } catch {
            throw .provenance("\(error)")
        }
        var records: [InputShardRecord] = []
        var changed: [(index: Int, reason: String)] = []
        let now = wallClock()
        for (i, shard) in plan.inputs.enumerated() {
            let check: InputCheck
            do {
                check = try InputCheck(
                    shard: shard, recorded: recorded[shard.name], verify: options.verifyInputs, now: now)
            } catch {
                throw .io("cannot read input shard \(shard.path): \(error)")
            }
            if let record = check.record { records.append(record) }
            if let reason = check.change { changed.append((i, reason)) }
        }
        if !changed.isEmpty { try forgetTasks(dependingOn: changed, plan: plan, store: store) }
        do {
            try store.saveInputShards(records)
        } catch {
            throw .provenance("\(error)")
        }
    }

    private func forgetTasks(dependingOn changed: [(index: Int, reason: String)], plan: JobPlan, store: ProvenanceStore)
        throws(RunError)
    {
        let affected = plan.tasksDepending(onInputs: Set(changed.map(\.index)))
        let tasks: [TaskRecord]
        do {
            tasks = try store.tasks().filter { affected.contains($0.key) }
        } catch {
            throw .provenance("\(error)")
        }
        let names = changed.prefix(5).map { "\(plan.inputs[$0.index].name) (\($0.reason))" }
        let more = changed.count > 5 ? " and \(changed.count - 5) more" : ""
        guard !tasks.isEmpty else { return }
        console.info(
            "input changed since the job read it: \(names.joined(separator: ", "))\(more); redoing the \(tasks.count) task(s) that depend on it"
        )
        for t in tasks {
            for o in t.outputs { AtomicFiles.remove(outputDirectory + "/" + o.path) }
        }
        // Global steps' files and cut layouts of a stage redone whole are made anew.
        for stage in plan.stagesRedoneWhole(onInputs: Set(changed.map(\.index))) {
            let layout = StageLayout(root: outputDirectory, stage: stage.spec.name)
            try? FileManager.default.removeItem(atPath: layout.workDirectory)
            AtomicFiles.remove(layout.cutLayout)
        }
        do {
            try store.forgetTasks(tasks.map(\.key))
        } catch {
            throw .provenance("\(error)")
        }
    }
}

/// How one input shard compares with its record.
struct InputCheck {
    /// What to record now (`nil`: keep the recorded one).
    var record: InputShardRecord?
    /// Why the shard counts as changed, or `nil`.
    var change: String?

    init(shard: InputShard, recorded: InputShardRecord?, verify: Bool, now: Double) throws(SourceError) {
        let files = shard.filePaths
        let current = try FileFingerprint.of(files)
        if let old = recorded {
            // Modified within a second before it was recorded: a later edit in the same tick could keep the time.
            let racy = Double(old.modifiedNanoseconds) / 1e9 >= old.checkedAt - 1
            let sameStat = current.size == old.size && current.modifiedNanoseconds == old.modifiedNanoseconds
            if !verify && !racy && sameStat { return }
        }
        let sample = try FileFingerprint.sampleHash(files)
        var content: String?
        if let old = recorded {
            // The whole content when a task recorded it, else the sample taken before any task read the shard.
            let same: Bool
            if let recordedContent = old.contentHash {
                same = try FileFingerprint.contentHash(files) == recordedContent
            } else {
                same = sample == old.sampleHash && current.size == old.size
            }
            if same {
                content = old.contentHash
            } else {
                change =
                    current.size == old.size ? "content changed, same size" : "size \(old.size) → \(current.size) bytes"
            }
        }
        record = InputShardRecord(
            name: shard.name, path: shard.path, size: current.size, modifiedNanoseconds: current.modifiedNanoseconds,
            sampleHash: sample, contentHash: content, checkedAt: now)
    }
}
