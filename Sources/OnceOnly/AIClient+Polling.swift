import Foundation

extension AIClient {
    /// Polls `key` until it is `completed` or `failed`, then returns ``result(key:)``
    /// (SDK.md §8.1).
    ///
    /// Each round reads ``status(key:)`` (errors such as 404 propagate); other states keep the
    /// loop going until `timeout`, after which a synthetic result with `errorCode: "timeout"` is
    /// returned. Rounds are `retry_after_sec` (else `pollMin`) apart, clamped to
    /// `pollMin...pollMax` and never longer than the time left, so the call returns at most one
    /// status call after `timeout` (the TypeScript SDK may sleep a whole hint past it). With
    /// `leaseId` and `autoExtend`, the lease is extended on the first
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
        let heartbeat = autoExtend ? leaseId.map { (leaseId: $0, ttl: ttl, every: extendEvery) } : nil
        switch try await poll(
            key: key, deadline: Deadline(seconds: timeout), pollMin: pollMin, pollMax: pollMax, heartbeat: heartbeat,
            stopWhenReleased: false)
        {
        case .finished(let result): return result
        case .timedOut, .released: return .synthetic(key: key, errorCode: "timeout")
        }
    }

    /// How a ``poll(key:deadline:pollMin:pollMax:heartbeat:stopWhenReleased:)`` ended.
    enum PollOutcome {
        /// The key reached `completed` or `failed`; its result.
        case finished(AIResult)
        /// The holder cancelled the lease: the key can be acquired again.
        case released
        /// The deadline passed first.
        case timedOut
    }

    /// The polling loop of SDK.md §8.1, shared by ``wait(key:timeout:pollMin:pollMax:autoExtend:extendEvery:leaseId:ttl:)``
    /// and `runFn`. Unlike the TypeScript SDK it never sleeps past `deadline`: each wait is the
    /// server's hint clamped to `pollMin...pollMax`, then cut to the time left, so a caller
    /// returns at most one status call after its timeout.
    func poll(
        key: String, deadline: Deadline, pollMin: Double, pollMax: Double,
        heartbeat: (leaseId: String, ttl: Int?, every: Double)?, stopWhenReleased: Bool
    ) async throws -> PollOutcome {
        var lastExtend: ContinuousClock.Instant?
        while true {
            let state = try await status(key: key)
            if state.isTerminal { return .finished(try await result(key: key)) }
            if stopWhenReleased && state.status == "canceled" { return .released }
            if deadline.secondsLeft <= 0 { return .timedOut }
            if let heartbeat, lastExtend.map({ Deadline.seconds(since: $0) >= heartbeat.every }) ?? true {
                _ = try? await extend(key: key, leaseId: heartbeat.leaseId, ttl: heartbeat.ttl)
                lastExtend = ContinuousClock.now
            }
            let hinted = min(max(state.retryAfterSec ?? pollMin, pollMin), pollMax)
            try await transport.sleep(max(0, min(hinted, deadline.secondsLeft)))
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

    /// A key-mode ``runAndWait(key:ttl:metadata:agentId:tool:args:spendUsd:runId:timeout:pollMin:pollMax:autoExtend:extendEvery:)``
    /// with any `Encodable` metadata that encodes to an object.
    public func runAndWait(
        key: String, ttl: Int? = nil, metadata: some Encodable, runId: String? = nil, timeout: Double = 60,
        pollMin: Double = 0.5, pollMax: Double = 5, autoExtend: Bool = true, extendEvery: Double = 30
    ) async throws -> AIWaitOutcome {
        // `key` as `String?`: only the JSONObject overload takes that, so this cannot call itself.
        try await runAndWait(
            key: key as String?, ttl: ttl, metadata: try JSONCoding.object(metadata, for: "metadata"), runId: runId,
            timeout: timeout, pollMin: pollMin, pollMax: pollMax, autoExtend: autoExtend, extendEvery: extendEvery)
    }

    /// Runs `body` at most once for `key` across every process sharing the account, and returns
    /// the stored result (SDK.md §8.3).
    ///
    /// - If this call acquires the lease, `body` runs while a heartbeat (a child task) extends the
    ///   lease every `max(1, extendEvery)` seconds (first one after one interval). Its value is
    ///   stored with ``complete(key:leaseId:result:resultHash:)`` (an object as is, `nil`/`null`
    ///   as no result, any other value as `{"value": <value>}`); if `body` or `complete` throws,
    ///   the lease is failed with `errorCode` and the original error is rethrown.
    /// - If the calling task is cancelled while `body` runs, the lease is given back with
    ///   ``cancel(key:leaseId:reason:)`` (reason `canceled`), so the next caller acquires the key
    ///   at once instead of after the TTL; then the error (usually `CancellationError`) is
    ///   rethrown. If `body` returns a value despite the cancellation, it is stored as usual.
    ///   The finishing call (`complete`, `fail` or `cancel`) runs where cancellation cannot abort
    ///   it, so it is bounded by the client's `timeout` (per attempt, with its retries).
    /// - If the key already finished, its result is returned without running `body`.
    /// - If someone else holds it, this waits for their result (`waitOnConflict`, the default),
    ///   or returns a synthetic result with `errorCode: "not_acquired"`. While waiting, a holder
    ///   that cancels (for example a cancelled `runFn` elsewhere) releases the key, and this call
    ///   tries to acquire it again (the TypeScript SDK keeps polling until its timeout).
    ///
    /// Read the value from ``AIResult/result`` (or ``AIResult/decodeResult(as:)``).
    ///
    /// - Parameter retryFailed: Send `retry_failed: true` with the lease call (a once-server
    ///   extension): a key whose last run failed is acquired and run again instead of returning
    ///   the failed result.
    public func runFn<Output: Encodable>(
        key: String, ttl: Int = 300, metadata: JSONObject? = nil, extendEvery: Double = 30,
        waitOnConflict: Bool = true, timeout: Double = 60, pollMin: Double = 0.5, pollMax: Double = 5,
        errorCode: String = "fn_error", retryFailed: Bool = false, _ body: () async throws -> Output
    ) async throws -> AIResult {
        let deadline = Deadline(seconds: timeout)
        while true {
            let acquired = try await lease(key: key, ttl: ttl, metadata: metadata, retryFailed: retryFailed)
            switch acquired.status.lowercased() {
            case "acquired":
                guard let leaseId = acquired.leaseId else { return .synthetic(key: key, errorCode: "missing_lease_id") }
                return try await runHolding(
                    key: key, leaseId: leaseId, ttl: ttl, extendEvery: extendEvery, errorCode: errorCode, body)
            case "completed", "failed":
                return try await result(key: key)
            default:
                guard waitOnConflict else {
                    return .synthetic(
                        key: key, status: acquired.status.isEmpty ? "in_progress" : acquired.status,
                        errorCode: "not_acquired")
                }
                switch try await poll(
                    key: key, deadline: deadline, pollMin: pollMin, pollMax: pollMax, heartbeat: nil,
                    stopWhenReleased: true)
                {
                case .finished(let result): return result
                case .timedOut: return .synthetic(key: key, errorCode: "timeout")
                case .released: continue
                }
            }
        }
    }

    /// ``runFn(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:retryFailed:_:)``
    /// with any `Encodable` metadata that encodes to an object (a `Codable` struct, …).
    public func runFn<Output: Encodable>(
        key: String, ttl: Int = 300, metadata: some Encodable, extendEvery: Double = 30,
        waitOnConflict: Bool = true, timeout: Double = 60, pollMin: Double = 0.5, pollMax: Double = 5,
        errorCode: String = "fn_error", retryFailed: Bool = false, _ body: () async throws -> Output
    ) async throws -> AIResult {
        try await runFn(
            key: key, ttl: ttl, metadata: try JSONCoding.object(metadata, for: "metadata"), extendEvery: extendEvery,
            waitOnConflict: waitOnConflict, timeout: timeout, pollMin: pollMin, pollMax: pollMax, errorCode: errorCode,
            retryFailed: retryFailed, body)
    }

    /// Runs `body` while holding the lease, then records its outcome (see `runFn`).
    private func runHolding<Output: Encodable>(
        key: String, leaseId: String, ttl: Int, extendEvery: Double, errorCode: String,
        _ body: () async throws -> Output
    ) async throws -> AIResult {
        // The heartbeat is a child task, so it stops when the body ends and when the caller is
        // cancelled; it never outlives this call.
        let outcome: Result<JSONObject?, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeat(key: key, leaseId: leaseId, ttl: ttl, every: extendEvery) }
            defer { group.cancelAll() }
            do {
                return .success(Self.resultObject(try await body()))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case .success(let result):
            try await settle(key: key, leaseId: leaseId, .complete(result, errorCode: errorCode))
            return try await self.result(key: key)
        case .failure(let error):
            let cancelled = Task.isCancelled || error is CancellationError
            try? await settle(key: key, leaseId: leaseId, cancelled ? .release : .fail(errorCode: errorCode))
            throw error
        }
    }

    /// How a held lease ends.
    private enum Settlement: Sendable {
        /// Store the result; if that fails, fail the lease with `errorCode` and throw.
        case complete(JSONObject?, errorCode: String)
        /// Fail the lease with `errorCode`.
        case fail(errorCode: String)
        /// Give the lease back without an outcome: the caller was cancelled.
        case release
    }

    /// Sends the last call of a held lease in an unstructured task and waits for it.
    ///
    /// The caller may already be cancelled (that is often why we are here), and the transport
    /// aborts requests of a cancelled task at once. A new `Task` does not inherit the
    /// cancellation, and awaiting its `value` does not react to it, so the call completes or
    /// hits the client's own timeout; the lease is never left held until its TTL because of it.
    private func settle(key: String, leaseId: String, _ settlement: Settlement) async throws {
        let call = Task {
            switch settlement {
            case .complete(let result, let errorCode):
                do {
                    _ = try await complete(key: key, leaseId: leaseId, result: result)
                } catch {
                    _ = try? await fail(key: key, leaseId: leaseId, errorCode: errorCode)
                    throw error
                }
            case .fail(let errorCode):
                _ = try await fail(key: key, leaseId: leaseId, errorCode: errorCode)
            case .release:
                _ = try await cancel(key: key, leaseId: leaseId, reason: "canceled")
            }
        }
        try await call.value
    }

    /// Extends the lease every `max(1, every)` seconds until cancelled; errors are ignored.
    private func heartbeat(key: String, leaseId: String, ttl: Int, every: Double) async {
        let interval = Duration.milliseconds(Int64(max(1, every) * 1000))
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            _ = try? await extend(key: key, leaseId: leaseId, ttl: ttl)
        }
    }
}

/// A point in time `seconds` from its creation, on the continuous clock.
struct Deadline: Sendable {
    let instant: ContinuousClock.Instant

    init(seconds: Double) {
        instant = .now + .milliseconds(Int64(max(0, min(seconds, 1e12)) * 1000))
    }

    /// Seconds until the deadline; negative once it has passed.
    var secondsLeft: Double { Self.seconds(of: instant - .now) }

    static func seconds(since instant: ContinuousClock.Instant) -> Double { seconds(of: .now - instant) }

    static func seconds(of duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
