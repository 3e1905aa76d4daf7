import GRDB
import OnceCore

/// Writes a transition's ``Effects`` (counters, feed rows, run events) in the caller's
/// transaction, so they commit with the record or not at all.
///
/// Every statement here runs on most requests, so each is compiled once per connection
/// (`cachedStatement`): compiling was a tenth of the server's CPU under load (SQLite's parser
/// and GRDB's authorizer callback, measured with `perf`).
enum EffectsWriter {
    static let metricColumns = DailyMetric.allCases.map(\.rawValue)

    static let metricsUpsert = """
        INSERT INTO metrics_days (account_id, day, \(metricColumns.joined(separator: ", ")))
        VALUES (?, ?, \(metricColumns.map { _ in "?" }.joined(separator: ", ")))
        ON CONFLICT (account_id, day) DO UPDATE SET
        \(metricColumns.map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ",\n"))
        """

    static func persist(_ effects: Effects, _ db: Database, accountId: Int64, now: Timestamp, requestId: String?)
        throws
    {
        let c = effects.counters
        if c.makeUsage != 0 || c.makeRequests != 0 || c.makeBlocked != 0 {
            try addUsage(
                db, accountId, now.month, .make,
                [c.makeUsage, c.makeRequests, c.makeBlocked, 0, 0])
        }
        if c.aiUsage != 0 || c.aiRequests != 0 || c.aiBlocked != 0 || c.aiCharged != 0 || c.aiPolling != 0 {
            try addUsage(
                db, accountId, now.month, .ai,
                [c.aiUsage, c.aiRequests, c.aiBlocked, c.aiCharged, c.aiPolling])
        }
        let day = c.dailyIncrements
        if day.contains(where: { $0 != 0 }) {
            try db.cachedStatement(
                sql: metricsUpsert
            ).execute(
                arguments: StatementArguments([accountId, now.day] as [any DatabaseValueConvertible] + day))
        }
        for event in effects.feed {
            try db.cachedStatement(
                sql: "INSERT INTO feed_events (account_id, ts, type, key, req_id, fields) VALUES (?, ?, ?, ?, ?, ?)"
            ).execute(
                arguments: [
                    accountId, event.ts.milliseconds, event.type, event.key, requestId,
                    JSONValue.object(event.fields).canonicalText,
                ])
        }
        for event in effects.runEvents {
            var event = event
            if event.reqId == nil { event.reqId = requestId }
            _ = try insertRunEvent(db, accountId: accountId, event, now: now)
        }
    }

    /// `values`: usage, requests, blocked, charged, polling.
    private static func addUsage(
        _ db: Database, _ accountId: Int64, _ month: String, _ kind: UsageKind, _ values: [Int64]
    )
        throws
    {
        try db.cachedStatement(
            sql: """
                INSERT INTO usage_months (account_id, month, kind, usage, requests, blocked, charged, polling)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (account_id, month, kind) DO UPDATE SET
                    usage = usage + excluded.usage, requests = requests + excluded.requests,
                    blocked = blocked + excluded.blocked, charged = charged + excluded.charged,
                    polling = polling + excluded.polling
                """
        ).execute(
            arguments: StatementArguments([accountId, month, kind.rawValue] as [any DatabaseValueConvertible] + values))
    }

    static func insertRunEvent(_ db: Database, accountId: Int64, _ e: RunEvent, now: Timestamp) throws -> Int64 {
        try db.cachedStatement(
            sql: """
                INSERT INTO run_events (account_id, run_id, ts, type, status, step, tool, req_id, lease_id, agent_id,
                    message, duration_ms, data, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                accountId, e.runId, e.ts.milliseconds, e.type, e.status, e.step, e.tool, e.reqId, e.leaseId,
                e.agentId, e.message, e.durationMs, JSONColumn.encode(e.data), now.milliseconds,
            ])
        let id = db.lastInsertedRowID
        // The run's summary follows its latest event by (ts, id), so events posted late with an
        // old `ts` do not pretend to be the newest.
        try db.cachedStatement(
            sql: """
                INSERT INTO runs (account_id, run_id, last_ts, last_event_id, last_type, last_status, events_count)
                VALUES (?, ?, ?, ?, ?, ?, 1)
                ON CONFLICT (account_id, run_id) DO UPDATE SET
                    events_count = events_count + 1,
                    last_type = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_type ELSE last_type END,
                    last_status = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_status ELSE last_status END,
                    last_event_id = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_event_id ELSE last_event_id END,
                    last_ts = MAX(last_ts, excluded.last_ts)
                """
        ).execute(
            arguments: [accountId, e.runId, e.ts.milliseconds, id, e.type, e.status])
        return id
    }
}
