/// Lease calls for a holder (`/ai/*`), reached through ``OnceOnlyClient/leases``: the answers a
/// holder expects come back as values, not errors.
///
/// ``AIClient``'s calls mirror the official clients: every non-2xx answer throws, and a
/// `polling` or `failed` lease is a status string to compare. A program that holds leases
/// (once-exec, a worker) has to branch on those answers anyway: here ``acquire(key:ttl:metadata:retryFailed:)``
/// answers acquired, held or finished; extend, complete, fail and cancel answer applied,
/// conflict (409) or not found (404 `not_found`); status and result answer `nil` for an unknown
/// key. Everything else still throws ``OnceOnlyError``: no answer, 5xx (after the client's
/// retries), 401/403, 402, 422, 429, a 404 that is not the API's `not_found` (a wrong base URL),
/// and a 2xx that is not a lease answer (``OnceOnlyError/api(status:detail:message:)`` with the
/// 2xx status).
///
/// The once-server extensions are parameters: `retryFailed` on acquire, `result` on fail and
/// `runEvents` on the finishes. A server without them ignores the fields.
///
/// ```swift
/// switch try await client.leases.acquire(key: "nightly-report", ttl: 300) {
/// case .acquired(let lease):
///     let report: JSONObject = try await buildReport()
///     if case .conflict(let why) = try await client.leases.complete(
///         key: lease.key, leaseId: lease.leaseId, result: report)
///     {
///         print("the lease was lost before the end: \(why.code)")
///     }
/// case .held(let run): print("running elsewhere, \(run.ttlLeft ?? 0) s left at most")
/// case .finished(let run): print("already \(run.status)")
/// }
/// ```
public struct LeaseClient: Sendable {
    let transport: HTTPTransport

    /// Takes the lease for `key`, or says who has it (`POST /ai/lease`).
    ///
    /// - Parameters:
    ///   - key: The lease key (1–256 characters).
    ///   - ttl: Lease TTL in seconds; the server's plan default when `nil`.
    ///   - metadata: Free-form object; `agent_id` and `run_id` are recognised by the server.
    ///   - retryFailed: Send `retry_failed: true` (a once-server extension): a failed key is
    ///     acquired again instead of answering ``LeaseOutcome/finished(_:)``.
    /// - Returns: ``LeaseOutcome/acquired(_:)``, ``LeaseOutcome/held(_:)`` or ``LeaseOutcome/finished(_:)``.
    /// - Throws: ``OnceOnlyError`` for any other answer, an acquired answer without `lease_id`
    ///   or `version` included.
    public func acquire(
        key: String, ttl: Int? = nil, metadata: JSONObject? = nil, retryFailed: Bool = false
    ) async throws -> LeaseOutcome {
        let path = "/ai/lease"
        let body = LeaseBodies.lease(key: key, ttl: ttl, metadata: metadata, retryFailed: retryFailed)
        let response = try await transport.call(method: "POST", path: path, body: .object(body))
        let run = AIRun(raw: response.object)
        switch run.status.lowercased() {
        case "acquired":
            guard let leaseId = run.leaseId, let version = run.raw["version"]?.intValue else {
                throw Self.notALeaseAnswer(response, path, "an acquired lease without lease_id or version")
            }
            return .acquired(HeldLease(key: key, leaseId: leaseId, version: version, ttl: run.ttl, answer: run))
        case "polling", "in_progress":
            return .held(run)
        case "completed", "failed":
            return .finished(run)
        default:
            throw Self.notALeaseAnswer(response, path, "status \(run.raw["status"]?.typeScriptText ?? "missing")")
        }
    }

    /// Heartbeats a lease you hold: its deadline becomes now + `ttl` (`POST /ai/extend`).
    ///
    /// - Parameters:
    ///   - key: The lease key.
    ///   - leaseId: Your lease token (``HeldLease/leaseId``).
    ///   - ttl: The new TTL in seconds; the lease's current TTL when `nil`.
    public func extend(key: String, leaseId: String, ttl: Int? = nil) async throws -> LeaseUpdateOutcome {
        try await update("/ai/extend", LeaseBodies.extend(key: key, leaseId: leaseId, ttl: ttl))
    }

