import GRDB
import OnceCore

extension SQLiteStore {
    public func appendRunEvents(accountId: Int64, _ events: [RunEvent], requestId: String?) async throws -> [Int64] {
        try await write { db in
            let now = self.clock()
            return try events.map { event in
                var event = event
                if event.reqId == nil { event.reqId = requestId }
                return try EffectsWriter.insertRunEvent(db, accountId: accountId, event, now: now)
            }
        }
    }

    public func runTimeline(account: AccountContext, runId: String, limit: Int, offset: Int) async throws -> RunTimeline
    {
        try await read { db in
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM run_events WHERE account_id = ? AND run_id = ?",
                    arguments: [account.accountId, runId]) ?? 0
            let rows = try RunEventRow.fetchAll(
                db,
                sql: """
                    SELECT * FROM run_events WHERE account_id = ? AND run_id = ?
                    ORDER BY ts, id LIMIT ? OFFSET ?
                    """,
                arguments: [account.accountId, runId, limit, offset])
            return RunTimeline(total: total, events: rows.map(\.stored))
        }
    }

    public func listRuns(account: AccountContext, limit: Int, offset: Int, prefix: String?) async throws -> RunList {
        try await read { db in
            var filter = "account_id = ?"
            var arguments: StatementArguments = [account.accountId]
            if let prefix, !prefix.isEmpty {
                // substr() instead of LIKE: run ids may contain % and _.
                filter += " AND substr(run_id, 1, ?) = ?"
                arguments += [prefix.unicodeScalars.count, prefix]
            }
            let total =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM runs WHERE \(filter)", arguments: arguments) ?? 0
            let rows = try RunRow.fetchAll(
                db,
                sql: "SELECT * FROM runs WHERE \(filter) ORDER BY last_ts DESC, last_event_id DESC LIMIT ? OFFSET ?",
                arguments: arguments + [limit, offset])
            return RunList(total: total, items: rows.map(\.summary))
        }
    }

    public func feed(account: AccountContext, limit: Int, offset: Int) async throws -> [StoredFeedEvent] {
        try await flushActivity()
        return try await read { db in
            try FeedRow.fetchAll(
                db, sql: "SELECT * FROM feed_events WHERE account_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                arguments: [account.accountId, limit, offset]
            ).map(\.stored)
        }
    }
}
