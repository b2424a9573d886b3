import Synchronization

/// A counting semaphore for async code: at most `limit` holders at once, the others wait in arrival order.
///
/// A waiting task is not woken by cancellation; it gets its slot in turn and sees the cancellation in what it
/// does next.
final class InFlightLimit: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    /// A limit of `limit` holders (at least one).
    init(_ limit: Int) {
        precondition(limit >= 1, "InFlightLimit needs a limit of at least 1, not \(limit)")
        state = Mutex(State(available: limit))
    }

    /// Runs `body` while holding a slot.
    func withSlot<T: Sendable>(_ body: () async -> T) async -> T {
        await acquire()
        defer { release() }
        return await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// Applies `transform` to every item with at most `limit` running at once; outputs come in item order.
func concurrentMap<Item: Sendable, Output: Sendable>(
    _ items: [Item], limit: Int, _ transform: @escaping @Sendable (Item) async -> Output
) async -> [Output] {
    await withTaskGroup(of: (Int, Output).self) { group in
        var outputs = [Output?](repeating: nil, count: items.count)
        var next = 0
        while next < min(max(limit, 1), items.count) {
            let index = next
            group.addTask { (index, await transform(items[index])) }
            next += 1
        }
        while let (index, output) = await group.next() {
            outputs[index] = output
            if next < items.count {
                let index = next
                group.addTask { (index, await transform(items[index])) }
                next += 1
            }
        }
        let done = outputs.compactMap { $0 }
        precondition(done.count == items.count, "concurrentMap lost an output")
        return done
    }
}
