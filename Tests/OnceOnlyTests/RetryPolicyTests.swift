import OnceOnly
import Testing

/// The backoff schedule every retry loop of the package shares (the SDK's wire here; once-exec's
/// own policies in `OnceExecTests`).
@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("the SDK defaults with retries: 0.5, 1, 2, 4, then capped at 5 (SDK.md §3.3)")
    func sdkSchedule() {
        let policy = RetryPolicy(maxRetries: 6, backoff: 0.5, maxBackoff: 5)
        #expect((0..<6).map(policy.delay(beforeRetry:)) == [0.5, 1, 2, 4, 5, 5])
        #expect(policy.delay(beforeRetry: 5000) == 5, "a long run of failures stays at the cap, never inf or NaN")
        #expect(policy.duration(beforeRetry: 1) == .seconds(1))
    }

    @Test("maxRetries counts the attempts after the first")
    func counts() {
        let three = RetryPolicy(maxRetries: 3, backoff: 1, maxBackoff: 1)
        #expect([1, 2, 3, 4].map(three.allowsRetry(afterFailures:)) == [true, true, true, false])
        let none = RetryPolicy(maxRetries: -2, backoff: 1, maxBackoff: 1)
        #expect(none.maxRetries == 0 && !none.allowsRetry(afterFailures: 1))
    }

    @Test("typed lease calls go through the client's retry policy too, then answer their outcome")
    func typedCallsRetry() async throws {
        try await withScriptedServer { server in
            let (client, sleeper) = try server.recordingClient(maxRetries429: 2, retryBackoff: 0.25)
            server.enqueue(
                .json(503, ["detail": "down"]), .json(502, "bad gateway"),
                .json(409, ["detail": ["error": "lease_mismatch", "message": "not yours"]]))
            let outcome = try await client.leases.extend(key: "k", leaseId: "l")
            guard case .conflict(let conflict) = outcome else {
                Issue.record("not a conflict: \(outcome)")
                return
            }
            #expect(conflict.code == "lease_mismatch" && conflict.message == "not yours")
            #expect(server.requests.count == 3)
            #expect(sleeper.waits.current == [0.25, 0.5])
        }
    }
}
