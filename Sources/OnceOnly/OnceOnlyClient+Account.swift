import Foundation

extension OnceOnlyClient {
    // MARK: Account, usage, metrics

    /// Key and account information: `plan`, `key_preview`, notification flags, … (`GET /me`).
    public func me() async throws -> JSONObject {
        try await transport.object("GET", "/me")
    }

    /// Updates e-mail alert preferences; only the flags you pass are sent
    /// (`POST /me/notifications`). Returns the three current values.
    ///
    /// - Throws: ``OnceOnlyError/invalidArgument(_:)`` when no flag is given.
    public func updateNotifications(
        emailNotificationsEnabled: Bool? = nil, toolErrorNotificationsEnabled: Bool? = nil,
        runFailureNotificationsEnabled: Bool? = nil
    ) async throws -> JSONObject {
        var body: JSONObject = [:]
        body["email_notifications_enabled"] = emailNotificationsEnabled.map(JSON.bool)
        body["tool_error_notifications_enabled"] = toolErrorNotificationsEnabled.map(JSON.bool)
        body["run_failure_notifications_enabled"] = runFailureNotificationsEnabled.map(JSON.bool)
        guard !body.isEmpty else {
            throw OnceOnlyError.invalidArgument("updateNotifications requires at least one preference field")
        }
        return try await transport.object("POST", "/me/notifications", body: body)
    }

    /// This month's usage for one kind, `make` (check-lock) or `ai` (`GET /usage`).
    public func usage(kind: String = "make") async throws -> JSONObject {
        try await transport.object("GET", "/usage", query: [("kind", kind)])
    }

    /// This month's usage for both kinds (`GET /usage/all`).
    public func usageAll() async throws -> JSONObject {
        try await transport.object("GET", "/usage/all")
    }

    /// Daily counters from `fromDay` to `toDay` inclusive, both `YYYY-MM-DD`
    /// (`GET /metrics`). The server's array arrives as `{"data": [...]}`, as in the official SDKs.
    public func metrics(fromDay: String, toDay: String) async throws -> JSONObject {
        try await transport.object("GET", "/metrics", query: [("from_day", fromDay), ("to_day", toDay)])
    }

    /// ``metrics(fromDay:toDay:)`` for the UTC days that contain `from` and `to`.
    public func metrics(from: Date, to: Date) async throws -> JSONObject {
        try await metrics(fromDay: Self.utcDay(from), toDay: Self.utcDay(to))
    }

    /// `YYYY-MM-DD` of the UTC day containing `date` (the server counts days in UTC).
    static func utcDay(_ date: Date) -> String { String(JavaScriptDate.isoString(date).prefix(10)) }

    // MARK: Events and runs

    /// The recent activity feed of the account, newest first (`GET /events`). The server's
    /// array arrives as `{"data": [...]}`, as in the official SDKs.
    public func events(limit: Int = 50, offset: Int = 0) async throws -> JSONObject {
        try await transport.object("GET", "/events", query: [("limit", String(limit)), ("offset", String(offset))])
    }

    /// Appends an event to the timeline of `runId` (`POST /events`). Returns
    /// `{"ok": true, "event_id": …, "run_id": …}`.
    ///
    /// - Parameters:
    ///   - runId: The run (trimmed; must not be blank).
    ///   - type: Free-form event type, e.g. `tool_call`, `note` (trimmed; must not be blank).
    ///   - ts: Unix seconds, fractions allowed (as the TypeScript SDK's `number`); server time
    ///     when `nil`. An integral value is sent without a fraction.
    ///   - status: Free-form status, e.g. `start`, `ok`, `failed`.
    ///   - durationMs: Duration of the step in milliseconds, fractions allowed.
    ///   - step: Step name within the run.
    ///   - tool: Tool involved.
    ///   - reqId: Request id to correlate with.
    ///   - leaseId: Lease the event belongs to.
    ///   - agentId: Agent that acted.
    ///   - message: Human-readable text.
    ///   - data: Free-form object.
    ///   - extra: More top-level fields, merged last (they may overwrite the others).
    public func postEvent(
        runId: String, type: String, ts: Double? = nil, status: String? = nil, durationMs: Double? = nil,
        step: String? = nil, tool: String? = nil, reqId: String? = nil, leaseId: String? = nil, agentId: String? = nil,
        message: String? = nil, data: JSONObject? = nil, extra: JSONObject? = nil
    ) async throws -> JSONObject {
        let run = runId.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !run.isEmpty else { throw OnceOnlyError.invalidArgument("run_id must not be empty") }
        let kind = type.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !kind.isEmpty else { throw OnceOnlyError.invalidArgument("type must not be empty") }
        var body: JSONObject = ["run_id": .string(run), "type": .string(kind)]
        body["ts"] = ts.map(JSON.double)
        body["status"] = status.map(JSON.string)
        body["duration_ms"] = durationMs.map(JSON.double)
        body["step"] = step.map(JSON.string)
        body["tool"] = tool.map(JSON.string)
        body["req_id"] = reqId.map(JSON.string)
        body["lease_id"] = leaseId.map(JSON.string)
        body["agent_id"] = agentId.map(JSON.string)
        body["message"] = message.map(JSON.string)
        body["data"] = data.map(JSON.object)
        body.merge(extra ?? [:]) { _, new in new }
        return try await transport.object("POST", "/events", body: body)
    }

