import Foundation
import OnceCore
import OnceStore
import PostgresNIO

extension PostgresStore {
    public func upsertTool(accountId: Int64, _ tool: ToolUpsert, maxTools: Int) async throws -> ToolWrite {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            // One account's creations take turns, so two racing creates cannot both pass the
            // plan's tool count.
            try await c.query("SELECT pg_advisory_xact_lock(\(lockKey("tools", accountId, "")))", logger: logger)
            let existing = try await Self.tool(c, accountId: accountId, scopeId: tool.scopeId, name: tool.name, logger)
            if existing == nil {
                let count = try await c.query(
                    "SELECT COUNT(*)::int8 AS n FROM tools WHERE account_id = \(accountId)", logger: logger
                ).rows()[0].value("n", as: Int64.self)
                if count >= maxTools { return .planLimit(max: maxTools) }
                if tool.secret == nil { return .secretRequired }
            }
            let secret = tool.secret ?? existing?.secret
            let sealed = secret.map { Data($0.sealed) }
            try await c.query(
                """
                INSERT INTO tools (account_id, scope_id, name, url, auth_type, secret_sealed, secret_id, secret_mask,
                    timeout_ms, max_retries, enabled, description, created_at, updated_at)
                VALUES (\(accountId), \(tool.scopeId), \(tool.name), \(tool.url), 'hmac_sha256', \(sealed),
                    \(secret?.id), \(secret?.mask), \(Int64(tool.timeoutMs)), \(Int64(tool.maxRetries)),
                    \(tool.enabled), \(tool.description), \(unescaped: nowSQL), \(unescaped: nowSQL))
                ON CONFLICT (account_id, scope_id, name) DO UPDATE SET url = excluded.url,
                    secret_sealed = excluded.secret_sealed, secret_id = excluded.secret_id,
                    secret_mask = excluded.secret_mask, timeout_ms = excluded.timeout_ms,
                    max_retries = excluded.max_retries, enabled = excluded.enabled,
                    description = excluded.description, updated_at = excluded.updated_at
                """, logger: logger)
            guard
                let stored = try await Self.tool(
                    c, accountId: accountId, scopeId: tool.scopeId, name: tool.name, logger)
            else { throw StoreError.failure("the tool row vanished inside its transaction") }
            return .stored(stored)
        }
    }

    public func tools(accountId: Int64, scopeId: String?) async throws -> [ToolRecord] {
        let logger = self.logger
        return try await connection { c in
            try await c.query(
                """
                SELECT * FROM tools WHERE account_id = \(accountId)
                    AND (\(scopeId)::text IS NULL OR scope_id = \(scopeId)) ORDER BY scope_id, name
                """, logger: logger
            ).rows().map { try $0.toolRecord }
        }
    }

    public func tool(accountId: Int64, scopeId: String, name: String) async throws -> ToolRecord? {
        let logger = self.logger
        return try await connection { c in
            try await Self.tool(c, accountId: accountId, scopeId: scopeId, name: name, logger)
        }
    }

    public func setToolEnabled(accountId: Int64, scopeId: String, name: String, enabled: Bool) async throws
        -> ToolRecord?
    {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            try await c.query(
                """
                UPDATE tools SET enabled = \(enabled), updated_at = \(unescaped: nowSQL)
                WHERE account_id = \(accountId) AND scope_id = \(scopeId) AND name = \(name)
                RETURNING *
                """, logger: logger
            ).rows().first?.toolRecord
        }
    }

    public func deleteTool(accountId: Int64, scopeId: String, name: String) async throws -> Bool {
        let logger = self.logger
        return try await connection { c in
            !(try await c.query(
                """
                DELETE FROM tools WHERE account_id = \(accountId) AND scope_id = \(scopeId) AND name = \(name)
                RETURNING name
                """, logger: logger
            ).rows().isEmpty)
        }
    }

    public func anySealedSecret() async throws -> SealedSecret? {
        let logger = self.logger
        return try await connection { c in
            try await c.query("SELECT * FROM tools WHERE secret_sealed IS NOT NULL LIMIT 1", logger: logger)
                .rows().first?.toolRecord.secret
        }
    }

    public func governanceWindow(
        accountId: Int64, agentId: String, tool: String, argsHash: String, hourStart: Timestamp, dayStart: Timestamp,
        dedupSince: Timestamp
    ) async throws -> GovernanceWindow {
        let logger = self.logger
        return try await connection { c in
            let counts = try await c.query(
                """
                SELECT COUNT(*) FILTER (WHERE ts >= \(hourStart.milliseconds))::int8 AS hour,
                    COUNT(*) FILTER (WHERE tool = \(tool) AND ts >= \(dayStart.milliseconds))::int8 AS tool_today,
                    COALESCE(SUM(spend_usd) FILTER (WHERE ts >= \(dayStart.milliseconds)), 0)::float8 AS spend
                FROM agent_logs WHERE account_id = \(accountId) AND agent_id = \(agentId) AND decision = 'executed'
                    AND ts >= \(min(hourStart, dayStart).milliseconds)
                """, logger: logger
            ).rows()[0]
            let dedup = try await c.query(
                """
                SELECT result FROM agent_logs WHERE account_id = \(accountId) AND agent_id = \(agentId)
                    AND tool = \(tool) AND args_hash = \(argsHash) AND decision = 'executed' AND result IS NOT NULL
                    AND ts > \(dedupSince.milliseconds)
                ORDER BY ts DESC, id DESC LIMIT 1
                """, logger: logger
            ).rows().first?.json("result")
            return GovernanceWindow(
                actionsThisHour: try counts.value("hour"), toolCallsToday: try counts.value("tool_today"),
                spendToday: try counts.value("spend"), dedupResult: dedup)
        }
    }

    static func tool(_ c: PostgresConnection, accountId: Int64, scopeId: String, name: String, _ logger: Logger)
        async throws -> ToolRecord?
    {
        try await c.query(
            "SELECT * FROM tools WHERE account_id = \(accountId) AND scope_id = \(scopeId) AND name = \(name)",
            logger: logger
        ).rows().first?.toolRecord
    }
}

extension PostgresRandomAccessRow {
    var toolRecord: ToolRecord {
        get throws {
            let secret = try value("secret_sealed", as: Data?.self).map { data in
                SealedSecret(
                    sealed: [UInt8](data), id: try value("secret_id", as: String?.self) ?? "",
                    mask: try value("secret_mask", as: String?.self) ?? "")
            }
            return ToolRecord(
                scopeId: try value("scope_id"), name: try value("name"), url: try value("url"),
                authType: try value("auth_type"), secret: secret,
                timeoutMs: Int(try value("timeout_ms", as: Int64.self)),
                maxRetries: Int(try value("max_retries", as: Int64.self)), enabled: try value("enabled"),
                description: try value("description"), createdAt: try timestamp("created_at"),
                updatedAt: try timestamp("updated_at"))
        }
    }
}
