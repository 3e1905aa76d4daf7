import GRDB
import OnceCore

extension SQLiteStore {
    public func createKey(plan: Plan, name: String?, accountId: Int64?) async throws -> CreatedKey {
        let key = APIKeyMaterial.generate()
        let hash = APIKeyMaterial.hash(key)
        let preview = APIKeyMaterial.preview(key)
        return try await pool.write { db in
            let now = self.clock()
            let account: Int64
            var accountPlan = plan
            if let accountId {
                guard
                    let stored = try String.fetchOne(
                        db, sql: "SELECT plan FROM accounts WHERE id = ?", arguments: [accountId])
                else { throw StoreError.unknownAccount(accountId) }
                account = accountId
                accountPlan = Plan(rawValue: stored) ?? plan
            } else {
                try db.execute(
                    sql: "INSERT INTO accounts (name, plan, created_at) VALUES (?, ?, ?)",
                    arguments: [name, plan.rawValue, now.milliseconds])
                account = db.lastInsertedRowID
            }
            try db.execute(
                sql: "INSERT INTO api_keys (account_id, key_hash, preview, name, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [account, hash, preview, name, now.milliseconds])
            let info = APIKeyInfo(
                id: db.lastInsertedRowID, accountId: account, plan: accountPlan, name: name, preview: preview,
                createdAt: now, revokedAt: nil)
            return CreatedKey(key: key, info: info)
        }
    }

    public func listKeys() async throws -> [APIKeyInfo] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT k.id, k.account_id, a.plan, k.name, k.preview, k.created_at, k.revoked_at
                    FROM api_keys k JOIN accounts a ON a.id = k.account_id ORDER BY k.id
                    """
            ).map(Self.keyInfo(from:))
        }
    }

    static func keyInfo(from row: Row) -> APIKeyInfo {
        APIKeyInfo(
            id: row["id"], accountId: row["account_id"], plan: Plan(rawValue: row["plan"]) ?? .agency,
            name: row["name"],
            preview: row["preview"], createdAt: Timestamp(milliseconds: row["created_at"]),
            revokedAt: (row["revoked_at"] as Int64?).map(Timestamp.init(milliseconds:)))
    }

    public func revokeKey(_ reference: String) async throws -> APIKeyInfo? {
        try await pool.write { db in
            let condition: String
            let argument: any DatabaseValueConvertible
            if let id = Int64(reference) {
                condition = "k.id = ?"
                argument = id
            } else if reference.hasPrefix(APIKeyMaterial.prefix), !reference.contains("…") {
                condition = "k.key_hash = ?"
                argument = APIKeyMaterial.hash(reference)
            } else {
                condition = "k.preview = ?"
                argument = reference
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT k.id, k.account_id, a.plan, k.name, k.preview, k.created_at, k.revoked_at
                    FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE \(condition)
                    """, arguments: [argument])
            guard rows.count == 1 else {
                if rows.count > 1 {
                    throw StoreError.invalidReference("\(reference) (matches \(rows.count) keys; use the id)")
                }
                return nil
            }
            var info = Self.keyInfo(from: rows[0])
            if info.revokedAt == nil {
                let now = self.clock()
                try db.execute(
                    sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [now.milliseconds, info.id])
                info.revokedAt = now
            }
            return info
        }
    }

    public func authenticate(apiKey: String) async throws -> Authentication {
        let hash = APIKeyMaterial.hash(apiKey)
        return try await pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT k.id, k.account_id, k.preview, k.revoked_at, a.plan
                    FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?
                    """, arguments: [hash])
            guard let row else { return Authentication.unknown }
            if (row["revoked_at"] as Int64?) != nil { return .revoked }
            return .valid(
                AccountContext(
                    accountId: row["account_id"], keyId: row["id"], plan: Plan(rawValue: row["plan"]) ?? .agency,
                    keyPreview: row["preview"]))
        }
    }

    public func usage(account: AccountContext, month: String) async throws -> [UsageKind: UsageCounters] {
        try await pool.read { db in
            var result: [UsageKind: UsageCounters] = [.make: UsageCounters(), .ai: UsageCounters()]
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM usage_months WHERE account_id = ? AND month = ?",
                arguments: [account.accountId, month])
            {
                guard let kind = UsageKind(rawValue: row["kind"]) else { continue }
                var c = UsageCounters()
                c.usage = row["usage"]
                c.requests = row["requests"]
                c.blocked = row["blocked"]
                c.charged = row["charged"]
                c.polling = row["polling"]
                result[kind] = c
            }
            return result
        }
    }

    public func metrics(account: AccountContext, fromDay: String, toDay: String) async throws -> [String: DayMetrics] {
        try await pool.read { db in
            var result: [String: DayMetrics] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT * FROM metrics_days WHERE account_id = ? AND day >= ? AND day <= ?",
                arguments: [account.accountId, fromDay, toDay])
            {
                var m = DayMetrics()
                m.checksTotal = row["checks_total"]
                m.locksCreated = row["locks_created"]
                m.duplicatesBlocked = row["duplicates_blocked"]
                m.rateLimited = row["rate_limited"]
                m.aiAcquired = row["ai_acquired"]
                m.aiCompleted = row["ai_completed"]
                m.aiFailed = row["ai_failed"]
                result[row["day"]] = m
            }
            return result
        }
    }

    public func accountSummary(account: AccountContext) async throws -> AccountSummary {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM accounts WHERE id = ?", arguments: [account.accountId])
            else { throw StoreError.unknownAccount(account.accountId) }
            let requests =
                try Int64.fetchOne(
                    db, sql: "SELECT COALESCE(SUM(requests), 0) FROM usage_months WHERE account_id = ?",
                    arguments: [account.accountId]) ?? 0
            let blocked =
                try Int64.fetchOne(
                    db, sql: "SELECT COALESCE(SUM(duplicates_blocked), 0) FROM metrics_days WHERE account_id = ?",
                    arguments: [account.accountId]) ?? 0
            return AccountSummary(
                plan: Plan(rawValue: row["plan"]) ?? account.plan, email: row["email"], requestsAllTime: requests,
                blockedAllTime: blocked, notifications: Self.notifications(from: row))
        }
    }

    /// An unset channel flag follows the master switch (API §12.5).
    static func notifications(from row: Row) -> NotificationSettings {
        let master: Bool = row["notify_email"]
        return NotificationSettings(
            email: master, toolErrors: (row["notify_tool_errors"] as Bool?) ?? master,
            runFailures: (row["notify_run_failures"] as Bool?) ?? master)
    }

    public func updateNotifications(account: AccountContext, _ update: NotificationUpdate) async throws
        -> NotificationSettings
    {
        try await pool.write { db in
            if let v = update.email {
                try db.execute(
                    sql: "UPDATE accounts SET notify_email = ? WHERE id = ?", arguments: [v, account.accountId])
            }
            if let v = update.toolErrors {
                try db.execute(
                    sql: "UPDATE accounts SET notify_tool_errors = ? WHERE id = ?", arguments: [v, account.accountId])
            }
            if let v = update.runFailures {
                try db.execute(
                    sql: "UPDATE accounts SET notify_run_failures = ? WHERE id = ?", arguments: [v, account.accountId])
            }
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM accounts WHERE id = ?", arguments: [account.accountId])
            else { throw StoreError.unknownAccount(account.accountId) }
            return Self.notifications(from: row)
        }
    }
}

extension SQLiteStore {
    /// The single account once-exec's local mode uses: created on first use, no API key.
    public func localAccount() throws -> AccountContext {
        try pool.write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM accounts WHERE name = 'local' ORDER BY id LIMIT 1")
            {
                return AccountContext(accountId: id, keyId: 0, plan: .agency, keyPreview: "local")
            }
            try db.execute(
                sql: "INSERT INTO accounts (name, plan, created_at) VALUES ('local', 'agency', ?)",
                arguments: [self.clock().milliseconds])
            return AccountContext(accountId: db.lastInsertedRowID, keyId: 0, plan: .agency, keyPreview: "local")
        }
    }
}
