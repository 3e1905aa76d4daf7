import Foundation

/// Lease-based exactly-once execution (`/ai/*`), reached through ``OnceOnlyClient/ai``.
///
/// The low-level calls (``lease(key:ttl:metadata:retryFailed:)``, ``extend(key:leaseId:ttl:)``,
/// ``complete(key:leaseId:result:resultHash:)``, ``fail(key:leaseId:errorCode:errorHash:)``,
/// ``cancel(key:leaseId:reason:)``) map one to one onto the endpoints; ``runFn(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:retryFailed:_:)``
/// combines them into "run this closure once across all processes". A holder that wants the
/// expected answers (held by someone else, finished, 409, 404) as values rather than errors
/// uses ``OnceOnlyClient/leases`` instead.
public struct AIClient: Sendable {
    let transport: HTTPTransport

    // MARK: Low-level lease calls

    /// Acquires the lease for `key`, or reports who holds it (`POST /ai/lease`).
    ///
    /// - Parameters:
    ///   - key: The lease key (1–256 characters).
    ///   - ttl: Lease TTL in seconds; the server's plan default when `nil`.
    ///   - metadata: Free-form object; `agent_id` and `run_id` are recognised by the server.
    ///   - retryFailed: Send `retry_failed: true` (a once-server extension): a failed key is
    ///     acquired again instead of answering `failed`. Not sent when `false`.
    public func lease(
        key: String, ttl: Int? = nil, metadata: JSONObject? = nil, retryFailed: Bool = false
    ) async throws -> AIRun {
        let body = LeaseBodies.lease(key: key, ttl: ttl, metadata: metadata, retryFailed: retryFailed)
        return AIRun(raw: try await transport.object("POST", "/ai/lease", body: body))
    }

    /// ``lease(key:ttl:metadata:retryFailed:)`` with any `Encodable` metadata that encodes to an
    /// object (a `Codable` struct, `[String: String]`, …).
    public func lease(
        key: String, ttl: Int? = nil, metadata: some Encodable, retryFailed: Bool = false
    ) async throws -> AIRun {
        try await lease(
            key: key, ttl: ttl, metadata: try JSONCoding.object(metadata, for: "metadata"), retryFailed: retryFailed)
    }

    /// Heartbeats a lease you hold: the new deadline is now + `ttl` (`POST /ai/extend`).
    ///
    /// - Parameters:
    ///   - key: The lease key.
    ///   - leaseId: Your lease token, from ``lease(key:ttl:metadata:retryFailed:)``.
    ///   - ttl: New TTL in seconds; the lease's current TTL when `nil`.
    /// - Throws: ``OnceOnlyError/api(status:detail:message:)`` 409 (`lease_mismatch`,
    ///   `lease_not_active`) or 404 among others.
    public func extend(key: String, leaseId: String, ttl: Int? = nil) async throws -> AILeaseUpdate {
        let body = LeaseBodies.extend(key: key, leaseId: leaseId, ttl: ttl)
        return AILeaseUpdate(raw: try await transport.object("POST", "/ai/extend", body: body))
    }

    /// Finishes a lease you hold with an optional result object (`POST /ai/complete`). Replaying
    /// the same call after it succeeded answers the same body.
    ///
    /// - Parameters:
    ///   - key: The lease key.
    ///   - leaseId: Your lease token, from ``lease(key:ttl:metadata:retryFailed:)``.
    ///   - result: The object later readers get from ``result(key:)``.
    ///   - resultHash: Your own hash of the result; the server computes one when `nil`.
    public func complete(
        key: String, leaseId: String, result: JSONObject? = nil, resultHash: String? = nil
    ) async throws -> AILeaseUpdate {
        let body = LeaseBodies.complete(key: key, leaseId: leaseId, result: result, resultHash: resultHash)
        return AILeaseUpdate(raw: try await transport.object("POST", "/ai/complete", body: body))
    }

    /// ``complete(key:leaseId:result:resultHash:)`` with any `Encodable` result that encodes to an
    /// object (a `Codable` struct, …); `nil` sends no result.
    public func complete(
        key: String, leaseId: String, result: some Encodable, resultHash: String? = nil
    ) async throws -> AILeaseUpdate {
        try await complete(
            key: key, leaseId: leaseId, result: try JSONCoding.object(result, for: "result"), resultHash: resultHash)
    }

    /// Finishes a lease you hold as failed (`POST /ai/fail`).
    public func fail(
        key: String, leaseId: String, errorCode: String, errorHash: String? = nil
    ) async throws -> AILeaseUpdate {
        let body = LeaseBodies.fail(key: key, leaseId: leaseId, errorCode: errorCode, errorHash: errorHash)
        return AILeaseUpdate(raw: try await transport.object("POST", "/ai/fail", body: body))
    }

