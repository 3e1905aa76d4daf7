import Foundation
import OnceCore
import OnceStore
import PostgresNIO

extension PostgresStore {
    public func record(accountId: Int64, _ effects: Effects) async throws {
        let logger = self.logger
        let nowSQL = self.nowSQL
        try await transaction { c in
            let now = try await c.query("SELECT \(unescaped: nowSQL) AS db_now", logger: logger).rows()[0]
                .timestamp("db_now")
            try await Self.persist(effects, c, accountId: accountId, now: now, requestId: nil, logger)
        }
    }

    public func transactPolicy(
        accountId: Int64, agentId: String,
        _ decide: @escaping @Sendable ([String: JSONValue]?, Set<String>) -> PolicyWrite
    ) async throws -> PolicyWrite {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            // Serializes upserts of one agent's policy even before its row exists, so two
            // concurrent merges cannot lose one another.
            try await c.query(
                "SELECT pg_advisory_xact_lock(\(lockKey("policies", accountId, agentId)))", logger: logger)
            let stored = try await c.query(
                "SELECT policy FROM policies WHERE account_id = \(accountId) AND agent_id = \(agentId)",
                logger: logger
            ).rows().first?.json("policy")?.objectValue
            var tools = Set<String>()
            for row in try await c.query(
                "SELECT DISTINCT name FROM tools WHERE account_id = \(accountId)", logger: logger
            ).rows() {
                tools.insert(try row.value("name"))
            }
            let decision = decide(stored, tools)
            if case .stored(let policy) = decision {
                let text = JSONValue.object(policy).canonicalText
                try await c.query(
                    """
                    INSERT INTO policies (account_id, agent_id, policy, updated_at)
                    VALUES (\(accountId), \(agentId), \(text), \(unescaped: nowSQL))
                    ON CONFLICT (account_id, agent_id) DO UPDATE SET policy = excluded.policy,
                        updated_at = excluded.updated_at
                    """, logger: logger)
            }
            return decision
        }
    }

    public func policies(accountId: Int64, agentId: String?) async throws
        -> [(agentId: String, policy: [String: JSONValue])]
    {
        let logger = self.logger
        let rows = try await connection { c in
            try await c.query(
                """
                SELECT agent_id, policy FROM policies WHERE account_id = \(accountId)
                    AND (\(agentId)::text IS NULL OR agent_id = \(agentId)) ORDER BY agent_id
                """, logger: logger
            ).rows().map { (try $0.value("agent_id", as: String.self), try $0.json("policy")?.objectValue ?? [:]) }
        }
        return rows.map { (agentId: $0.0, policy: $0.1) }
    }

    public func setAgentEnabled(accountId: Int64, agentId: String, enabled: Bool, reason: String?) async throws
        -> AgentState
    {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            let query: PostgresQuery =
                enabled
                ? """
                INSERT INTO agents (account_id, agent_id, enabled) VALUES (\(accountId), \(agentId), TRUE)
                ON CONFLICT (account_id, agent_id) DO UPDATE SET enabled = TRUE, disabled_reason = NULL,
                    disabled_at = NULL
                RETURNING *
                """
                : """
                INSERT INTO agents (account_id, agent_id, enabled, disabled_reason, disabled_at)
                VALUES (\(accountId), \(agentId), FALSE, \(reason), \(unescaped: nowSQL))
                ON CONFLICT (account_id, agent_id) DO UPDATE SET enabled = FALSE,
                    disabled_reason = CASE WHEN agents.enabled THEN excluded.disabled_reason
                        ELSE agents.disabled_reason END,
                    disabled_at = CASE WHEN agents.enabled THEN excluded.disabled_at ELSE agents.disabled_at END
                RETURNING *
                """
            return try await c.query(query, logger: logger).rows()[0].agentState(agentId)
        }
    }

    public func agentState(accountId: Int64, agentId: String) async throws -> AgentState {
        let logger = self.logger
        return try await connection { c in
            try await c.query(
                "SELECT * FROM agents WHERE account_id = \(accountId) AND agent_id = \(agentId)", logger: logger
            ).rows().first?.agentState(agentId) ?? AgentState(agentId: agentId)
        }
    }

    public func appendDecisions(accountId: Int64, _ decisions: [AgentDecision]) async throws {
        guard !decisions.isEmpty else { return }
        let logger = self.logger
        try await transaction { c in
            for d in decisions {
                try await c.query(
                    """
                    INSERT INTO agent_logs (account_id, agent_id, ts, tool, decision, policy_reason, risk_level,
                        args_hash, spend_usd, result)
                    VALUES (\(accountId), \(d.agentId), \(d.ts.milliseconds), \(d.tool), \(d.decision),
                        \(d.policyReason), \(d.riskLevel), \(d.argsHash), \(d.spendUSD), \(d.result?.canonicalText))
                    """, logger: logger)
            }
        }
    }

    public func agentLogs(accountId: Int64, agentId: String, limit: Int) async throws -> [AgentDecision] {
        let logger = self.logger
        return try await connection { c in
            try await c.query(
                """
                SELECT * FROM agent_logs WHERE account_id = \(accountId) AND agent_id = \(agentId)
                ORDER BY ts DESC, id DESC LIMIT \(limit)
                """, logger: logger
            ).rows().map { row in
                AgentDecision(
                    ts: try row.timestamp("ts"), agentId: agentId, tool: try row.value("tool"),
                    decision: try row.value("decision"), policyReason: try row.value("policy_reason"),
                    riskLevel: try row.value("risk_level"), argsHash: try row.value("args_hash"),
                    spendUSD: try row.value("spend_usd"))
            }
        }
    }

    public func agentMetrics(accountId: Int64, agentId: String, sinceSecondsAgo seconds: Int) async throws
        -> AgentMetrics
    {
        let logger = self.logger
        let nowSQL = self.nowSQL
        let window = Int64(seconds) * 1000
        return try await connection { c in
            let totals = try await c.query(
                """
                SELECT COUNT(*)::int8 AS total, COUNT(*) FILTER (WHERE decision = 'blocked')::int8 AS blocked,
                    COALESCE(SUM(spend_usd), 0)::float8 AS spend
                FROM agent_logs WHERE account_id = \(accountId) AND agent_id = \(agentId)
                    AND ts > \(unescaped: nowSQL) - \(window)
                """, logger: logger
            ).rows()[0]
            let top = try await c.query(
                """
                SELECT tool, COUNT(*)::int8 AS n FROM agent_logs WHERE account_id = \(accountId)
                    AND agent_id = \(agentId) AND ts > \(unescaped: nowSQL) - \(window)
                GROUP BY tool ORDER BY n DESC, tool LIMIT 10
                """, logger: logger
            ).rows().map { (try $0.value("tool", as: String.self), try $0.value("n", as: Int64.self)) }
            return AgentMetrics(
                totalActions: try totals.value("total"), blockedActions: try totals.value("blocked"),
                totalSpendUSD: try totals.value("spend"), topTools: top)
        }
    }
}

extension PostgresRandomAccessRow {
    func agentState(_ agentId: String) throws -> AgentState {
        AgentState(
            agentId: agentId, enabled: try value("enabled"), disabledReason: try value("disabled_reason"),
            disabledAt: try optionalTimestamp("disabled_at"))
    }
}
