import GRDB
import OnceCore

extension SQLiteStore {
    public func createKey(plan: Plan, name: String?, accountId: Int64?) async throws -> CreatedKey {
        let key = APIKeyMaterial.generate()
        let hash = APIKeyMaterial.hash(key)
        let preview = APIKeyMaterial.preview(key)
        return try await write { db in
            let now = self.clock()
            let account: Int64
            var accountPlan = plan
            if let accountId {
                guard
                    let stored = try String.fetchOne(
                        db, sql: "SELECT plan FROM accounts WHERE id = ?", arguments: [accountId])
                else { throw StoreError.unknownAccount(accountId) }
                account = accountId
                guard let storedPlan = Plan(rawValue: stored) else {
                    throw StoreError.corrupt("account \(accountId) has plan \(stored)")
                }
                accountPlan = storedPlan
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
        try await read { db in
            try KeyInfoRow.fetchAll(db, sql: KeyInfoRow.select + " ORDER BY k.id").map(\.info)
        }
    }

    public func revokeKey(_ reference: String) async throws -> APIKeyInfo? {
        try await write { db in
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
            let rows = try KeyInfoRow.fetchAll(
                db, sql: KeyInfoRow.select + " WHERE \(condition)", arguments: [argument])
            guard rows.count == 1 else {
                if rows.count > 1 {
                    throw StoreError.invalidReference("\(reference) (matches \(rows.count) keys; use the id)")
                }
                return nil
            }
            var info = rows[0].info
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
        return try await read { db in
            // Every request authenticates: compiled once per connection.
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT k.id, k.account_id, k.preview, k.revoked_at, a.plan
                        FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?
                        """), arguments: [hash])
            guard let row else { return Authentication.unknown }
            if try row.decode(Int64?.self, forColumn: "revoked_at") != nil { return .revoked }
            return .valid(
                AccountContext(
                    accountId: try row.decode(forColumn: "account_id"), keyId: try row.decode(forColumn: "id"),
                    plan: try row.enumValue(Plan.self, "plan"), keyPreview: try row.decode(forColumn: "preview")))
        }
    }

    /// Throws ``StoreError/keyRevoked`` unless key `id` exists and is not revoked, in the
    /// caller's transaction (a primary-key lookup: a few microseconds beside the request's read).
    static func requireLiveKey(_ db: Database, _ id: Int64) throws {
        let live = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT revoked_at IS NULL FROM api_keys WHERE id = ?"), arguments: [id])
        guard live == true else { throw StoreError.keyRevoked }
    }

    public func usage(account: AccountContext, month: String) async throws -> [UsageKind: UsageCounters] {
        try await flushActivity()
        return try await read { db in
            var result: [UsageKind: UsageCounters] = [.make: UsageCounters(), .ai: UsageCounters()]
            for row in try UsageRow.fetchAll(
                db, sql: "SELECT * FROM usage_months WHERE account_id = ? AND month = ?",
                arguments: [account.accountId, month])
            {
                result[row.kind] = row.counters
            }
            return result
        }
    }

    public func metrics(account: AccountContext, fromDay: String, toDay: String) async throws -> [String: DayMetrics] {
        try await flushActivity()
        return try await read { db in
            var result: [String: DayMetrics] = [:]
            for row in try MetricsRow.fetchAll(
                db, sql: "SELECT * FROM metrics_days WHERE account_id = ? AND day >= ? AND day <= ?",
                arguments: [account.accountId, fromDay, toDay])
            {
                result[row.day] = row.metrics
            }
            return result
        }
    }

    public func accountSummary(account: AccountContext) async throws -> AccountSummary {
        try await flushActivity()
        return try await read { db in
            guard
                let row = try AccountRow.fetchOne(
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
                plan: row.plan, email: row.email, requestsAllTime: requests, blockedAllTime: blocked,
                notifications: row.notifications)
        }
    }

    public func updateNotifications(account: AccountContext, _ update: NotificationUpdate) async throws
        -> NotificationSettings
    {
        try await write { db in
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
                let row = try AccountRow.fetchOne(
                    db, sql: "SELECT * FROM accounts WHERE id = ?", arguments: [account.accountId])
            else { throw StoreError.unknownAccount(account.accountId) }
            return row.notifications
        }
    }
}

extension SQLiteStore {
    /// The single account once-exec's local mode uses: created on first use, no API key.
    public func localAccount() throws -> AccountContext {
        do {
            return try localAccountRow()
        } catch {
            throw Self.map(error)
        }
    }

    private func localAccountRow() throws -> AccountContext {
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
