import Foundation

extension AIClient {
    /// Polls `key` until it is `completed` or `failed`, then returns ``result(key:)``
    /// (SDK.md §8.1).
    ///
    /// Each round reads ``status(key:)`` (errors such as 404 propagate); other states keep the
    /// loop going until `timeout`, after which a synthetic result with `errorCode: "timeout"` is
    /// returned. Rounds are `retry_after_sec` (else `pollMin`) apart, clamped to
    /// `pollMin...pollMax`. With `leaseId` and `autoExtend`, the lease is extended on the first
    /// non-terminal round and then every `extendEvery` seconds (errors ignored).
    ///
    /// - Parameters:
    ///   - key: The lease key to wait for.
    ///   - timeout: Seconds before giving up (default 60); at least one status call is made.
    ///   - pollMin: Shortest wait between rounds in seconds (default 0.5).
    ///   - pollMax: Longest wait between rounds in seconds (default 5).
    ///   - autoExtend: Heartbeat `leaseId` while waiting (default `true`).
    ///   - extendEvery: Seconds between heartbeats (default 30).
    ///   - leaseId: The lease to heartbeat, if you hold one.
    ///   - ttl: TTL sent with each heartbeat.
    public func wait(
        key: String, timeout: Double = 60, pollMin: Double = 0.5, pollMax: Double = 5, autoExtend: Bool = true,
        extendEvery: Double = 30, leaseId: String? = nil, ttl: Int? = nil
    ) async throws -> AIResult {
        let clock = ContinuousClock()
        let start = clock.now
        var lastExtend: ContinuousClock.Instant?
        func elapsed(since instant: ContinuousClock.Instant) -> Double {
            let d = clock.now - instant
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        while true {
            let state = try await status(key: key)
            if state.isTerminal { return try await result(key: key) }
            if elapsed(since: start) >= timeout { return .synthetic(key: key, errorCode: "timeout") }
            if autoExtend, let leaseId, lastExtend.map({ elapsed(since: $0) >= extendEvery }) ?? true {
                _ = try? await extend(key: key, leaseId: leaseId, ttl: ttl)
                lastExtend = clock.now
            }
            let hint = state.retryAfterSec ?? pollMin
            try await transport.sleep(min(max(hint, pollMin), pollMax))
        }
    }

    /// Starts a keyed run and waits for its result, or makes a governed tool call (SDK.md §8.2).
    ///
    /// Without `key` but with `agentId` or `tool`, this is ``run(key:ttl:metadata:agentId:tool:args:spendUsd:runId:)``
    /// in tool mode and returns the decision at once. With `key`, it runs in key mode and then
    /// ``wait(key:timeout:pollMin:pollMax:autoExtend:extendEvery:leaseId:ttl:)``s, heartbeating
    /// whatever `lease_id` the server returned.
    public func runAndWait(
        key: String? = nil, ttl: Int? = nil, metadata: JSONObject? = nil, agentId: String? = nil, tool: String? = nil,
        args: JSONObject? = nil, spendUsd: Double? = nil, runId: String? = nil, timeout: Double = 60,
        pollMin: Double = 0.5, pollMax: Double = 5, autoExtend: Bool = true, extendEvery: Double = 30
    ) async throws -> AIWaitOutcome {
        guard let key, !key.isEmpty else {
            guard agentId != nil || tool != nil else {
                throw OnceOnlyError.invalidArgument("ai.runAndWait requires key OR agentId/tool for tool execution")
            }
            let outcome = try await run(
                key: key, ttl: ttl, metadata: metadata, agentId: agentId, tool: tool, args: args, spendUsd: spendUsd,
                runId: runId)
            return .tool(AIToolResult(raw: outcome.raw))
        }
        let outcome = try await run(
            key: key, ttl: ttl, metadata: metadata, agentId: agentId, tool: tool, args: args, spendUsd: spendUsd,
            runId: runId)
        let leaseId: String? = if case .run(let run) = outcome { run.leaseId } else { nil }
        return .result(
            try await wait(
                key: key, timeout: timeout, pollMin: pollMin, pollMax: pollMax, autoExtend: autoExtend,
                extendEvery: extendEvery, leaseId: leaseId, ttl: ttl))
    }

    /// Runs `body` at most once for `key` across every process sharing the account, and returns
    /// the stored result (SDK.md §8.3).
    ///
    /// - If this call acquires the lease, `body` runs while a heartbeat extends the lease every
    ///   `max(1, extendEvery)` seconds (first one after one interval). Its value is stored with
    ///   ``complete(key:leaseId:result:resultHash:)`` (an object as is, `nil`/`null` as no
    ///   result, anything else as `{"value": "<text>"}`); if `body` or `complete` throws, the
    ///   lease is failed with `errorCode` and the original error is rethrown.
    /// - If the key already finished, its result is returned without running `body`.
    /// - If someone else holds it, this waits for their result (`waitOnConflict`, the default),
    ///   or returns a synthetic result with `errorCode: "not_acquired"`.
    ///
    /// Read the value from ``AIResult/result`` (or ``AIResult/decodeResult(as:)``).
    public func runFn<Output: Encodable>(
        key: String, ttl: Int = 300, metadata: JSONObject? = nil, extendEvery: Double = 30,
        waitOnConflict: Bool = true, timeout: Double = 60, pollMin: Double = 0.5, pollMax: Double = 5,
        errorCode: String = "fn_error", _ body: () async throws -> Output
    ) async throws -> AIResult {
        let acquired = try await lease(key: key, ttl: ttl, metadata: metadata)
        switch acquired.status.lowercased() {
        case "acquired":
            guard let leaseId = acquired.leaseId else { return .synthetic(key: key, errorCode: "missing_lease_id") }
            let heartbeat = startHeartbeat(key: key, leaseId: leaseId, ttl: ttl, every: extendEvery)
            defer { heartbeat.cancel() }
            do {
                let output = try await body()
                _ = try await complete(key: key, leaseId: leaseId, result: Self.resultObject(output))
            } catch {
                heartbeat.cancel()
                _ = try? await fail(key: key, leaseId: leaseId, errorCode: errorCode)
                throw error
            }
            heartbeat.cancel()
            return try await result(key: key)
        case "completed", "failed":
            return try await result(key: key)
        default:
            guard waitOnConflict else {
                return .synthetic(
                    key: key, status: acquired.status.isEmpty ? "in_progress" : acquired.status,
                    errorCode: "not_acquired")
            }
            return try await wait(key: key, timeout: timeout, pollMin: pollMin, pollMax: pollMax)
        }
    }

    /// Extends the lease every `max(1, every)` seconds until cancelled; errors are ignored.
    private func startHeartbeat(key: String, leaseId: String, ttl: Int, every: Double) -> Task<Void, Never> {
        let interval = UInt64(max(1, every) * 1e9)
        return Task {
            while !Task.isCancelled {
                do { try await Task.sleep(nanoseconds: interval) } catch { return }
                _ = try? await extend(key: key, leaseId: leaseId, ttl: ttl)
            }
        }
    }
}