    /// ``postEvent(runId:type:ts:status:durationMs:step:tool:reqId:leaseId:agentId:message:data:extra:)``
    /// with any `Encodable` `data` that encodes to an object (a `Codable` struct, …).
    public func postEvent(
        runId: String, type: String, ts: Double? = nil, status: String? = nil, durationMs: Double? = nil,
        step: String? = nil, tool: String? = nil, reqId: String? = nil, leaseId: String? = nil, agentId: String? = nil,
        message: String? = nil, data: some Encodable, extra: JSONObject? = nil
    ) async throws -> JSONObject {
        try await postEvent(
            runId: runId, type: type, ts: ts, status: status, durationMs: durationMs,
            step: step, tool: tool, reqId: reqId, leaseId: leaseId, agentId: agentId, message: message,
            data: try JSONCoding.object(data, for: "data"), extra: extra)
    }

    /// The events of one run in chronological order: `{"run_id", "total", "events": [...]}`
    /// (`GET /runs/{run_id}`). An unknown run has `total: 0`.
    ///
    /// - Throws: ``OnceOnlyError/invalidArgument(_:)`` when `runId` is blank.
    public func getRunTimeline(runId: String, limit: Int = 200, offset: Int = 0) async throws -> JSONObject {
        let run = runId.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !run.isEmpty else { throw OnceOnlyError.invalidArgument("run_id must not be empty") }
        return try await transport.object(
            "GET", "/runs/" + FormEncoding.pathComponent(run),
            query: [("limit", String(limit)), ("offset", String(offset))])
    }

    /// Runs of the account, most recent first: `{"total", "items": [...]}` (`GET /runs`). Not
    /// wrapped by the official SDKs (the dashboard uses it).
    ///
    /// - Parameters:
    ///   - limit: Page size, 1–500 (default 50).
    ///   - offset: Runs to skip.
    ///   - q: Only runs whose id starts with this prefix.
    public func listRuns(limit: Int = 50, offset: Int = 0, q: String? = nil) async throws -> JSONObject {
        var query = [("limit", String(limit)), ("offset", String(offset))]
        if let q { query.append(("q", q)) }
        return try await transport.object("GET", "/runs", query: query)
    }

    // MARK: AI delegates

    /// Same as ``AIClient/run(key:ttl:metadata:agentId:tool:args:spendUsd:runId:)``.
    public func aiRun(
        key: String? = nil, ttl: Int? = nil, metadata: JSONObject? = nil, agentId: String? = nil, tool: String? = nil,
        args: JSONObject? = nil, spendUsd: Double? = nil, runId: String? = nil
    ) async throws -> AIRunOutcome {
        try await ai.run(
            key: key, ttl: ttl, metadata: metadata, agentId: agentId, tool: tool, args: args, spendUsd: spendUsd,
            runId: runId)
    }

    /// Same as ``AIClient/runAndWait(key:ttl:metadata:agentId:tool:args:spendUsd:runId:timeout:pollMin:pollMax:autoExtend:extendEvery:)``.
    public func aiRunAndWait(
        key: String? = nil, ttl: Int? = nil, metadata: JSONObject? = nil, agentId: String? = nil, tool: String? = nil,
        args: JSONObject? = nil, spendUsd: Double? = nil, runId: String? = nil, timeout: Double = 60,
        pollMin: Double = 0.5, pollMax: Double = 5, autoExtend: Bool = true, extendEvery: Double = 30
    ) async throws -> AIWaitOutcome {
        try await ai.runAndWait(
            key: key, ttl: ttl, metadata: metadata, agentId: agentId, tool: tool, args: args, spendUsd: spendUsd,
            runId: runId, timeout: timeout, pollMin: pollMin, pollMax: pollMax, autoExtend: autoExtend,
            extendEvery: extendEvery)
    }
}
