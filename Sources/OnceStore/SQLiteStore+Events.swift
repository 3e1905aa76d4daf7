import GRDB
import OnceCore

extension SQLiteStore {
    public func appendRunEvent(account: AccountContext, _ event: RunEvent) async throws -> Int64 {
        try await pool.write { db in try Self.insertRunEvent(db, account: account.accountId, event, now: self.clock()) }
    }

    static func insertRunEvent(_ db: Database, account: Int64, _ e: RunEvent, now: Timestamp) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO run_events (account_id, run_id, ts, type, status, step, tool, req_id, lease_id, agent_id,
                    message, duration_ms, data, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                account, e.runId, e.ts.milliseconds, e.type, e.status, e.step, e.tool, e.reqId, e.leaseId, e.agentId,
                e.message, e.durationMs, JSONColumn.encode(e.data), now.milliseconds,
            ])
        let id = db.lastInsertedRowID
        // The run's summary follows its latest event by (ts, id), so events posted late with an
        // old `ts` do not pretend to be the newest.
        try db.execute(
            sql: """
                INSERT INTO runs (account_id, run_id, last_ts, last_event_id, last_type, last_status, events_count)
                VALUES (?, ?, ?, ?, ?, ?, 1)
                ON CONFLICT (account_id, run_id) DO UPDATE SET
                    events_count = events_count + 1,
                    last_type = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_type ELSE last_type END,
                    last_status = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_status ELSE last_status END,
                    last_event_id = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_event_id ELSE last_event_id END,
                    last_ts = MAX(last_ts, excluded.last_ts)
                """,
            arguments: [account, e.runId, e.ts.milliseconds, id, e.type, e.status])
        return id
    }

    public func runTimeline(account: AccountContext, runId: String, limit: Int, offset: Int) async throws -> RunTimeline
    {
        try await pool.read { db in
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM run_events WHERE account_id = ? AND run_id = ?",
                    arguments: [account.accountId, runId]) ?? 0
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM run_events WHERE account_id = ? AND run_id = ?
                    ORDER BY ts, id LIMIT ? OFFSET ?
                    """,
                arguments: [account.accountId, runId, limit, offset])
            return RunTimeline(total: total, events: rows.map(Self.runEvent(from:)))
        }
    }

    static func runEvent(from row: Row) -> StoredRunEvent {
        StoredRunEvent(
            id: row["id"],
            event: RunEvent(
                runId: row["run_id"], type: row["type"], ts: Timestamp(milliseconds: row["ts"]), status: row["status"],
                step: row["step"], tool: row["tool"], reqId: row["req_id"], leaseId: row["lease_id"],
                agentId: row["agent_id"], message: row["message"], durationMs: row["duration_ms"],
                data: JSONColumn.decode(row["data"])))
    }

    public func listRuns(account: AccountContext, limit: Int, offset: Int, prefix: String?) async throws -> RunList {
        try await pool.read { db in
            var filter = "account_id = ?"
            var arguments: StatementArguments = [account.accountId]
            if let prefix, !prefix.isEmpty {
                // substr() instead of LIKE: run ids may contain % and _.
                filter += " AND substr(run_id, 1, ?) = ?"
                arguments += [prefix.unicodeScalars.count, prefix]
            }
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runs WHERE \(filter)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM runs WHERE \(filter) ORDER BY last_ts DESC, last_event_id DESC LIMIT ? OFFSET ?",
                arguments: arguments + [limit, offset])
            return RunList(
                total: total,
                items: rows.map {
                    RunSummary(
                        runId: $0["run_id"], lastTs: Timestamp(milliseconds: $0["last_ts"]), lastType: $0["last_type"],
                        lastStatus: $0["last_status"], eventsCount: $0["events_count"])
                })
        }
    }

    public func feed(account: AccountContext, limit: Int, offset: Int) async throws -> [StoredFeedEvent] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM feed_events WHERE account_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                arguments: [account.accountId, limit, offset]
            ).map { row in
                StoredFeedEvent(
                    id: row["id"], reqId: row["req_id"],
                    event: FeedEvent(
                        ts: Timestamp(milliseconds: row["ts"]), type: row["type"], key: row["key"],
                        fields: JSONColumn.decode(row["fields"])?.objectValue ?? [:]))
            }
        }
    }
}
