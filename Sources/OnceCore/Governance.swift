/// The kill-switch state of one agent (API §9.1, §9.2). Agents are implicit: one never
/// disabled is enabled.
public struct AgentState: Sendable, Equatable {
    public var agentId: String
    public var enabled: Bool
    public var disabledReason: String?
    public var disabledAt: Timestamp?

    public init(agentId: String, enabled: Bool = true, disabledReason: String? = nil, disabledAt: Timestamp? = nil) {
        self.agentId = agentId
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.disabledAt = disabledAt
    }
}

/// One governance decision, as the agent log shows it (API §9.3).
public struct AgentDecision: Sendable, Equatable {
    public var ts: Timestamp
    public var agentId: String
    public var tool: String
    public var decision: String
    public var policyReason: String
    public var riskLevel: String
    public var argsHash: String?
    public var spendUSD: Double
    /// The backend's result of a successful executed call, kept so an identical call inside the
    /// dedup window can answer it again (API §7 step 7); never shown in the log.
    public var result: JSONValue?

    public var allowed: Bool { decision != "blocked" }

    public init(
        ts: Timestamp, agentId: String, tool: String, decision: String, policyReason: String, riskLevel: String,
        argsHash: String?, spendUSD: Double, result: JSONValue? = nil
    ) {
        self.result = result
        self.ts = ts
        self.agentId = agentId
        self.tool = tool
        self.decision = decision
        self.policyReason = policyReason
        self.riskLevel = riskLevel
        self.argsHash = argsHash
        self.spendUSD = spendUSD
    }
}

/// Aggregates of an agent's decisions over a trailing window (API §9.4).
public struct AgentMetrics: Sendable, Equatable {
    public var totalActions: Int64
    public var blockedActions: Int64
    public var totalSpendUSD: Double
    /// By count, descending (ties by name), at most 10.
    public var topTools: [(tool: String, count: Int64)]

    public init(totalActions: Int64, blockedActions: Int64, totalSpendUSD: Double, topTools: [(String, Int64)]) {
        self.totalActions = totalActions
        self.blockedActions = blockedActions
        self.totalSpendUSD = totalSpendUSD
        self.topTools = topTools.map { (tool: $0.0, count: $0.1) }
    }

    public static func == (a: AgentMetrics, b: AgentMetrics) -> Bool {
        a.totalActions == b.totalActions && a.blockedActions == b.blockedActions && a.totalSpendUSD == b.totalSpendUSD
            && a.topTools.map(\.tool) == b.topTools.map(\.tool) && a.topTools.map(\.count) == b.topTools.map(\.count)
    }
}

/// `period` of the agent metrics (API §9.4): a trailing window.
public enum MetricsPeriod: String, Sendable, CaseIterable {
    case hour, day, week

    public var seconds: Int {
        switch self {
        case .hour: 3_600
        case .day: 86_400
        case .week: 7 * 86_400
        }
    }
}

/// What a policy upsert decided inside its transaction.
public enum PolicyWrite: Sendable, Equatable {
    case stored([String: JSONValue])
    /// The patch names tools that are not registered (API §8.1); nothing was written.
    case unknownTools([String])
}

extension Retention {
    /// Agent decision logs (API §9.3: 7 days).
    public static let agentLogSeconds = 7 * 86_400
}
