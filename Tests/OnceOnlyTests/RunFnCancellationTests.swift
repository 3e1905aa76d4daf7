import Foundation
import OnceOnly
import Testing

/// Cancellation is normal in Swift (a request handler's task ends, a task group is torn down): a
/// cancelled `runFn` must give its lease back, not leave it held until the TTL.
@Suite("runFn and idempotentAI under task cancellation, against once-server", .timeLimit(.minutes(1)))
struct RunFnCancellationTests {
    /// Starts `work` in a task, waits until its body is running, then cancels the task.
    private func cancelWhileRunning(
        _ work: @escaping @Sendable (_ bodyStarted: @escaping @Sendable () -> Void) async throws -> AIResult
    ) async throws -> Result<AIResult, any Error> {
        let (started, signal) = AsyncStream<Void>.makeStream()
        let task = Task { try await work { signal.yield() } }
        var iterator = started.makeAsyncIterator()
        _ = await iterator.next()
        task.cancel()
        return await task.result
    }

    @Test("a cancelled body cancels the lease at once: the next caller acquires it, not after the TTL")
    func cancelledBodyReleasesTheLease() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let outcome = try await cancelWhileRunning { bodyStarted in
                try await client.ai.runFn(key: "report:cancel", ttl: 300) { () -> JSON in
                    bodyStarted()
                    try await Task.sleep(for: .seconds(60))
                    return "never stored"
                }
            }
            #expect(throws: CancellationError.self) { try outcome.get() }
            let status = try await client.ai.status(key: "report:cancel")
            #expect(status.status == "canceled", "\(status.raw)")
            let next = try await client.ai.lease(key: "report:cancel", ttl: 60)
            #expect(next.isAcquired, "re-acquirable at once, 300 s before the TTL would have ended: \(next.raw)")
        }
    }

    @Test("a caller waiting on the key takes it over as soon as the holder is cancelled")
    func waiterTakesOver() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let (started, signal) = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await client.ai.runFn(key: "summary:T-9", ttl: 300) { () -> JSON in
                    signal.yield()
                    try await Task.sleep(for: .seconds(60))
                    return "never stored"
                }
            }
            var iterator = started.makeAsyncIterator()
            _ = await iterator.next()
            let waiter = Task {
                try await client.ai.runFn(key: "summary:T-9", ttl: 300, pollMin: 0.05, pollMax: 0.1) { () -> JSON in
                    ["by": "waiter"]
                }
            }
            try await Task.sleep(for: .milliseconds(300))  // the waiter is polling now
            let clock = ContinuousClock()
            let cancelledAt = clock.now
            holder.cancel()
            let result = try await waiter.value
            #expect(result.status == "completed" && result.result == ["by": "waiter"], "\(result.raw)")
            #expect(clock.now - cancelledAt < .seconds(3), "taken over at once, not after the 300 s TTL")
            let holderOutcome = await holder.result
            #expect(throws: CancellationError.self) { try holderOutcome.get() }
        }
    }

    @Test("a body that finishes despite the cancellation is still stored")
    func valueAfterCancellationIsStored() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let outcome = try await cancelWhileRunning { bodyStarted in
                try await client.ai.runFn(key: "stubborn", ttl: 300) { () -> JSON in
                    bodyStarted()
                    // Ignores cancellation on purpose: sleeps until cancelled, then returns anyway.
                    try? await Task.sleep(for: .seconds(60))
                    return ["done": true]
                }
            }
            // The result read at the end belongs to the cancelled task, so it may throw; the
            // completion itself was sent where cancellation could not abort it.
            _ = try? outcome.get()
            let stored = try await client.ai.result(key: "stubborn")
            #expect(stored.status == "completed" && stored.result == ["done": true], "\(stored.raw)")
        }
    }

    @Test("idempotentAI releases the same way")
    func idempotentAIReleases() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let outcome = try await cancelWhileRunning { bodyStarted in
                let summarize = client.idempotentAI(key: { (ticket: String) in "summary:\(ticket)" }) {
                    (ticket: String) -> String in
                    bodyStarted()
                    try await Task.sleep(for: .seconds(60))
                    return ticket
                }
                return try await summarize("T-77")
            }
            #expect(throws: CancellationError.self) { try outcome.get() }
            #expect(try await client.ai.lease(key: "summary:T-77", ttl: 60).isAcquired)
        }
    }

    @Test("a body that throws after the task was cancelled also releases (cancel, not fail)")
    func otherErrorWhileCancelled() async throws {
        struct Aborted: Error {}
        try await withOnceServer { server in
            let client = try server.client()
            let outcome = try await cancelWhileRunning { bodyStarted in
                try await client.ai.runFn(key: "aborted", ttl: 300) { () -> JSON in
                    bodyStarted()
                    try? await Task.sleep(for: .seconds(60))  // until cancelled
                    throw Aborted()
                }
            }
            #expect(throws: Aborted.self) { try outcome.get() }
            #expect(try await client.ai.status(key: "aborted").status == "canceled")
        }
    }
}