    /// Gives a lease up without an outcome; the next ``lease(key:ttl:metadata:retryFailed:)`` acquires again
    /// (`POST /ai/cancel`). An empty `reason` is not sent.
    public func cancel(key: String, leaseId: String, reason: String? = nil) async throws -> AILeaseUpdate {
        let body = LeaseBodies.cancel(key: key, leaseId: leaseId, reason: reason)
        return AILeaseUpdate(raw: try await transport.object("POST", "/ai/cancel", body: body))
    }

    /// The lease state of `key` (`GET /ai/status`); 404 for an unknown key.
    public func status(key: String) async throws -> AIStatus {
        AIStatus(raw: try await transport.object("GET", "/ai/status", query: [("key", key)]))
    }

    /// The final result of `key` (`GET /ai/result`); 404 for an unknown key.
    public func result(key: String) async throws -> AIResult {
        AIResult(raw: try await transport.object("GET", "/ai/result", query: [("key", key)]))
    }

    // MARK: Runs

    /// Starts a keyed run or makes a governed tool call (`POST /ai/run`).
    ///
    /// Key mode (`key` non-empty): body `{key, ttl?, metadata?}` with `run_id` added to the
    /// metadata. Tool mode (no or empty `key`): needs `agentId` and `tool`; body
    /// `{agent_id, tool, args?, spend_usd?}` with `run_id` added to `args`.
    ///
    /// - Throws: ``OnceOnlyError/invalidArgument(_:)`` when the modes are mixed or incomplete,
    ///   or `runId` is blank (texts as in the TypeScript SDK).
    public func run(
        key: String? = nil, ttl: Int? = nil, metadata: JSONObject? = nil, agentId: String? = nil, tool: String? = nil,
        args: JSONObject? = nil, spendUsd: Double? = nil, runId: String? = nil
    ) async throws -> AIRunOutcome {
        let body = try Self.runBody(
            key: key, ttl: ttl, metadata: metadata, agentId: agentId, tool: tool, args: args, spendUsd: spendUsd,
            runId: runId)
        return AIRunOutcome(raw: try await transport.object("POST", "/ai/run", body: body))
    }

    /// A key-mode ``run(key:ttl:metadata:agentId:tool:args:spendUsd:runId:)`` with any
    /// `Encodable` metadata that encodes to an object.
    public func run(
        key: String, ttl: Int? = nil, metadata: some Encodable, runId: String? = nil
    ) async throws -> AIRunOutcome {
        // `key` as `String?`: only the JSONObject overload takes that, so this cannot call itself.
        try await run(
            key: key as String?, ttl: ttl, metadata: try JSONCoding.object(metadata, for: "metadata"), runId: runId)
    }

    /// A governed tool call: ``run(key:ttl:metadata:agentId:tool:args:spendUsd:runId:)`` in tool
    /// mode, read as a decision whatever the server answered.
    public func runTool(
        agentId: String, tool: String, args: JSONObject? = nil, spendUsd: Double? = nil, runId: String? = nil
    ) async throws -> AIToolResult {
        AIToolResult(raw: try await run(agentId: agentId, tool: tool, args: args, spendUsd: spendUsd, runId: runId).raw)
    }

    /// ``runTool(agentId:tool:args:spendUsd:runId:)`` with any `Encodable` arguments that encode
    /// to an object.
    public func runTool(
        agentId: String, tool: String, args: some Encodable, spendUsd: Double? = nil, runId: String? = nil
    ) async throws -> AIToolResult {
        try await runTool(
            agentId: agentId, tool: tool, args: try JSONCoding.object(args, for: "args"), spendUsd: spendUsd,
            runId: runId)
    }

    static func runBody(
        key: String?, ttl: Int?, metadata: JSONObject?, agentId: String?, tool: String?, args: JSONObject?,
        spendUsd: Double?, runId: String?
    ) throws -> JSONObject {
        var trimmedRunId: String?
        if let runId {
            let trimmed = runId.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw OnceOnlyError.invalidArgument("run_id must not be empty") }
            trimmedRunId = trimmed
        }
        guard let key, !key.isEmpty else {
            guard let agentId, !agentId.isEmpty, let tool, !tool.isEmpty else {
                throw OnceOnlyError.invalidArgument("ai.run requires key OR agentId and tool")
            }
            var body: JSONObject = ["agent_id": .string(agentId), "tool": .string(tool)]
            var callArgs = args ?? [:]
            callArgs["run_id"] = trimmedRunId.map(JSON.string)
            if !callArgs.isEmpty { body["args"] = .object(callArgs) }
            body["spend_usd"] = spendUsd.map(JSON.double)
            return body
        }
        if agentId != nil || tool != nil || args != nil || spendUsd != nil {
            throw OnceOnlyError.invalidArgument("ai.run: provide either key or agentId/tool, not both")
        }
        var body: JSONObject = ["key": .string(key)]
        body["ttl"] = ttl.map(JSON.int)
        if metadata != nil || trimmedRunId != nil {
            var meta = metadata ?? [:]
            meta["run_id"] = trimmedRunId.map(JSON.string) ?? meta["run_id"]
            body["metadata"] = .object(meta)
        }
        return body
    }
}
