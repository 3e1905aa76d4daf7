import GRDB
import OnceCore

// The dashboard's reads: keyset pages (a page continues after the last row shown, so rows
// added meanwhile neither repeat nor vanish, and deep pages cost what the first does).
extension SQLiteStore {
    public func heldLeases(accountId: Int64, afterKey: String?, limit: Int) async throws -> Decided<[LeaseRecord]> {
        let now = clock()
        return try await read { db in
            let rows = try LeaseRow.fetchAll(
                db,
                sql: """
                    SELECT * FROM leases WHERE account_id = ? AND state = 'held' AND deadline > ? AND key > ?
                    ORDER BY key LIMIT ?
                    """,
                arguments: [accountId, now.milliseconds, afterKey ?? "", limit])
            return Decided(rows.map(\.record), now: now)
        }
    }

    public func checkLocks(accountId: Int64, afterKey: String?, limit: Int) async throws -> Decided<[CheckLockRecord]> {
        let now = clock()
        return try await read { db in
            let rows = try CheckLockRow.fetchAll(
                db, sql: "SELECT * FROM check_locks WHERE account_id = ? AND key > ? ORDER BY key LIMIT ?",
                arguments: [accountId, afterKey ?? "", limit])
            return Decided(rows.map(\.record), now: now)
        }
    }

    public func runsPage(accountId: Int64, filter: RunFilter, after cursor: RunCursor?, limit: Int) async throws
        -> [RunPageItem]
    {
        try await read { db in
            var conditions = ["r.account_id = ?"]
            var arguments: StatementArguments = [accountId]
            if let status = filter.status {
                conditions.append("r.last_status = ?")
                arguments += [status]
            }
            if let key = filter.key {
                conditions.append(
                    """
                    EXISTS (SELECT 1 FROM run_events e WHERE e.account_id = r.account_id AND e.run_id = r.run_id
                        AND json_valid(e.data) AND json_extract(e.data, '$.key') = ?)
                    """)
                arguments += [key]
            }
            if let agent = filter.agentId {
                conditions.append(
                    """
                    EXISTS (SELECT 1 FROM run_events e WHERE e.account_id = r.account_id AND e.run_id = r.run_id
                        AND e.agent_id = ?)
                    """)
                arguments += [agent]
            }
            if let cursor {
                conditions.append("(r.last_ts < ? OR (r.last_ts = ? AND r.last_event_id < ?))")
                arguments += [cursor.lastTs.milliseconds, cursor.lastTs.milliseconds, cursor.lastEventId]
            }
            let sql = """
                SELECT r.* FROM runs r WHERE \(conditions.joined(separator: " AND "))
                ORDER BY r.last_ts DESC, r.last_event_id DESC LIMIT ?
                """
            return try Row.fetchAll(db, sql: sql, arguments: arguments + [limit]).map { row in
                let summary = try RunRow(row: row).summary
                return RunPageItem(
                    summary: summary,
                    cursor: RunCursor(lastTs: summary.lastTs, lastEventId: try row.decode(forColumn: "last_event_id")))
            }
        }
    }

    public func feedPage(accountId: Int64, types: [String], beforeId: Int64?, limit: Int) async throws
        -> [StoredFeedEvent]
    {
        try await read { db in
            var sql = "SELECT * FROM feed_events WHERE account_id = ? AND id < ?"
            var arguments: StatementArguments = [accountId, beforeId ?? Int64.max]
            if !types.isEmpty {
                sql += " AND type IN (\(types.map { _ in "?" }.joined(separator: ", ")))"
                arguments += StatementArguments(types)
            }
            return try FeedRow.fetchAll(db, sql: sql + " ORDER BY id DESC LIMIT ?", arguments: arguments + [limit])
                .map(\.stored)
        }
    }

    public func feedCounts(accountId: Int64, sinceSecondsAgo seconds: Int) async throws -> [FeedCount] {
        let since = clock().milliseconds - Int64(seconds) * 1000
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT type, json_extract(fields, '$.error_code') AS error_code, COUNT(*) AS n
                    FROM feed_events WHERE account_id = ? AND ts > ? GROUP BY 1, 2 ORDER BY 1, 2
                    """,
                arguments: [accountId, since]
            ).map { row in
                FeedCount(type: try row.decode(forColumn: "type"), errorCode: row["error_code"], count: row["n"])
            }
        }
    }

    public func heldLeaseCount() async throws -> Int {
        let now = clock()
        return try await read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM leases WHERE state = 'held' AND deadline > ?",
                arguments: [now.milliseconds]) ?? 0
        }
    }
}
