import DarwinCore
import Foundation

/// A counting semaphore: at most `limit` holders at once. Worker threads block in ``acquire()``; the tasks
/// that ran a batch call ``release()`` when it is done.
final class InFlightLimiter: @unchecked Sendable {
    // @unchecked: guarded by `condition`.
    private let condition = NSCondition()
    private var available: Int

    init(limit: Int) { available = max(1, limit) }

    func acquire() {
        condition.lock()
        while available == 0 { condition.wait() }
        available -= 1
        condition.unlock()
    }

    func release() {
        condition.lock()
        available += 1
        condition.signal()
        condition.unlock()
    }
}

/// Step instances and in-flight limits shared by every task of the process: a batched step (and the model
/// it holds) is made once per stage and step, at first use.
final class SharedSteps: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var batched: [String: any BatchStep] = [:]
    private var limiters: [String: InFlightLimiter] = [:]

    /// The shared instance of a batched step, made on first use.
    func batchStep(_ key: String, make: () throws -> any BatchStep) rethrows -> any BatchStep {
        try lock.withLock {
            if let s = batched[key] { return s }
            let s = try make()
            batched[key] = s
            return s
        }
    }

    /// The in-flight limiter of a step.
    func limiter(_ key: String, limit: Int) -> InFlightLimiter {
        lock.withLock {
            if let l = limiters[key] { return l }
            let l = InFlightLimiter(limit: limit)
            limiters[key] = l
            return l
        }
    }
}
