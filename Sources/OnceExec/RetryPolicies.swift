import OnceOnly

/// once-exec's retry policies, one per concern. The SDK's own retry loop is off for once-exec
/// (``RemoteBackend`` sets `maxRetries429: 0`): each call below has its own reason to be
/// retried, or not, and its own limit.
extension RetryPolicy {
    /// Renewals that got no answer (network, timeout, 5xx): 0.25 s, doubling, up to 256 s
    /// (0.25 s × 2¹⁰); the supervisor machine also caps the wait at half the heartbeat. There
    /// is no count: the lease's deadline, not the number of failures, decides when the child
    /// must stop.
    package static let renewal = RetryPolicy(maxRetries: .max, backoff: 0.25, maxBackoff: 256)

    /// Recording the end of a run, the finish (complete, fail, cancel) and, when the finish did
    /// not carry it, the run's history record: the child's work is done, and losing its outcome
    /// would make the next run repeat it. Five attempts, 0.2 s apart and doubling (3 s of waits
    /// in all), both backends alike.
    package static let runEnd = RetryPolicy(maxRetries: 4, backoff: 0.2, maxBackoff: 1.6)
}
