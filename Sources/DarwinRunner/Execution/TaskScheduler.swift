import DarwinProvenance
import Foundation

/// Hands out ready tasks to workers, in plan order, respecting phase barriers and stage chaining.
///
/// A first-phase task of a stage waits for the same shard of the previous stage; any later phase
/// waits for every task of the phase before it. Tasks of other ranks count as done once their
/// rank's provenance file says so (polled).
final class TaskScheduler: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `condition`.

    enum State { case waiting, running, done, failed, blocked }

    private let plan: JobPlan
    private let rank: Int
    private let worldSize: Int
    private let condition = NSCondition()
    private var state: [TaskKey: State] = [:]
    private var local: [TaskKey] = []
    /// Done and failed (or blocked) counts per stage position and phase, all ranks.
    private var doneCount: [[Int]]
    private var badCount: [[Int]]
    private var remoteDone = Set<TaskKey>()
    private var running = 0
    private var stopped = false
    private let positions: [String: Int]
    /// Reads other ranks' done tasks.
    private let pollRemote: () -> Set<TaskKey>
    private var lastPoll = 0.0
    /// Since when no local task could start because other ranks are behind.
    private var remoteWaitSince: Double?

    private let control: RunControl

    init(
        plan: JobPlan, rank: Int, worldSize: Int, done: Set<TaskKey>, control: RunControl,
        pollRemote: @escaping () -> Set<TaskKey>
    ) {
        self.plan = plan
        self.control = control
        self.rank = rank
        self.worldSize = worldSize
        self.pollRemote = pollRemote
        doneCount = plan.stages.map { Array(repeating: 0, count: $0.phases.count) }
        badCount = doneCount
        var p: [String: Int] = [:]
        for s in plan.stages { p[s.spec.name] = s.position }
        positions = p
        for key in plan.allTasks where JobPlan.owner(of: key, worldSize: worldSize) == rank {
            local.append(key)
            state[key] = .waiting
        }
        for key in done where state[key] != nil {
            state[key] = .done
            count(key, \.doneCount)
        }
    }

    private func count(_ key: TaskKey, _ path: ReferenceWritableKeyPath<TaskScheduler, [[Int]]>) {
        guard let s = positions[key.stage] else { return }
        self[keyPath: path][s][key.phase] += 1
    }

    /// Tasks of this rank in plan order, and how many are done.
    var localProgress: (done: Int, total: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (local.filter { state[$0] == .done }.count, local.count)
    }

    /// The earliest (stage, phase) with unfinished local work, with its done and total task counts.
    var activePhase: (stage: StagePlan, phase: PhasePlan, done: Int, total: Int)? {
        condition.lock()
        defer { condition.unlock() }
        for key in local where state[key] == .waiting || state[key] == .running {
            guard let s = positions[key.stage] else { continue }
            let stage = plan.stages[s]
            let phase = stage.phases[key.phase]
            let mine = local.filter { $0.stage == key.stage && $0.phase == key.phase }
            return (stage, phase, mine.filter { state[$0] == .done }.count, mine.count)
        }
        return nil
    }

    /// The next ready task, blocking while tasks run or other ranks are behind; `nil` when nothing is left.
    func next() -> TaskKey? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopped || control.isStopping { return nil }
            var waitingOnRemote = false
            var anyWaiting = false
            for key in local where state[key] == .waiting {
                switch readiness(key) {
                case .ready:
                    state[key] = .running
                    running += 1
                    remoteWaitSince = nil
                    return key
                case .blocked:
                    state[key] = .blocked
                    count(key, \.badCount)
                case .waitingLocal:
                    anyWaiting = true
                case .waitingRemote:
                    anyWaiting = true
                    waitingOnRemote = true
                }
            }
            if !anyWaiting { return nil }
            if running == 0 && !waitingOnRemote { return nil }
            if waitingOnRemote && running == 0 && remoteWaitSince == nil { remoteWaitSince = monotonicSeconds() }
            if waitingOnRemote && monotonicSeconds() - lastPoll > 1.5 {
                lastPoll = monotonicSeconds()
                condition.unlock()
                let remote = pollRemote()
                condition.lock()
                absorb(remote)
                continue
            }
            _ = condition.wait(until: Date(timeIntervalSinceNow: waitingOnRemote ? 1.5 : 5))
        }
    }

    /// Bytes of input the local pass tasks not yet done will read, estimated from the input shard sizes.
    func remainingPassBytes(inputs: [InputShard]) -> Int {
        condition.lock()
        defer { condition.unlock() }
        var total = 0
        for key in local where state[key] != .done {
            guard let s = positions[key.stage], case .pass = plan.stages[s].phases[key.phase].kind,
                key.shardIndex < inputs.count
            else { continue }
            total += inputs[key.shardIndex].fileBytes
        }
        return total
    }

    /// Seconds this rank has been idle waiting for other ranks, if it is.
    var secondsWaitingForOtherRanks: Double? {
        condition.lock()
        defer { condition.unlock() }
        return remoteWaitSince.map { monotonicSeconds() - $0 }
    }

    /// Reads other ranks' progress now (after this rank's last task, to decide on clean-up).
    func refreshRemote() {
        guard worldSize > 1 else { return }
        let remote = pollRemote()
        condition.lock()
        absorb(remote)
        condition.unlock()
    }

    private func absorb(_ remote: Set<TaskKey>) {
        for key in remote where !remoteDone.contains(key) && state[key] == nil {
            remoteDone.insert(key)
            count(key, \.doneCount)
        }
    }

    /// Records the end of a task.
    func finish(_ key: TaskKey, succeeded: Bool) {
        condition.lock()
        state[key] = succeeded ? .done : .failed
        running -= 1
        count(key, succeeded ? \.doneCount : \.badCount)
        condition.broadcast()
        condition.unlock()
    }

    /// Stops handing out tasks.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Local tasks that did not run because a task they depend on failed.
    var blockedTasks: [TaskKey] {
        condition.lock()
        defer { condition.unlock() }
        return local.filter { state[$0] == .blocked }
    }

    /// Whether every task of the stage, on every rank, is done.
    func isStageComplete(_ stage: StagePlan) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return stage.phases.allSatisfy { !$0.isPending && doneCount[stage.position][$0.index] == $0.taskCount }
    }

    private enum Readiness { case ready, blocked, waitingLocal, waitingRemote }

    private func readiness(_ key: TaskKey) -> Readiness {
        guard let s = positions[key.stage] else { return .blocked }
        if key.phase == 0 {
            if s == 0 { return .ready }
            let prev = plan.stages[s - 1]
            let dep = TaskKey(stage: prev.spec.name, phase: prev.finalPhase, shardIndex: key.shardIndex)
            return dependency(dep)
        }
        let stage = plan.stages[s]
        let total = stage.phases[key.phase - 1].taskCount
        if badCount[s][key.phase - 1] > 0 { return .blocked }
        if doneCount[s][key.phase - 1] == total { return .ready }
        // Some tasks of the previous phase are still to finish; are any of them another rank's?
        for i in 0..<total {
            let dep = TaskKey(stage: key.stage, phase: key.phase - 1, shardIndex: i)
            if state[dep] == nil && !remoteDone.contains(dep) { return .waitingRemote }
        }
        return .waitingLocal
    }

    private func dependency(_ dep: TaskKey) -> Readiness {
        switch state[dep] {
        case .done: return .ready
        case .failed, .blocked: return .blocked
        case .waiting, .running: return .waitingLocal
        case nil: return remoteDone.contains(dep) ? .ready : .waitingRemote
        }
    }
}