    /// Finishes a lease you hold with an optional result object (`POST /ai/complete`). A repeat
    /// of the same call after it was stored is applied again with the same answer, so a finish
    /// whose answer was lost can be sent again.
    ///
    /// - Parameters:
    ///   - key: The lease key.
    ///   - leaseId: Your lease token.
    ///   - result: The object later readers get from ``result(key:)``.
    ///   - resultHash: Your own hash of the result; the server computes one when `nil`.
    ///   - runEvents: Timeline events written with the finish (see ``RunEventAttachment``).
    public func complete(
        key: String, leaseId: String, result: JSONObject? = nil, resultHash: String? = nil,
        runEvents: [RunEventAttachment]? = nil
    ) async throws -> LeaseUpdateOutcome {
        try await update(
            "/ai/complete",
            LeaseBodies.complete(
                key: key, leaseId: leaseId, result: result, resultHash: resultHash, runEvents: runEvents))
    }

    /// Finishes a lease you hold as failed (`POST /ai/fail`).
    ///
    /// - Parameters:
    ///   - key: The lease key.
    ///   - leaseId: Your lease token.
    ///   - errorCode: The failure's code, e.g. `fn_error`.
    ///   - errorHash: Your own hash of the error.
    ///   - result: Any JSON value stored with the failed lease and returned by ``result(key:)``
    ///     (once-server's extension, at most 256 KiB serialized).
    ///   - runEvents: Timeline events written with the finish (see ``RunEventAttachment``).
    public func fail(
        key: String, leaseId: String, errorCode: String, errorHash: String? = nil, result: JSON? = nil,
        runEvents: [RunEventAttachment]? = nil
    ) async throws -> LeaseUpdateOutcome {
        try await update(
            "/ai/fail",
            LeaseBodies.fail(
                key: key, leaseId: leaseId, errorCode: errorCode, errorHash: errorHash, result: result,
                runEvents: runEvents))
    }

    /// Gives a lease up without an outcome; the next acquire takes it again (`POST /ai/cancel`).
    /// An empty `reason` is not sent.
    ///
    /// - Parameters:
    ///   - key: The lease key.
    ///   - leaseId: Your lease token.
    ///   - reason: Why, for the events feed.
    ///   - runEvents: Timeline events written with the cancel (see ``RunEventAttachment``).
    public func cancel(
        key: String, leaseId: String, reason: String? = nil, runEvents: [RunEventAttachment]? = nil
    ) async throws -> LeaseUpdateOutcome {
        try await update(
            "/ai/cancel", LeaseBodies.cancel(key: key, leaseId: leaseId, reason: reason, runEvents: runEvents))
    }

    /// The lease state of `key` (`GET /ai/status`), `nil` when no lease exists for it.
    public func status(key: String) async throws -> AIStatus? {
        let path = "/ai/status"
        guard let response = try await read(path, key: key) else { return nil }
        let status = AIStatus(raw: response.object)
        guard status.raw["status"]?.stringValue != nil else {
            throw Self.notALeaseAnswer(response, path, "no status")
        }
        return status
    }

    /// The final result of `key` (`GET /ai/result`), `nil` when no lease exists for it.
    public func result(key: String) async throws -> AIResult? {
        guard let response = try await read("/ai/result", key: key) else { return nil }
        return AIResult(raw: response.object)
    }

    // MARK: Answers

    private func update(_ path: String, _ body: JSONObject) async throws -> LeaseUpdateOutcome {
        let response = try await transport.send(method: "POST", path: path, body: .object(body))
        if response.isSuccess { return .applied(AILeaseUpdate(raw: response.object)) }
        if response.status == 409 { return .conflict(LeaseConflict(detail: Self.detail(response))) }
        if Self.isKeyNotFound(response) { return .notFound }
        throw ErrorMapping.error(for: response)
    }

    /// A GET by key: the 2xx answer, or `nil` for the API's 404 `not_found`.
    private func read(_ path: String, key: String) async throws -> OnceOnlyResponse? {
        let response = try await transport.send(method: "GET", path: path, query: [("key", key)])
        if response.isSuccess { return response }
        if Self.isKeyNotFound(response) { return nil }
        throw ErrorMapping.error(for: response)
    }

    private static func detail(_ response: OnceOnlyResponse) -> JSONObject {
        ErrorMapping.detailObject(ErrorMapping.detail(of: response))
    }

    /// The API's own "no lease for this key", not a 404 for a path the server does not have.
    private static func isKeyNotFound(_ response: OnceOnlyResponse) -> Bool {
        response.status == 404 && detail(response)["error"]?.stringValue == "not_found"
    }

    /// A 2xx answer that is not what a lease call answers (a proxy, a wrong base URL).
    private static func notALeaseAnswer(_ response: OnceOnlyResponse, _ path: String, _ what: String)
        -> OnceOnlyError
    {
        .api(
            status: response.status, detail: response.object,
            message: "\(path) answered HTTP \(response.status) with \(what), not a lease answer")
    }
}
