/// How often a failed call is tried again and how long to wait before each retry: exponential
/// backoff without jitter, `backoff × 2ⁿ` seconds before retry `n` (0-based), capped at
/// `maxBackoff`.
///
/// One policy per concern, each named where it is decided:
/// - the SDK's wire (``OnceOnlyClient``'s `maxRetries429`, `retryBackoff`, `retryMaxBackoff`,
///   SDK.md §3.3; a server's `Retry-After` replaces the wait). once-exec turns it off: its
///   calls have their own policies and deadlines;
/// - once-exec's renewals (the supervisor machine: retried until the lease's deadline);
/// - once-exec's end of a run (the finish and the history record, once-exec's `runEnd`).
package struct RetryPolicy: Sendable, Equatable {
    /// Attempts after the first (0: no retries).
    package var maxRetries: Int
    /// Seconds before the first retry; doubled for each retry after it.
    package var backoff: Double
    /// The longest wait in seconds.
    package var maxBackoff: Double

    package init(maxRetries: Int, backoff: Double, maxBackoff: Double) {
        self.maxRetries = max(0, maxRetries)
        self.backoff = backoff
        self.maxBackoff = maxBackoff
    }

    /// Seconds to wait before retry `retry` (0 for the first): `min(maxBackoff, backoff × 2^retry)`.
    package func delay(beforeRetry retry: Int) -> Double {
        // 2^1024 is infinite, and the cap takes it from there.
        min(maxBackoff, backoff * Double(sign: .plus, exponent: min(retry, 1024), significand: 1))
    }

    /// ``delay(beforeRetry:)`` as a `Duration`.
    package func duration(beforeRetry retry: Int) -> Duration { .seconds(delay(beforeRetry: retry)) }

    /// Whether a call that has failed `failures` times may be tried again.
    package func allowsRetry(afterFailures failures: Int) -> Bool { failures <= maxRetries }
}
