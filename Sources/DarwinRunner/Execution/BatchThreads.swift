import Foundation

/// The threads batched steps run on: a task executor of its own, so a batch never waits for a thread of
/// Swift's shared cooperative pool. That pool has one thread per core, and whoever calls the runner
/// synchronously from async code (a test, a server) holds one of them until the job ends; two such callers
/// on a two-core machine would leave no thread for the batches they wait on.
///
/// The work done here is light (prompts, judging answers, awaiting the model, whose compute has its own
/// queue), so a few threads serve every batch of the process.
final class BatchThreads: _Concurrency.TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` is guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0

    /// The executor of the process.
    static let shared = BatchThreads(threads: max(2, min(4, ProcessInfo.processInfo.activeProcessorCount)))

    private init(threads: Int) {
        for i in 0..<threads {
            let thread = Thread { [self] in loop() }
            thread.name = "darwin.batch.\(i)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while head == jobs.count { condition.wait() }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
