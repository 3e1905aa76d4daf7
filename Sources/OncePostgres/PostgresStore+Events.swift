import OnceCore
import OnceStore
import PostgresNIO

extension PostgresStore {
    public func appendRunEvents(accountId: Int64, _ events: [RunEvent], requestId: String?) async throws -> [Int64] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            let now = try await c.query("SELECT \(unescaped: nowSQL) AS db_now", logger: logger).rows()[0]
                .timestamp("db_now")
            var ids: [Int64] = []
            for event in events {
                var event = event
                if event.reqId == nil { event.reqId = requestId }
                ids.append(try await Self.insertRunEvent(c, accountId: accountId, event, now: now, logger))
            }
            return ids
        }
    }

    public func runTimeline(account: AccountContext, runId: String, limit: Int, offset: Int) async throws -> RunTimeline
    {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            let total: Int64 = try await c.query(
                "SELECT COUNT(*)::int8 AS n FROM run_events WHERE account_id = \(account.accountId) AND run_id = \(runId)",
                logger: logger
            ).rows()[0].value("n")
            let events = try await c.query(
                """
                SELECT * FROM run_events WHERE account_id = \(account.accountId) AND run_id = \(runId)
                ORDER BY ts, id LIMIT \(limit) OFFSET \(offset)
                """, logger: logger
            ).rows().map { try $0.runEvent }
            return RunTimeline(total: Int(total), events: events)
        }
    }

    public func listRuns(account: AccountContext, limit: Int, offset: Int, prefix: String?) async throws -> RunList {
        let logger = self.logger
        let nowSQL = self.nowSQL
        let prefix = prefix ?? ""
        return try await connection { c in
            // starts_with instead of LIKE: run ids may contain % and _.
            let total: Int64 = try await c.query(
                """
                SELECT COUNT(*)::int8 AS n FROM runs WHERE account_id = \(account.accountId)
                    AND starts_with(run_id, \(prefix))
                """, logger: logger
            ).rows()[0].value("n")
            let items = try await c.query(
                """
                SELECT * FROM runs WHERE account_id = \(account.accountId) AND starts_with(run_id, \(prefix))
                ORDER BY last_ts DESC, last_event_id DESC LIMIT \(limit) OFFSET \(offset)
                """, logger: logger
            ).rows().map { row in
                RunSummary(
                    runId: try row.value("run_id"), lastTs: try row.timestamp("last_ts"),
                    lastType: try row.value("last_type"), lastStatus: try row.value("last_status"),
                    eventsCount: Int(try row.value("events_count", as: Int64.self)))
            }
            return RunList(total: Int(total), items: items)
        }
    }

    public func feed(account: AccountContext, limit: Int, offset: Int) async throws -> [StoredFeedEvent] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            try await c.query(
                """
                SELECT * FROM feed_events WHERE account_id = \(account.accountId)
                ORDER BY id DESC LIMIT \(limit) OFFSET \(offset)
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
}
