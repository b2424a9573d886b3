import Foundation
import Testing

@testable import DarwinInference

extension OpenAIBackendTests {
    /// The openai backend's backoff and `Retry-After` rules (nested so that `--filter OpenAI` runs them).
    @Suite struct RetryPolicyTests {
        let policy = RetryPolicy(maxAttempts: 6, backoffBase: 0.5, backoffCap: 30)

        @Test func ceilingDoublesUpToTheCap() {
            #expect((0..<8).map { policy.backoffCeiling(retry: $0) } == [0.5, 1, 2, 4, 8, 16, 30, 30])
            #expect(policy.backoffCeiling(retry: 5000) == 30)
        }

        @Test func delayIsFullJitterBelowTheCeiling() {
            var generator = SystemRandomNumberGenerator()
            let delays = (0..<200).map { _ in policy.delay(retry: 2, retryAfter: nil, using: &generator) }
            #expect(delays.allSatisfy { (0...2).contains($0) })
            #expect(Set(delays).count > 100, "delays are not spread: \(Set(delays).count) distinct of 200")
        }

        @Test func retryAfterIsALowerBound() {
            var generator = SystemRandomNumberGenerator()
            #expect((0..<50).allSatisfy { _ in policy.delay(retry: 0, retryAfter: 3, using: &generator) == 3 })
            #expect(policy.delay(retry: 0, retryAfter: 1e9, using: &generator) == RetryPolicy.retryAfterLimit)
        }

        @Test(arguments: [("1", 1.0), (" 120 ", 120), ("0", 0), ("-5", 0), ("2.5", 2.5)])
        func retryAfterSeconds(value: String, seconds: Double) {
            #expect(RetryPolicy.retryAfterSeconds(value) == seconds)
        }

        @Test(arguments: [
            "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
        ])
        func retryAfterDates(value: String) throws {
            let now = Date(timeIntervalSince1970: 784_111_777 - 10)  // 10 s before 1994-11-06 08:49:37 UTC
            let seconds = try #require(RetryPolicy.retryAfterSeconds(value, now: now))
            #expect(abs(seconds - 10) < 0.001, "\(value) read as \(seconds) s from now")
            #expect(RetryPolicy.retryAfterSeconds(value, now: now.addingTimeInterval(60)) == 0)
        }

        @Test func unreadableRetryAfterIsIgnored() {
            #expect(RetryPolicy.retryAfterSeconds("soon") == nil)
            #expect(RetryPolicy.retryAfterSeconds("") == nil)
        }

        @Test(arguments: [(408, true), (429, true), (500, true), (503, true), (599, true), (400, false), (404, false)])
        func retryableStatuses(status: Int, isRetryable: Bool) {
            #expect(RetryPolicy.isRetryable(status: status) == isRetryable)
        }
    }
}
