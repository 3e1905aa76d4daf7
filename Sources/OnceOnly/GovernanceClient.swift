import Foundation

/// Policies, the agent kill switch, decision logs and the tools registry, reached through
/// ``OnceOnlyClient/gov``. Path segments (agent ids, tool names) are percent-encoded.
public struct GovernanceClient: Sendable {
    let transport: HTTPTransport

    // MARK: Policies

    /// Creates or updates (shallow merge) an agent's policy (`POST /policies/{agent_id}`).
    ///
    /// - Parameters:
    ///   - policy: Policy fields, e.g. `["allowed_tools": ["send_email"], "max_actions_per_hour": 100]`.
    ///   - agentId: The agent; `policy["agent_id"]` when `nil`. Trimmed; must not be blank.
    public func upsertPolicy(_ policy: JSONObject, agentId: String? = nil) async throws -> Policy {
        let id = (agentId ?? policy["agent_id"]?.jsString ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !id.isEmpty else { throw OnceOnlyError.invalidArgument("upsertPolicy requires agentId") }
        var body = policy
        body["agent_id"] = .string(id)
        let raw = try await transport.object("POST", "/policies/" + FormEncoding.pathComponent(id), body: body)
        return Policy(raw: raw, fallbackAgentId: id, payload: body)
    }

    /// Stores a policy built from a named template plus overrides
    /// (`POST /policies/{agent_id}/from-template`). Templates: `strict`, `moderate`, `permissive`,
    /// `read_only`, `support_bot`.
    public func policyFromTemplate(agentId: String, template: String, overrides: JSONObject? = nil) async throws
        -> Policy
    {
        let body: JSONObject = [
            "agent_id": .string(agentId), "template": .string(template), "overrides": .object(overrides ?? [:]),
        ]
        let raw = try await transport.object(
            "POST", "/policies/\(FormEncoding.pathComponent(agentId))/from-template", body: body)
        return Policy(raw: raw, fallbackAgentId: agentId, payload: body)
    }

    /// Every stored policy (`GET /policies`).
    public func listPolicies() async throws -> [Policy] {
        Self.items(try await transport.object("GET", "/policies")).map { Policy(raw: $0) }
    }

    /// One agent's policy (`GET /policies/{agent_id}`); 404 when none is stored.
    public func getPolicy(agentId: String) async throws -> Policy {
        let raw = try await transport.object("GET", "/policies/" + FormEncoding.pathComponent(agentId))
        return Policy(raw: raw, fallbackAgentId: agentId)
    }

    // MARK: Agents

    /// Turns the kill switch on: later governed calls of the agent are blocked
    /// (`POST /agents/{agent_id}/disable`). An empty `reason` sends `{}`.
    public func disableAgent(agentId: String, reason: String = "") async throws -> AgentStatus {
        try await agentSwitch(agentId: agentId, action: "disable", reason: reason)
    }

    /// Turns the kill switch off (`POST /agents/{agent_id}/enable`). An empty `reason` sends `{}`.
    public func enableAgent(agentId: String, reason: String = "") async throws -> AgentStatus {
        try await agentSwitch(agentId: agentId, action: "enable", reason: reason)
    }

    private func agentSwitch(agentId: String, action: String, reason: String) async throws -> AgentStatus {
        let body: JSONObject = reason.isEmpty ? [:] : ["reason": .string(reason)]
        let raw = try await transport.object(
            "POST", "/agents/\(FormEncoding.pathComponent(agentId))/\(action)", body: body)
        return AgentStatus(raw: raw, fallbackAgentId: agentId)
    }

    /// The agent's recent governance decisions, newest first (`GET /agents/{agent_id}/logs`).
    public func agentLogs(agentId: String, limit: Int = 100) async throws -> [AgentLogItem] {
        let raw = try await transport.object(
            "GET", "/agents/\(FormEncoding.pathComponent(agentId))/logs", query: [("limit", String(limit))])
        return Self.items(raw).map { AgentLogItem(raw: $0, fallbackAgentId: agentId) }
    }

    /// Decision aggregates over the trailing `period`: `hour`, `day` or `week`
    /// (`GET /agents/{agent_id}/metrics`).
    public func agentMetrics(agentId: String, period: String = "day") async throws -> AgentMetrics {
        let raw = try await transport.object(
            "GET", "/agents/\(FormEncoding.pathComponent(agentId))/metrics", query: [("period", period)])
        return AgentMetrics(raw: raw, fallbackAgentId: agentId, fallbackPeriod: period)
    }

    // MARK: Tools

    /// Creates or updates a tool by `name` and `scope_id` (`POST /tools`). The body is sent as
    /// given: `name`, `url`, `auth: {type: "hmac_sha256", secret}`, `scope_id`, `timeout_ms`, …
    public func createTool(_ tool: JSONObject) async throws -> JSONObject {
        try await transport.object("POST", "/tools", body: tool)
    }

    /// The tools of a scope: `global`, `agent:<agent_id>` or `all` (`GET /tools`).
    public func listTools(scopeId: String = "global") async throws -> [JSONObject] {
        Self.items(try await transport.object("GET", "/tools", query: [("scope_id", scopeId)]))
    }

    /// One tool (`GET /tools/{name}`); 404 when absent.
    public func getTool(name: String, scopeId: String = "global") async throws -> JSONObject {
        try await transport.object("GET", "/tools/" + FormEncoding.pathComponent(name), query: [("scope_id", scopeId)])
    }

    /// Enables or disables a tool (`POST /tools/{name}/toggle`).
    public func toggleTool(name: String, enabled: Bool, scopeId: String = "global") async throws -> JSONObject {
        try await transport.object(
            "POST", "/tools/\(FormEncoding.pathComponent(name))/toggle", query: [("scope_id", scopeId)],
            body: ["enabled": .bool(enabled)])
    }

    /// Deletes a tool (`DELETE /tools/{name}`).
    public func deleteTool(name: String, scopeId: String = "global") async throws -> JSONObject {
        try await transport.object(
            "DELETE", "/tools/" + FormEncoding.pathComponent(name), query: [("scope_id", scopeId)])
    }

    /// The object rows of a list answer: a bare array (wrapped as `data`), `items` or `data`.
    static func items(_ raw: JSONObject) -> [JSONObject] {
        (raw["items"]?.arrayValue ?? raw["data"]?.arrayValue ?? []).compactMap(\.objectValue)
    }
}
