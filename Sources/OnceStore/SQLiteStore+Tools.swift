import Foundation
import GRDB
import OnceCore

extension SQLiteStore {
    public func upsertTool(accountId: Int64, _ tool: ToolUpsert, maxTools: Int) async throws -> ToolWrite {
        try await write { db in
            let now = self.clock().milliseconds
            let existing = try Self.tool(db, accountId: accountId, scopeId: tool.scopeId, name: tool.name)
            if existing == nil {
                let count =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tools WHERE account_id = ?", arguments: [accountId])
                    ?? 0
                if count >= maxTools { return .planLimit(max: maxTools) }
                if tool.secret == nil { return .secretRequired }
            }
            let secret = tool.secret ?? existing?.secret
            try db.execute(
                sql: """
                    INSERT INTO tools (account_id, scope_id, name, url, auth_type, secret_sealed, secret_id, secret_mask,
                        timeout_ms, max_retries, enabled, description, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 'hmac_sha256', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (account_id, scope_id, name) DO UPDATE SET url = excluded.url,
                        secret_sealed = excluded.secret_sealed, secret_id = excluded.secret_id,
                        secret_mask = excluded.secret_mask, timeout_ms = excluded.timeout_ms,
                        max_retries = excluded.max_retries, enabled = excluded.enabled,
                        description = excluded.description, updated_at = excluded.updated_at
                    """,
                arguments: [
                    accountId, tool.scopeId, tool.name, tool.url, secret.map { Data($0.sealed) }, secret?.id,
                    secret?.mask, tool.timeoutMs, tool.maxRetries, tool.enabled, tool.description, now, now,
                ])
            guard let stored = try Self.tool(db, accountId: accountId, scopeId: tool.scopeId, name: tool.name) else {
                throw StoreError.failure("the tool row vanished inside its transaction")
            }
            return .stored(stored)
        }
    }

    public func tools(accountId: Int64, scopeId: String?) async throws -> [ToolRecord] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM tools WHERE account_id = ? AND (? IS NULL OR scope_id = ?) ORDER BY scope_id, name",
                arguments: [accountId, scopeId, scopeId]
            ).map(Self.toolRecord)
        }
    }

    public func tool(accountId: Int64, scopeId: String, name: String) async throws -> ToolRecord? {
        try await read { db in try Self.tool(db, accountId: accountId, scopeId: scopeId, name: name) }
    }

    public func setToolEnabled(accountId: Int64, scopeId: String, name: String, enabled: Bool) async throws
        -> ToolRecord?
    {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE tools SET enabled = ?, updated_at = ? WHERE account_id = ? AND scope_id = ? AND name = ?
                    """, arguments: [enabled, self.clock().milliseconds, accountId, scopeId, name])
            return try Self.tool(db, accountId: accountId, scopeId: scopeId, name: name)
        }
    }

    public func deleteTool(accountId: Int64, scopeId: String, name: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM tools WHERE account_id = ? AND scope_id = ? AND name = ?",
                arguments: [accountId, scopeId, name])
            return db.changesCount > 0
        }
    }

    public func anySealedSecret() async throws -> SealedSecret? {
        try await read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM tools WHERE secret_sealed IS NOT NULL LIMIT 1"
            ).flatMap { try Self.toolRecord($0).secret }
        }
    }

    public func governanceWindow(
        accountId: Int64, agentId: String, tool: String, argsHash: String, hourStart: Timestamp, dayStart: Timestamp,
        dedupSince: Timestamp
    ) async throws -> GovernanceWindow {
        try await read { db in
            let hour = try Int64.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM agent_logs
                    WHERE account_id = ? AND agent_id = ? AND decision = 'executed' AND ts >= ?
                    """, arguments: [accountId, agentId, hourStart.milliseconds])
            let today = try Row.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(tool = ?), 0) AS tool_today, COALESCE(SUM(spend_usd), 0.0) AS spend
                    FROM agent_logs WHERE account_id = ? AND agent_id = ? AND decision = 'executed' AND ts >= ?
                    """, arguments: [tool, accountId, agentId, dayStart.milliseconds])
            let dedup = try String.fetchOne(
                db,
                sql: """
                    SELECT result FROM agent_logs WHERE account_id = ? AND agent_id = ? AND tool = ? AND args_hash = ?
                        AND decision = 'executed' AND result IS NOT NULL AND ts > ?
                    ORDER BY ts DESC, id DESC LIMIT 1
                    """, arguments: [accountId, agentId, tool, argsHash, dedupSince.milliseconds])
            return GovernanceWindow(
                actionsThisHour: hour ?? 0,
                toolCallsToday: try today?.decode(Int64.self, forColumn: "tool_today") ?? 0,
                spendToday: try today?.decode(Double.self, forColumn: "spend") ?? 0,
                dedupResult: try JSONColumn.decode(dedup, column: "agent_logs.result"))
        }
    }

    static func tool(_ db: Database, accountId: Int64, scopeId: String, name: String) throws -> ToolRecord? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM tools WHERE account_id = ? AND scope_id = ? AND name = ?",
            arguments: [accountId, scopeId, name]
        ).map(toolRecord)
    }

    static func toolRecord(_ row: Row) throws -> ToolRecord {
        let sealed = try row.decode(Data?.self, forColumn: "secret_sealed")
        let secret = try sealed.map { data in
            SealedSecret(
                sealed: [UInt8](data), id: try row.decode(String?.self, forColumn: "secret_id") ?? "",
                mask: try row.decode(String?.self, forColumn: "secret_mask") ?? "")
        }
        return ToolRecord(
            scopeId: try row.decode(forColumn: "scope_id"), name: try row.decode(forColumn: "name"),
            url: try row.decode(forColumn: "url"), authType: try row.decode(forColumn: "auth_type"), secret: secret,
            timeoutMs: try row.decode(forColumn: "timeout_ms"), maxRetries: try row.decode(forColumn: "max_retries"),
            enabled: try row.decode(forColumn: "enabled"), description: try row.decode(forColumn: "description"),
            createdAt: Timestamp(milliseconds: try row.decode(forColumn: "created_at")),
            updatedAt: Timestamp(milliseconds: try row.decode(forColumn: "updated_at")))
    }
}
