import OnceExec
import OnceOnly
import Testing

/// once-exec's retry policies, one per concern (the SDK's own loop is off for once-exec).
@Suite("once-exec retry policies")
struct RetryPoliciesTests {
    @Test("renewals: 0.25 s doubling, at most 256 s, no count (the deadline decides)")
    func renewal() {
        let policy = RetryPolicy.renewal
        #expect(
            (0..<5).map(policy.duration(beforeRetry:)) == [
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4),
            ])
        #expect(policy.duration(beforeRetry: 10) == .seconds(256) && policy.duration(beforeRetry: 60) == .seconds(256))
        #expect(policy.allowsRetry(afterFailures: 1_000_000))
    }

    @Test("the end of a run: five attempts, 0.2 s doubling, 3 s of waits in all")
    func runEnd() {
        let policy = RetryPolicy.runEnd
        #expect(policy.maxRetries + 1 == 5)
        let waits = (0..<policy.maxRetries).map(policy.delay(beforeRetry:))
        #expect(waits == [0.2, 0.4, 0.8, 1.6])
        #expect(abs(waits.reduce(0, +) - 3) < 1e-9)
        #expect(policy.allowsRetry(afterFailures: 4) && !policy.allowsRetry(afterFailures: 5))
    }
}
