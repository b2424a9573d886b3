import Synchronization
import Testing

@testable import DarwinInference

extension OpenAIBackendTests {
    /// The semaphore bounding the openai backend's open requests (nested so that `--filter OpenAI` runs it).
    @Suite struct InFlightLimitTests {
        /// How many tasks hold a slot now, and the most that ever did.
        final class Holders: Sendable {
            private let counts = Mutex((now: 0, most: 0))

            func enter() {
                counts.withLock {
                    $0.now += 1
                    $0.most = max($0.most, $0.now)
                }
            }

            func leave() { counts.withLock { $0.now -= 1 } }

            var most: Int { counts.withLock { $0.most } }
        }

        @Test(arguments: [1, 3])
        func neverMoreHoldersThanTheLimit(limit: Int) async {
            let gate = InFlightLimit(limit)
            let holders = Holders()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        await gate.withSlot {
                            holders.enter()
                            try? await Task.sleep(for: .milliseconds(10))
                            holders.leave()
                        }
                    }
                }
            }
            #expect(holders.most == limit)
        }

        @Test func concurrentMapKeepsItemOrder() async {
            let outputs = await concurrentMap(Array(0..<20), limit: 4) { item in
                try? await Task.sleep(for: .milliseconds(20 - item))
                return item * 10
            }
            #expect(outputs == (0..<20).map { $0 * 10 })
        }
    }
}
