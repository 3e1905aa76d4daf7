import GRDB
import OnceCore

extension SQLiteStore {
    public func checkLock(
        account: AccountContext, key: String, ttl: Int, metadata: JSONValue?, requestId: String?
    ) async throws -> CheckLockReply {
        try await pool.write { db in
            let now = self.clock()
            let existing = try Row.fetchOne(
                db,
                sql: "SELECT ttl, created_at, expires_at, metadata FROM check_locks WHERE account_id = ? AND key = ?",
                arguments: [account.accountId, key]
            ).map {
                CheckLockRecord(
                    key: key, ttl: $0["ttl"], createdAt: Timestamp(milliseconds: $0["created_at"]),
                    expiresAt: Timestamp(milliseconds: $0["expires_at"]), metadata: JSONColumn.decode($0["metadata"]))
            }
            let quota = Quota(plan: account.plan, usage: try Self.usage(db, account, .make, now))
            let transition = CheckLockEngine.apply(
                key: key, ttl: ttl, metadata: metadata, existing: existing, now: now, quota: quota)
            if let record = transition.write {
                try db.execute(
                    sql: """
                        INSERT INTO check_locks (account_id, key, ttl, created_at, expires_at, metadata)
                        VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (account_id, key) DO UPDATE SET ttl = excluded.ttl, created_at = excluded.created_at,
                            expires_at = excluded.expires_at, metadata = excluded.metadata
                        """,
                    arguments: [
                        account.accountId, key, record.ttl, record.createdAt.milliseconds,
                        record.expiresAt.milliseconds,
                        JSONColumn.encode(record.metadata),
                    ])
            }
            try Self.persist(transition.effects, db, account: account.accountId, now: now, requestId: requestId)
            return transition.reply
        }
    }

    public func lease(account: AccountContext, key: String, command: LeaseCommand, requestId: String?)
        async throws -> LeaseReply
    {
        try await lease(account: account, key: key, command: command, requestId: requestId, runEvents: [])
    }

    /// Applies `command` and appends `runEvents` in the same transaction (one commit, one fsync).
    public func lease(
        account: AccountContext, key: String, command: LeaseCommand, requestId: String?, runEvents: [RunEvent]
    ) async throws -> LeaseReply {
        try await pool.write { db in
            let now = self.clock()
            let stored = try Self.fetchLease(db, account: account.accountId, key: key)
            let usage = try Self.usage(db, account, .ai, now)
            let transition = LeaseEngine.apply(
                command, to: stored, key: key, now: now, quota: Quota(plan: account.plan, usage: usage))
            if let record = transition.write {
                try Self.saveLease(db, account: account.accountId, record)
            }
            var effects = transition.effects
            effects.runEvents += runEvents
            if !self.recordsActivity {
                effects.counters = CounterDelta()
                effects.feed = []
            }
            try Self.persist(effects, db, account: account.accountId, now: now, requestId: requestId)
            return transition.reply
        }
    }

    public func leaseRecord(account: AccountContext, key: String) async throws -> LeaseRecord? {
        let record = try await pool.read { db in try Self.fetchLease(db, account: account.accountId, key: key) }
        guard let record, record.isVisible else { return nil }
        return LeaseEngine.view(record, now: clock())
    }

