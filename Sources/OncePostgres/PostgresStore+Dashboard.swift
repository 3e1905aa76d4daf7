import OnceCore
import OnceStore
import PostgresNIO

// The dashboard's keyset reads; the same queries as `SQLiteStore+Dashboard.swift`. Optional
// filters are bound as NULL-able parameters so each query stays one prepared statement.
extension PostgresStore {
    public func heldLeases(accountId: Int64, afterKey: String?, limit: Int) async throws -> Decided<[LeaseRecord]> {
        let logger = self.logger
        let nowSQL = self.nowSQL
        let after = afterKey ?? ""
        return try await connection { c in
            let now = try await c.query("SELECT \(unescaped: nowSQL) AS db_now", logger: logger).rows()[0]
                .timestamp("db_now")
            let records = try await c.query(
                """
                SELECT * FROM leases WHERE account_id = \(accountId) AND state = 'held'
                    AND deadline > \(now.milliseconds) AND key COLLATE "C" > \(after)
                ORDER BY key COLLATE "C" LIMIT \(limit)
                """, logger: logger
            ).rows().map { try $0.leaseRecord }
            return Decided(records, now: now)
        }
    }

    public func checkLocks(accountId: Int64, afterKey: String?, limit: Int) async throws -> Decided<[CheckLockRecord]> {
        let logger = self.logger
        let nowSQL = self.nowSQL
        let after = afterKey ?? ""
        return try await connection { c in
            let now = try await c.query("SELECT \(unescaped: nowSQL) AS db_now", logger: logger).rows()[0]
                .timestamp("db_now")
            let records = try await c.query(
                """
                SELECT * FROM check_locks WHERE account_id = \(accountId) AND key COLLATE "C" > \(after)
                ORDER BY key COLLATE "C" LIMIT \(limit)
                """, logger: logger
            ).rows().map { try $0.checkLockRecord }
            return Decided(records, now: now)
        }
    }

    public func runsPage(accountId: Int64, filter: RunFilter, after cursor: RunCursor?, limit: Int) async throws
        -> [RunPageItem]
    {
        let logger = self.logger
        let (status, key, agent) = (filter.status, filter.key, filter.agentId)
        let cursorTs = cursor?.lastTs.milliseconds ?? Int64.max
        let cursorId = cursor?.lastEventId ?? Int64.max
        return try await connection { c in
            try await c.query(
                """
                SELECT r.* FROM runs r WHERE r.account_id = \(accountId)
                    AND (\(status)::text IS NULL OR r.last_status = \(status))
                    AND (\(key)::text IS NULL OR EXISTS (SELECT 1 FROM run_events e
                        WHERE e.account_id = r.account_id AND e.run_id = r.run_id
                        AND e.data IS NOT NULL AND e.data LIKE '{%' AND (e.data::jsonb ->> 'key') = \(key)))
                    AND (\(agent)::text IS NULL OR EXISTS (SELECT 1 FROM run_events e
                        WHERE e.account_id = r.account_id AND e.run_id = r.run_id AND e.agent_id = \(agent)))
                    AND (r.last_ts < \(cursorTs) OR (r.last_ts = \(cursorTs) AND r.last_event_id < \(cursorId)))
                ORDER BY r.last_ts DESC, r.last_event_id DESC LIMIT \(limit)
                """, logger: logger
            ).rows().map { row in
                let summary = RunSummary(
                    runId: try row.value("run_id"), lastTs: try row.timestamp("last_ts"),
                    lastType: try row.value("last_type"), lastStatus: try row.value("last_status"),
                    eventsCount: Int(try row.value("events_count", as: Int64.self)))
                return RunPageItem(
                    summary: summary,
                    cursor: RunCursor(lastTs: summary.lastTs, lastEventId: try row.value("last_event_id")))
            }
        }
    }

    public func feedPage(accountId: Int64, types: [String], beforeId: Int64?, limit: Int) async throws
        -> [StoredFeedEvent]
    {
        let logger = self.logger
        let before = beforeId ?? Int64.max
        return try await connection { c in
            try await c.query(
                """
                SELECT * FROM feed_events WHERE account_id = \(accountId) AND id < \(before)
                    AND (cardinality(\(types)::text[]) = 0 OR type = ANY(\(types)::text[]))
                ORDER BY id DESC LIMIT \(limit)
                """, logger: logger
            ).rows().map { row in
                StoredFeedEvent(
                    id: try row.value("id"), reqId: try row.value("req_id"),
                    event: FeedEvent(
                        ts: try row.timestamp("ts"), type: try row.value("type"), key: try row.value("key"),
                        fields: try row.json("fields")?.objectValue ?? [:]))
            }
        }
    }

    public func feedCounts(accountId: Int64, sinceSecondsAgo seconds: Int) async throws -> [FeedCount] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        let window = Int64(seconds) * 1000
        return try await connection { c in
            try await c.query(
                """
                SELECT type, (fields::jsonb ->> 'error_code') AS error_code, COUNT(*)::int8 AS n
                FROM feed_events WHERE account_id = \(accountId) AND ts > \(unescaped: nowSQL) - \(window)
                GROUP BY 1, 2 ORDER BY 1, 2
                """, logger: logger
            ).rows().map { row in
                FeedCount(
                    type: try row.value("type"), errorCode: try row.value("error_code"), count: try row.value("n"))
            }
        }
    }

    public func heldLeaseCount() async throws -> Int {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            let n: Int64 = try await c.query(
                "SELECT COUNT(*)::int8 AS n FROM leases WHERE state = 'held' AND deadline > \(unescaped: nowSQL)",
                logger: logger
            ).rows()[0].value("n")
            return Int(n)
        }
    }
}
