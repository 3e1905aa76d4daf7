import GRDB
import OnceCore

extension SQLiteStore {
    public func record(accountId: Int64, _ effects: Effects) async throws {
        try await write { db in
            try EffectsWriter.persist(effects, db, accountId: accountId, now: self.clock(), requestId: nil)
        }
    }

    public func transactPolicy(
        accountId: Int64, agentId: String,
        _ decide: @escaping @Sendable ([String: JSONValue]?, Set<String>) -> PolicyWrite
    ) async throws -> PolicyWrite {
        try await write { db in
            let text = try String.fetchOne(
                db, sql: "SELECT policy FROM policies WHERE account_id = ? AND agent_id = ?",
                arguments: [accountId, agentId])
            let stored = try JSONColumn.decode(text, column: "policies.policy")?.objectValue
            let tools = Set(
                try String.fetchAll(
                    db, sql: "SELECT DISTINCT name FROM tools WHERE account_id = ?", arguments: [accountId]))
            let decision = decide(stored, tools)
            if case .stored(let policy) = decision {
                try db.execute(
                    sql: """
                        INSERT INTO policies (account_id, agent_id, policy, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (account_id, agent_id) DO UPDATE SET policy = excluded.policy,
                            updated_at = excluded.updated_at
                        """,
                    arguments: [accountId, agentId, JSONValue.object(policy).canonicalText, self.clock().milliseconds])
            }
            return decision
        }
    }

    public func policies(accountId: Int64, agentId: String?) async throws
        -> [(agentId: String, policy: [String: JSONValue])]
    {
        let rows = try await read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT agent_id, policy FROM policies WHERE account_id = ? AND (? IS NULL OR agent_id = ?)"
                    + " ORDER BY agent_id", arguments: [accountId, agentId, agentId]
            ).map {
                (try $0.decode(String.self, forColumn: "agent_id"), try $0.decode(String.self, forColumn: "policy"))
            }
        }
        return try rows.map { id, text in
            (agentId: id, policy: try JSONColumn.decode(text, column: "policies.policy")?.objectValue ?? [:])
        }
    }

    public func setAgentEnabled(accountId: Int64, agentId: String, enabled: Bool, reason: String?) async throws
        -> AgentState
    {
        try await write { db in
            if enabled {
                try db.execute(
                    sql: """
                        INSERT INTO agents (account_id, agent_id, enabled) VALUES (?, ?, 1)
                        ON CONFLICT (account_id, agent_id) DO UPDATE SET enabled = 1, disabled_reason = NULL,
                            disabled_at = NULL
                        """, arguments: [accountId, agentId])
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO agents (account_id, agent_id, enabled, disabled_reason, disabled_at)
                        VALUES (?, ?, 0, ?, ?)
                        ON CONFLICT (account_id, agent_id) DO UPDATE SET enabled = 0,
                            disabled_reason = CASE WHEN agents.enabled = 0 THEN agents.disabled_reason
                                ELSE excluded.disabled_reason END,
                            disabled_at = CASE WHEN agents.enabled = 0 THEN agents.disabled_at
                                ELSE excluded.disabled_at END
                        """, arguments: [accountId, agentId, reason, self.clock().milliseconds])
            }
            return try Self.agentState(db, accountId: accountId, agentId: agentId)
        }
    }

    public func agentState(accountId: Int64, agentId: String) async throws -> AgentState {
        try await read { db in try Self.agentState(db, accountId: accountId, agentId: agentId) }
    }

    static func agentState(_ db: Database, accountId: Int64, agentId: String) throws -> AgentState {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT * FROM agents WHERE account_id = ? AND agent_id = ?", arguments: [accountId, agentId])
        else { return AgentState(agentId: agentId) }
        return AgentState(
            agentId: agentId, enabled: try row.decode(Bool.self, forColumn: "enabled"),
            disabledReason: try row.decode(String?.self, forColumn: "disabled_reason"),
            disabledAt: try row.decode(Int64?.self, forColumn: "disabled_at").map { Timestamp(milliseconds: $0) })
    }

    public func appendDecisions(accountId: Int64, _ decisions: [AgentDecision]) async throws {
        guard !decisions.isEmpty else { return }
        try await write { db in
            for d in decisions {
                try db.execute(
                    sql: """
                        INSERT INTO agent_logs (account_id, agent_id, ts, tool, decision, policy_reason, risk_level,
                            args_hash, spend_usd, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        accountId, d.agentId, d.ts.milliseconds, d.tool, d.decision, d.policyReason, d.riskLevel,
                        d.argsHash, d.spendUSD, JSONColumn.encode(d.result),
                    ])
            }
        }
    }

    public func agentLogs(accountId: Int64, agentId: String, limit: Int) async throws -> [AgentDecision] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM agent_logs WHERE account_id = ? AND agent_id = ? ORDER BY ts DESC, id DESC LIMIT ?
                    """, arguments: [accountId, agentId, limit]
            ).map { row in
                AgentDecision(
                    ts: Timestamp(milliseconds: try row.decode(forColumn: "ts")), agentId: agentId,
                    tool: try row.decode(forColumn: "tool"), decision: try row.decode(forColumn: "decision"),
                    policyReason: try row.decode(forColumn: "policy_reason"),
                    riskLevel: try row.decode(forColumn: "risk_level"),
                    argsHash: try row.decode(forColumn: "args_hash"),
                    spendUSD: try row.decode(forColumn: "spend_usd"))
            }
        }
    }

    public func agentMetrics(accountId: Int64, agentId: String, sinceSecondsAgo seconds: Int) async throws
        -> AgentMetrics
    {
        let since = clock().adding(seconds: -seconds).milliseconds
        return try await read { db in
            let totals = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS total, COALESCE(SUM(decision = 'blocked'), 0) AS blocked,
                        COALESCE(SUM(spend_usd), 0.0) AS spend
                    FROM agent_logs WHERE account_id = ? AND agent_id = ? AND ts > ?
                    """, arguments: [accountId, agentId, since])
            let top = try Row.fetchAll(
                db,
                sql: """
                    SELECT tool, COUNT(*) AS n FROM agent_logs WHERE account_id = ? AND agent_id = ? AND ts > ?
                    GROUP BY tool ORDER BY n DESC, tool LIMIT 10
                    """, arguments: [accountId, agentId, since]
            ).map { (try $0.decode(String.self, forColumn: "tool"), try $0.decode(Int64.self, forColumn: "n")) }
            return AgentMetrics(
                totalActions: try totals?.decode(Int64.self, forColumn: "total") ?? 0,
                blockedActions: try totals?.decode(Int64.self, forColumn: "blocked") ?? 0,
                totalSpendUSD: try totals?.decode(Double.self, forColumn: "spend") ?? 0, topTools: top)
        }
    }
}
