import GRDB
import OnceCore

extension SQLiteStore {
    /// Retention windows (API §15 row 32).
    public static let feedRetentionSeconds = 7 * 86_400
    public static let runRetentionSeconds = 30 * 86_400

    /// One bounded pass: each kind of row is handled in its own short transaction of at most
    /// `batchSize` rows, so requests wait at most one small batch for the writer.
    public func sweep(batchSize: Int = 500) async throws -> SweepReport {
        var report = SweepReport()
        let now = clock()
        // Expire held leases whose deadline passed, recording each expiry once.
        report.leasesExpired = try await pool.write { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM leases WHERE state = 'held' AND deadline <= ? LIMIT ?",
                arguments: [now.milliseconds, batchSize])
            var count = 0
            for row in rows {
                let accountId: Int64 = row["account_id"]
                guard let settled = LeaseEngine.settle(Self.leaseRecord(from: row), now: now) else { continue }
                try Self.saveLease(db, account: accountId, settled.record)
                try Self.persist(settled.effects, db, account: accountId, now: now, requestId: nil)
                count += 1
            }
            return count
        }
        report.leasesPurged = try await pool.write { db in
            let cutoff = now.adding(seconds: -LeaseEngine.retentionSeconds).milliseconds
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM leases WHERE state IN ('completed', 'failed', 'expired', 'canceled') AND done_at <= ?
                    LIMIT ?
                    """, arguments: [cutoff, batchSize])
            var count = 0
            for row in rows {
                guard let tombstone = LeaseEngine.purge(Self.leaseRecord(from: row), now: now) else { continue }
                try Self.saveLease(db, account: row["account_id"], tombstone)
                count += 1
            }
            return count
        }
        report.checkLocksRemoved = try await pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM check_locks WHERE (account_id, key) IN
                        (SELECT account_id, key FROM check_locks WHERE expires_at <= ? LIMIT ?)
                    """,
                arguments: [now.milliseconds, batchSize])
            return db.changesCount
        }
        report.feedEventsRemoved = try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM feed_events WHERE id IN (SELECT id FROM feed_events WHERE ts <= ? LIMIT ?)",
                arguments: [now.adding(seconds: -Self.feedRetentionSeconds).milliseconds, batchSize])
            return db.changesCount
        }
        report.runEventsRemoved = try await pool.write { db in
            let cutoff = now.adding(seconds: -Self.runRetentionSeconds).milliseconds
            try db.execute(
                sql: "DELETE FROM run_events WHERE id IN (SELECT id FROM run_events WHERE created_at <= ? LIMIT ?)",
                arguments: [cutoff, batchSize])
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
        }
        return report
    }
}
