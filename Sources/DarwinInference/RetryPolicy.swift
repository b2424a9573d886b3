import AsyncHTTPClient
import Foundation
import NIOCore

/// When an HTTP request is tried again, and how long to wait before it.
///
/// Connection errors, timeouts, HTTP 408, 429 and 5xx are retried with exponential backoff and full jitter
/// (a random wait up to `base·2^retry`, capped), and never sooner than a `Retry-After` header asks. Other
/// answers are final. A retry never changes what is answered, only when.
struct RetryPolicy: Sendable {
    var maxAttempts: Int
    var backoffBase: Double
    var backoffCap: Double

    /// The longest `Retry-After` honoured, in seconds: a server asking for more is waited on this long.
    static let retryAfterLimit: Double = 3600

    /// The ceiling of the random wait before retry number `retry` (0 for the first retry).
    func backoffCeiling(retry: Int) -> Double {
        min(backoffCap, backoffBase * pow(2, Double(min(retry, 62))))
    }

    /// Seconds to wait before retry number `retry`: full jitter below the ceiling, at least `retryAfter`.
    func delay<R: RandomNumberGenerator>(retry: Int, retryAfter: Double?, using generator: inout R) -> Double {
        let ceiling = backoffCeiling(retry: retry)
        let jitter = ceiling > 0 ? Double.random(in: 0...ceiling, using: &generator) : 0
        guard let retryAfter else { return jitter }
        return max(jitter, min(retryAfter, Self.retryAfterLimit))
    }

    /// Whether an HTTP status is worth another attempt: 408, 429 and 5xx.
    static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 429 || (500...599).contains(status)
    }

    // MARK: - Retry-After

    /// Seconds a `Retry-After` value asks to wait: delay-seconds, or an HTTP date (then relative to `now`).
    ///
    /// - Returns: The wait, never negative, or `nil` when the value is neither form.
    static func retryAfterSeconds(_ value: String, now: Date = Date()) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds.isFinite {
            return max(0, seconds)
        }
        guard let date = httpDate(trimmed) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// The three date forms HTTP allows (RFC 9110 section 5.6.7): IMF-fixdate, RFC 850, asctime.
    private static let httpDateFormats = [
        "EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy",
    ]

    private static func httpDate(_ text: String) -> Date? {
        // asctime pads single-digit days with a space: "Sun Nov  6 08:49:37 1994".
        let text = text.split(separator: " ").joined(separator: " ")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in httpDateFormats {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    // MARK: - Transport errors

    /// How an error thrown while sending a request or reading its answer counts: `timeout` and `connection`
    /// are worth another attempt; `cancelled`, `shutdown` and `request` (a request the client refuses) are not.
    static func classify(_ error: any Error) -> (reason: String, isRetryable: Bool) {
        if error is CancellationError { return ("cancelled", false) }
        if error is AttemptTimeLimitExceeded { return ("timeout", true) }
        if let error = error as? HTTPClientError {
            if timeoutErrors.contains(error) { return ("timeout", true) }
            if error == .alreadyShutdown { return ("shutdown", false) }
            if error == .cancelled { return ("cancelled", false) }
            if malformedRequestErrors.contains(error) { return ("request", false) }
            return ("connection", true)
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return ("timeout", true) }
        // Refused, reset, closed early, truncated or garbled answers: NIO's IOError, ChannelError,
        // NIOConnectionError and HTTPParserError all land here.
        return ("connection", true)
    }

    private static let timeoutErrors: [HTTPClientError] = [
        .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .getConnectionFromPoolTimeout,
        .tlsHandshakeTimeout,
    ]

    private static let malformedRequestErrors: [HTTPClientError] = [
        .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath,
    ]
}

/// One attempt took longer than the request timeout.
struct AttemptTimeLimitExceeded: Error {}

/// Runs `operation`, throwing ``AttemptTimeLimitExceeded`` (and cancelling it) if it lasts over `seconds`.
func withTimeLimit<T: Sendable>(
    _ seconds: Double, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard case .some(.some(let value)) = try await group.next() else { throw AttemptTimeLimitExceeded() }
        return value
    }
}
