import OnceCore
import OnceStore
import PostgresNIO

extension PostgresStore {
    static let keySelect = """
        SELECT k.id, k.account_id, a.plan, k.name, k.preview, k.created_at, k.revoked_at
        FROM api_keys k JOIN accounts a ON a.id = k.account_id
        """

    public func createKey(plan: Plan, name: String?, accountId: Int64?) async throws -> CreatedKey {
        let key = APIKeyMaterial.generate()
        let hash = APIKeyMaterial.hash(key)
        let preview = APIKeyMaterial.preview(key)
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            let now = try await c.query("SELECT \(unescaped: nowSQL) AS db_now", logger: logger).rows()[0]
                .timestamp("db_now")
            let account: Int64
            var accountPlan = plan
            if let accountId {
                guard
                    let row = try await c.query("SELECT plan FROM accounts WHERE id = \(accountId)", logger: logger)
                        .rows().first
                else { throw StoreError.unknownAccount(accountId) }
                account = accountId
                accountPlan = try row.enumValue(Plan.self, "plan")
            } else {
                account = try await c.query(
                    """
                    INSERT INTO accounts (name, plan, created_at) VALUES (\(name), \(plan.rawValue), \(now.milliseconds))
                    RETURNING id
                    """, logger: logger
                ).rows()[0].value("id")
            }
            let id: Int64 = try await c.query(
                """
                INSERT INTO api_keys (account_id, key_hash, preview, name, created_at)
                VALUES (\(account), \(hash), \(preview), \(name), \(now.milliseconds)) RETURNING id
                """, logger: logger
            ).rows()[0].value("id")
            let info = APIKeyInfo(
                id: id, accountId: account, plan: accountPlan, name: name, preview: preview, createdAt: now,
                revokedAt: nil)
            return CreatedKey(key: key, info: info)
        }
    }

    public func listKeys() async throws -> [APIKeyInfo] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            try await c.query(PostgresQuery(unsafeSQL: Self.keySelect + " ORDER BY k.id"), logger: logger).rows()
                .map { try $0.keyInfo }
        }
    }

    public func revokeKey(_ reference: String) async throws -> APIKeyInfo? {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            var binds = PostgresBindings()
            let condition: String
            if let id = Int64(reference) {
                condition = "k.id = $1"
                binds.append(id)
            } else if reference.hasPrefix(APIKeyMaterial.prefix), !reference.contains("…") {
                condition = "k.key_hash = $1"
                binds.append(APIKeyMaterial.hash(reference))
            } else {
                condition = "k.preview = $1"
                binds.append(reference)
            }
            let rows = try await c.query(
                PostgresQuery(unsafeSQL: Self.keySelect + " WHERE " + condition + " FOR UPDATE OF k", binds: binds),
                logger: logger
            ).rows()
            guard rows.count == 1 else {
                if rows.count > 1 {
                    throw StoreError.invalidReference("\(reference) (matches \(rows.count) keys; use the id)")
                }
                return nil
            }
            var info = try rows[0].keyInfo
            if info.revokedAt == nil {
                let now = try await c.query("SELECT \(unescaped: nowSQL) AS db_now", logger: logger).rows()[0]
                    .timestamp("db_now")
                try await c.query(
                    "UPDATE api_keys SET revoked_at = \(now.milliseconds) WHERE id = \(info.id)", logger: logger)
                info.revokedAt = now
            }
            return info
        }
    }

    public func authenticate(apiKey: String) async throws -> Authentication {
        let hash = APIKeyMaterial.hash(apiKey)
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            guard
                let row = try await c.query(
                    """
                    SELECT k.id, k.account_id, k.preview, k.revoked_at, a.plan
                    FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = \(hash)
                    """, logger: logger
                ).rows().first
            else { return Authentication.unknown }
            if try row.value("revoked_at", as: Int64?.self) != nil { return .revoked }
            return .valid(
                AccountContext(
                    accountId: try row.value("account_id"), keyId: try row.value("id"),
                    plan: try row.enumValue(Plan.self, "plan"), keyPreview: try row.value("preview")))
        }
    }

    public func usage(account: AccountContext, month: String) async throws -> [UsageKind: UsageCounters] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            var result: [UsageKind: UsageCounters] = [.make: UsageCounters(), .ai: UsageCounters()]
            for row in try await c.query(
                "SELECT * FROM usage_months WHERE account_id = \(account.accountId) AND month = \(month)",
                logger: logger
            ).rows() {
                var counters = UsageCounters()
                counters.usage = try row.value("usage")
                counters.requests = try row.value("requests")
                counters.blocked = try row.value("blocked")
                counters.charged = try row.value("charged")
                counters.polling = try row.value("polling")
                result[try row.enumValue(UsageKind.self, "kind")] = counters
            }
            return result
        }
    }

    public func metrics(account: AccountContext, fromDay: String, toDay: String) async throws -> [String: DayMetrics] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            var result: [String: DayMetrics] = [:]
            for row in try await c.query(
                """
                SELECT * FROM metrics_days WHERE account_id = \(account.accountId) AND day >= \(fromDay)
                    AND day <= \(toDay)
                """, logger: logger
            ).rows() {
                var metrics = DayMetrics()
                for metric in DailyMetric.allCases { metrics[metric] = try row.value(metric.rawValue) }
                result[try row.value("day")] = metrics
            }
            return result
        }
    }

    public func accountSummary(account: AccountContext) async throws -> AccountSummary {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            guard
                let row = try await c.query(
                    """
                    SELECT a.*,
                        (SELECT COALESCE(SUM(requests), 0)::int8 FROM usage_months WHERE account_id = a.id) AS requests,
                        (SELECT COALESCE(SUM(duplicates_blocked), 0)::int8 FROM metrics_days WHERE account_id = a.id)
                            AS blocked
                    FROM accounts a WHERE a.id = \(account.accountId)
                    """, logger: logger
                ).rows().first
            else { throw StoreError.unknownAccount(account.accountId) }
            return AccountSummary(
                plan: try row.enumValue(Plan.self, "plan"), email: try row.value("email"),
                requestsAllTime: try row.value("requests"), blockedAllTime: try row.value("blocked"),
                notifications: try row.notifications)
        }
    }

    public func updateNotifications(account: AccountContext, _ update: NotificationUpdate) async throws
        -> NotificationSettings
    {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            guard
                let row = try await c.query(
                    """
                    UPDATE accounts SET notify_email = COALESCE(\(update.email), notify_email),
                        notify_tool_errors = COALESCE(\(update.toolErrors), notify_tool_errors),
                        notify_run_failures = COALESCE(\(update.runFailures), notify_run_failures)
                    WHERE id = \(account.accountId)
                    RETURNING notify_email, notify_tool_errors, notify_run_failures
                    """, logger: logger
                ).rows().first
            else { throw StoreError.unknownAccount(account.accountId) }
            return try row.notifications
        }
    }
}
