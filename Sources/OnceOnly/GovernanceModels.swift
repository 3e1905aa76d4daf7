/// An agent's governance policy (`/policies`).
public struct Policy: Sendable, Equatable {
    /// The agent the policy governs.
    public var agentId: String
    /// The stored policy fields.
    public var policy: JSONObject
    /// Cap on executed actions per UTC hour.
    public var maxActionsPerHour: Double?
    /// Cap on spend per UTC day, in USD.
    public var maxSpendUsdPerDay: Double?
    /// Allow-list of tool names (empty means no allow-list).
    public var allowedTools: [String]?
    /// Deny-list of tool names.
    public var blockedTools: [String]?
    /// Per-tool caps per UTC day.
    public var maxCallsPerTool: JSONObject?
    /// Per-tool prices: `[{"tool": …, "price_usd": …}]`.
    public var pricingRules: [JSON]?
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer: `policy` is the answer's `policy` object, else `payload` (what was sent),
    /// else the whole answer; `agentId` falls back to `fallbackAgentId`.
    public init(raw: JSONObject, fallbackAgentId: String = "", payload: JSONObject? = nil) {
        let root = FieldReader(raw)
        agentId = root.value("agent_id")?.jsString ?? fallbackAgentId
        policy = root.object("policy") ?? payload ?? raw
        let fields = FieldReader(policy)
        maxActionsPerHour = fields.optionalDouble("max_actions_per_hour")
        maxSpendUsdPerDay = fields.optionalDouble("max_spend_usd_per_day")
        allowedTools = fields.array("allowed_tools")?.compactMap(\.stringValue)
        blockedTools = fields.array("blocked_tools")?.compactMap(\.stringValue)
        maxCallsPerTool = fields.object("max_calls_per_tool")
        pricingRules = fields.array("pricing_rules")
        self.raw = raw
    }
}

/// The kill-switch state of an agent (`/agents/{id}/disable|enable`).
public struct AgentStatus: Sendable, Equatable {
    /// The agent.
    public var agentId: String
    /// `false` while the kill switch is on.
    public var isEnabled: Bool
    /// Why it was disabled.
    public var disabledReason: String?
    /// When it was disabled (ISO-8601).
    public var disabledAt: String?
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer; `is_enabled` or `enabled` decide ``isEnabled``.
    public init(raw: JSONObject, fallbackAgentId: String = "") {
        let r = FieldReader(raw)
        agentId = r.value("agent_id")?.jsString ?? fallbackAgentId
        isEnabled = (r.value("is_enabled") ?? r.value("enabled"))?.isTruthy ?? false
        disabledReason = r.optionalString("disabled_reason")
        disabledAt = r.optionalString("disabled_at")
        self.raw = raw
    }
}

/// One governance decision from an agent's log (`/agents/{id}/logs`).
public struct AgentLogItem: Sendable, Equatable {
    /// When (Unix seconds, as sent).
    public var ts: JSON
    /// The agent.
    public var agentId: String
    /// The tool called.
    public var tool: String?
    /// Whether the call was allowed.
    public var allowed: Bool
    /// `executed`, `blocked`, `dedup` (else derived from ``allowed``).
    public var decision: String?
    /// The policy reason (`ok`, `tool_not_in_allowed_list`, …).
    public var policyReason: String?
    /// ``policyReason`` or the row's `reason`.
    public var reason: String
    /// Digest of the canonical arguments.
    public var argsHash: String?
    /// `low`, `medium` or `high`.
    public var riskLevel: String?
    /// Spend of the call in USD (0 when absent).
    public var spendUsd: Double
    /// The row as received.
    public var raw: JSONObject

    /// Reads a row with the official coercion rules.
    public init(raw: JSONObject, fallbackAgentId: String = "") {
        let r = FieldReader(raw)
        ts = raw["ts"] ?? .null
        agentId = r.value("agent_id")?.jsString ?? fallbackAgentId
        tool = r.optionalString("tool")
        allowed = r.bool("allowed", default: true)
        policyReason = r.optionalString("policy_reason") ?? r.string("reason")
        decision = r.optionalString("decision") ?? (allowed ? "allowed" : "blocked")
        reason = r.value("reason")?.jsString ?? policyReason ?? ""
        argsHash = r.optionalString("args_hash")
        riskLevel = r.optionalString("risk_level")
        spendUsd = r.double("spend_usd")
        self.raw = raw
    }
}

/// Decision aggregates of an agent over a trailing period (`/agents/{id}/metrics`).
public struct AgentMetrics: Sendable, Equatable {
    /// The agent.
    public var agentId: String
    /// `hour`, `day` or `week`.
    public var period: String
    /// All decisions in the period.
    public var totalActions: Int
    /// Blocked decisions in the period.
    public var blockedActions: Int
    /// Spend in USD in the period.
    public var totalSpendUsd: Double
    /// `[{"tool": …, "count": …}]`, most used first.
    public var topTools: [JSONObject]
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer; numbers default to 0 and `period` to the requested one.
    public init(raw: JSONObject, fallbackAgentId: String = "", fallbackPeriod: String = "day") {
        let r = FieldReader(raw)
        agentId = r.value("agent_id")?.jsString ?? fallbackAgentId
        period = r.value("period")?.jsString ?? fallbackPeriod
        totalActions = r.int("total_actions")
        blockedActions = r.int("blocked_actions")
        totalSpendUsd = r.double("total_spend_usd")
        topTools = r.array("top_tools")?.compactMap(\.objectValue) ?? []
        self.raw = raw
    }
}