    static func fetchLease(_ db: Database, account: Int64, key: String) throws -> LeaseRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM leases WHERE account_id = ? AND key = ?", arguments: [account, key])
            .map(leaseRecord(from:))
    }

    static func leaseRecord(from row: Row) -> LeaseRecord {
        LeaseRecord(
            key: row["key"], state: LeaseState(rawValue: row["state"]) ?? .absent, leaseId: row["lease_id"],
            version: row["version"], ttl: row["ttl"], deadline: Timestamp(milliseconds: row["deadline"]),
            firstSeenAt: Timestamp(milliseconds: row["first_seen_at"]),
            doneAt: (row["done_at"] as Int64?).map(Timestamp.init(milliseconds:)),
            result: JSONColumn.decode(row["result"]), resultHash: row["result_hash"], errorCode: row["error_code"],
            runId: row["run_id"], agentId: row["agent_id"], metadata: JSONColumn.decode(row["metadata"]))
    }

    static func saveLease(_ db: Database, account: Int64, _ r: LeaseRecord) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO leases (account_id, key, state, lease_id, version, ttl, deadline, first_seen_at,
                    done_at, result, result_hash, error_code, run_id, agent_id, metadata)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                account, r.key, r.state.rawValue, r.leaseId, r.version, r.ttl, r.deadline.milliseconds,
                r.firstSeenAt.milliseconds, r.doneAt?.milliseconds, JSONColumn.encode(r.result), r.resultHash,
                r.errorCode, r.runId, r.agentId, JSONColumn.encode(r.metadata),
            ])
    }

    static func usage(_ db: Database, _ account: AccountContext, _ kind: UsageKind, _ now: Timestamp) throws -> Int64 {
        try Int64.fetchOne(
            db, sql: "SELECT usage FROM usage_months WHERE account_id = ? AND month = ? AND kind = ?",
            arguments: [account.accountId, now.month, kind.rawValue]) ?? 0
    }

    /// Writes counters, feed items and run events in the caller's transaction.
    static func persist(_ effects: Effects, _ db: Database, account: Int64, now: Timestamp, requestId: String?) throws {
        let c = effects.counters
        if c.makeUsage != 0 || c.makeRequests != 0 || c.makeBlocked != 0 {
            try addUsage(
                db, account, now.month, .make, usage: c.makeUsage, requests: c.makeRequests, blocked: c.makeBlocked,
                charged: 0, polling: 0)
        }
        if c.aiUsage != 0 || c.aiRequests != 0 || c.aiBlocked != 0 || c.aiCharged != 0 || c.aiPolling != 0 {
            try addUsage(
                db, account, now.month, .ai, usage: c.aiUsage, requests: c.aiRequests, blocked: c.aiBlocked,
                charged: c.aiCharged, polling: c.aiPolling)
        }
        let day = [
            c.checksTotal, c.locksCreated, c.duplicatesBlocked, c.rateLimited, c.aiAcquired, c.aiCompleted, c.aiFailed,
        ]
        if day.contains(where: { $0 != 0 }) {
            try db.execute(
                sql: """
                    INSERT INTO metrics_days (account_id, day, checks_total, locks_created, duplicates_blocked, rate_limited,
                        ai_acquired, ai_completed, ai_failed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (account_id, day) DO UPDATE SET
                        checks_total = checks_total + excluded.checks_total,
                        locks_created = locks_created + excluded.locks_created,
                        duplicates_blocked = duplicates_blocked + excluded.duplicates_blocked,
                        rate_limited = rate_limited + excluded.rate_limited,
                        ai_acquired = ai_acquired + excluded.ai_acquired,
                        ai_completed = ai_completed + excluded.ai_completed,
                        ai_failed = ai_failed + excluded.ai_failed
                    """,
                arguments: StatementArguments([account, now.day] as [any DatabaseValueConvertible] + day))
        }
        for event in effects.feed {
            try db.execute(
                sql: "INSERT INTO feed_events (account_id, ts, type, key, req_id, fields) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    account, event.ts.milliseconds, event.type, event.key, requestId,
                    JSONValue.object(event.fields).canonicalText,
                ])
        }
        for event in effects.runEvents {
            var event = event
            if event.reqId == nil { event.reqId = requestId }
            _ = try insertRunEvent(db, account: account, event, now: now)
        }
    }

    private static func addUsage(
        _ db: Database, _ account: Int64, _ month: String, _ kind: UsageKind, usage: Int64, requests: Int64,
        blocked: Int64, charged: Int64, polling: Int64
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO usage_months (account_id, month, kind, usage, requests, blocked, charged, polling)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (account_id, month, kind) DO UPDATE SET
                    usage = usage + excluded.usage, requests = requests + excluded.requests,
                    blocked = blocked + excluded.blocked, charged = charged + excluded.charged,
                    polling = polling + excluded.polling
                """,
            arguments: [account, month, kind.rawValue, usage, requests, blocked, charged, polling])
    }
}
