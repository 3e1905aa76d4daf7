import GRDB
import OnceCore

extension SQLiteStore {
    public func transactLease<Reply: Sendable & Equatable>(
        accountId: Int64, key: String, requestId: String?,
        _ decide: @escaping @Sendable (LeaseRecord?, TransactionInput) -> LeaseTransition<Reply>
    ) async throws -> Decided<LeaseTransition<Reply>> {
        try await write { db in
            let now = self.clock()
            let stored = try LeaseRow.fetch(db, accountId: accountId, key: key)
            let input = TransactionInput(now: now, usage: try UsageRow.usage(db, accountId, .ai, now.month))
            let transition = decide(stored, input)
            if let record = transition.write {
                try LeaseRow(accountId: accountId, record).insert(db, onConflict: .replace)
            }
            try EffectsWriter.persist(transition.effects, db, accountId: accountId, now: now, requestId: requestId)
            return Decided(transition, now: now)
        }
    }

    public func transactCheckLock(
        accountId: Int64, key: String, requestId: String?,
        _ decide: @escaping @Sendable (CheckLockRecord?, TransactionInput) -> CheckLockTransition
    ) async throws -> Decided<CheckLockTransition> {
        try await write { db in
            let now = self.clock()
            let existing = try CheckLockRow.fetch(db, accountId: accountId, key: key)
            let input = TransactionInput(now: now, usage: try UsageRow.usage(db, accountId, .make, now.month))
            let transition = decide(existing, input)
            if let record = transition.write {
                try CheckLockRow(accountId: accountId, record).insert(db, onConflict: .replace)
            }
            try EffectsWriter.persist(transition.effects, db, accountId: accountId, now: now, requestId: requestId)
            return Decided(transition, now: now)
        }
    }

    public func readLease(accountId: Int64, key: String) async throws -> Decided<LeaseRecord?> {
        try await read { db in Decided(try LeaseRow.fetch(db, accountId: accountId, key: key), now: self.clock()) }
    }

    public func leaseKeys(_ selection: LeaseSelection, limit: Int) async throws -> [LeaseKey] {
        let now = clock()
        return try await read { db in
            let rows: [Row]
            switch selection {
            case .heldPastDeadline:
                rows = try Row.fetchAll(
                    db, sql: "SELECT account_id, key FROM leases WHERE state = 'held' AND deadline <= ? LIMIT ?",
                    arguments: [now.milliseconds, limit])
            case .finished(let age):
                let cutoff = now.adding(seconds: -age)
                rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT account_id, key FROM leases
                        WHERE state IN ('completed', 'failed', 'expired', 'canceled') AND done_at <= ? LIMIT ?
                        """, arguments: [cutoff.milliseconds, limit])
            }
            return try rows.map {
                LeaseKey(
                    accountId: try $0.decode(Int64.self, forColumn: "account_id"),
                    key: try $0.decode(String.self, forColumn: "key"))
            }
        }
    }

    public func removeExpired(_ rows: ExpiringRows, limit: Int) async throws -> Int {
        let now = clock()
        return try await write { db in
            switch rows {
            case .checkLocks:
                try db.execute(
                    sql: """
                        DELETE FROM check_locks WHERE (account_id, key) IN
                            (SELECT account_id, key FROM check_locks WHERE expires_at <= ? LIMIT ?)
                        """, arguments: [now.milliseconds, limit])
                return db.changesCount
            case .feedEvents(let age):
                let cutoff = now.adding(seconds: -age)
                try db.execute(
                    sql: "DELETE FROM feed_events WHERE id IN (SELECT id FROM feed_events WHERE ts <= ? LIMIT ?)",
                    arguments: [cutoff.milliseconds, limit])
                return db.changesCount
            case .runEvents(let age):
                let cutoff = now.adding(seconds: -age)
                try db.execute(
                    sql: "DELETE FROM run_events WHERE id IN (SELECT id FROM run_events WHERE created_at <= ? LIMIT ?)",
                    arguments: [cutoff.milliseconds, limit])
                let removed = db.changesCount
                if removed > 0 {
                    // A run whose every event is gone leaves the list too.
                    try db.execute(
                        sql: """
                            DELETE FROM runs WHERE NOT EXISTS (SELECT 1 FROM run_events e
                                WHERE e.account_id = runs.account_id AND e.run_id = runs.run_id)
                            """)
                }
                return removed
            case .agentLogs(let age):
                let cutoff = now.adding(seconds: -age)
                try db.execute(
                    sql: "DELETE FROM agent_logs WHERE id IN (SELECT id FROM agent_logs WHERE ts <= ? LIMIT ?)",
                    arguments: [cutoff.milliseconds, limit])
                return db.changesCount
            }
        }
    }
}
