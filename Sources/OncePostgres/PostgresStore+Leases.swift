import Logging
import OnceCore
import OnceStore
import PostgresNIO

extension PostgresStore {
    public func transactLease<Reply: Sendable & Equatable>(
        accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        _ decide: @escaping @Sendable (LeaseRecord?, TransactionInput) -> LeaseTransition<Reply>
    ) async throws -> Decided<LeaseTransition<Reply>> {
        try await transactRecord(
            table: "leases", usage: .ai, accountId: accountId, key: key, requestId: requestId, apiKeyId: apiKeyId,
            read: { try $0.leaseRecord },
            decide: { record, input in
                let transition = decide(record, input)
                return (transition, transition.write, transition.effects)
            },
            save: { r in
                """
                INSERT INTO leases (account_id, key, state, lease_id, version, ttl, deadline, first_seen_at,
                    done_at, result, result_hash, error_code, run_id, agent_id, metadata)
                VALUES (\(accountId), \(r.key), \(r.state.rawValue), \(r.leaseId), \(r.version), \(Int64(r.ttl)),
                    \(r.deadline.milliseconds), \(r.firstSeenAt.milliseconds), \(r.doneAt?.milliseconds),
                    \(r.result?.canonicalText), \(r.resultHash), \(r.errorCode), \(r.runId), \(r.agentId),
                    \(r.metadata?.canonicalText))
                ON CONFLICT (account_id, key) DO UPDATE SET state = excluded.state, lease_id = excluded.lease_id,
                    version = excluded.version, ttl = excluded.ttl, deadline = excluded.deadline,
                    first_seen_at = excluded.first_seen_at, done_at = excluded.done_at, result = excluded.result,
                    result_hash = excluded.result_hash, error_code = excluded.error_code, run_id = excluded.run_id,
                    agent_id = excluded.agent_id, metadata = excluded.metadata
                """
            })
    }

    public func transactCheckLock(
        accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        _ decide: @escaping @Sendable (CheckLockRecord?, TransactionInput) -> CheckLockTransition
    ) async throws -> Decided<CheckLockTransition> {
        try await transactRecord(
            table: "check_locks", usage: .make, accountId: accountId, key: key, requestId: requestId,
            apiKeyId: apiKeyId,
            read: { try $0.checkLockRecord },
            decide: { record, input in
                let transition = decide(record, input)
                return (transition, transition.write, transition.effects)
            },
            save: { r in
                """
                INSERT INTO check_locks (account_id, key, ttl, created_at, expires_at, metadata)
                VALUES (\(accountId), \(r.key), \(Int64(r.ttl)), \(r.createdAt.milliseconds),
                    \(r.expiresAt.milliseconds), \(r.metadata?.canonicalText))
                ON CONFLICT (account_id, key) DO UPDATE SET ttl = excluded.ttl, created_at = excluded.created_at,
                    expires_at = excluded.expires_at, metadata = excluded.metadata
                """
            })
    }

    /// The one transition primitive, for any record kind: lock the key, read the clock, the
    /// record and the month's usage in one round trip, decide, write the record and the effects,
    /// commit. The advisory lock is taken before the read, so a key without a row is covered.
    /// The caller's API key (`apiKeyId`) is re-checked by that same read: a revoked key rolls
    /// the transaction back with ``StoreError/keyRevoked`` before anything is decided.
    private func transactRecord<Record: Sendable, Transition: Sendable>(
        table: String, usage kind: UsageKind, accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        read: @escaping @Sendable (PostgresRandomAccessRow) throws -> Record,
        decide: @escaping @Sendable (Record?, TransactionInput) -> (Transition, Record?, Effects),
        save: @escaping @Sendable (Record) -> PostgresQuery
    ) async throws -> Decided<Transition> {
        let logger = self.logger
        let nowSQL = self.nowSQL
        // An integer literal, not a bind: monthUsageSQL names the account as $1.
        let keyLive = apiKeyId.map { "(SELECT k.revoked_at IS NULL FROM api_keys k WHERE k.id = \($0))" } ?? "TRUE"
        let decided = try await transaction { c in
            try await c.query("SELECT pg_advisory_xact_lock(\(lockKey(table, accountId, key)))", logger: logger)
            let row = try await c.query(
                """
                WITH t AS (SELECT \(unescaped: nowSQL) AS db_now)
                SELECT t.db_now, \(unescaped: Self.monthUsageSQL(kind)) AS month_usage,
                    \(unescaped: keyLive) AS key_live, l.*
                FROM t LEFT JOIN \(unescaped: table) l ON l.account_id = \(accountId) AND l.key = \(key)
                """, logger: logger
            ).rows()[0]
            guard try row.value("key_live", as: Bool?.self) == true else { throw StoreError.keyRevoked }
            let now = try row.timestamp("db_now")
            let stored = try row.value("key", as: String?.self) == nil ? nil : try read(row)
            let usage = try row.value("month_usage", as: Int64?.self) ?? 0
            let (transition, write, effects) = decide(stored, TransactionInput(now: now, usage: usage))
            if let write { try await c.query(save(write), logger: logger) }
            try await Self.persist(effects, c, accountId: accountId, now: now, requestId: requestId, logger)
            return Decided(transition, now: now)
        }
        observe(databaseNow: decided.now)
        return decided
    }

    public func readLease(accountId: Int64, key: String) async throws -> Decided<LeaseRecord?> {
        let logger = self.logger
        let nowSQL = self.nowSQL
        let decided = try await connection { c in
            let rows = try await c.query(
                """
                SELECT \(unescaped: nowSQL) AS db_now, l.* FROM (SELECT 1) AS one
                LEFT JOIN leases l ON l.account_id = \(accountId) AND l.key = \(key)
                """, logger: logger
            ).rows()
            guard let row = rows.first else { throw StoreError.failure("no clock row") }
            let now = try row.timestamp("db_now")
            let present = try row.value("key", as: String?.self) != nil
            return Decided(present ? try row.leaseRecord : nil, now: now)
        }
        observe(databaseNow: decided.now)
        return decided
    }

    /// The account's usage of `kind` in the month of `t.db_now`, as a subquery of the read that
    /// follows the lock (one round trip for the clock, the record and the quota).
    static func monthUsageSQL(_ kind: UsageKind) -> String {
        """
        (SELECT u.usage FROM usage_months u WHERE u.account_id = $1 AND u.kind = '\(kind.rawValue)'
            AND u.month = to_char(to_timestamp(t.db_now / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM'))
        """
    }

    public func leaseKeys(_ selection: LeaseSelection, limit: Int) async throws -> [LeaseKey] {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await connection { c in
            let query: PostgresQuery =
                switch selection {
                case .heldPastDeadline:
                    """
                    SELECT account_id, key FROM leases WHERE state = 'held' AND deadline <= \(unescaped: nowSQL)
                    LIMIT \(limit)
                    """
                case .finished(let age):
                    """
                    SELECT account_id, key FROM leases WHERE state IN ('completed', 'failed', 'expired', 'canceled')
                        AND done_at <= \(unescaped: nowSQL) - \(Int64(age) * 1000)
                    LIMIT \(limit)
                    """
                }
            return try await c.query(query, logger: logger).rows().map {
                LeaseKey(accountId: try $0.value("account_id"), key: try $0.value("key"))
            }
        }
    }

    public func removeExpired(_ rows: ExpiringRows, limit: Int) async throws -> Int {
        let logger = self.logger
        let nowSQL = self.nowSQL
        return try await transaction { c in
            let query: PostgresQuery =
                switch rows {
                case .checkLocks:
                    """
                    DELETE FROM check_locks WHERE (account_id, key) IN (SELECT account_id, key FROM check_locks
                        WHERE expires_at <= \(unescaped: nowSQL) LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                    RETURNING 1
                    """
                case .feedEvents(let age):
                    """
                    DELETE FROM feed_events WHERE id IN (SELECT id FROM feed_events
                        WHERE ts <= \(unescaped: nowSQL) - \(Int64(age) * 1000) LIMIT \(limit)) RETURNING 1
                    """
                case .runEvents(let age):
                    """
                    DELETE FROM run_events WHERE id IN (SELECT id FROM run_events
                        WHERE created_at <= \(unescaped: nowSQL) - \(Int64(age) * 1000) LIMIT \(limit))
                    RETURNING 1
                    """
                case .agentLogs(let age):
                    """
                    DELETE FROM agent_logs WHERE id IN (SELECT id FROM agent_logs
                        WHERE ts <= \(unescaped: nowSQL) - \(Int64(age) * 1000) LIMIT \(limit)) RETURNING 1
                    """
                }
            let removed = try await c.query(query, logger: logger).collect().count
            if case .runEvents = rows, removed > 0 {
                // A run whose every event is gone leaves the list too.
                try await c.query(
                    """
                    DELETE FROM runs WHERE NOT EXISTS (SELECT 1 FROM run_events e
                        WHERE e.account_id = runs.account_id AND e.run_id = runs.run_id)
                    """, logger: logger)
            }
            return removed
        }
    }

    // MARK: Effects

    static let metricColumns = DailyMetric.allCases.map(\.rawValue)
    static let metricsUpsert: String = {
        let placeholders = (0..<metricColumns.count).map { "$\($0 + 3)" }.joined(separator: ", ")
        return """
            INSERT INTO metrics_days (account_id, day, \(metricColumns.joined(separator: ", ")))
            VALUES ($1, $2, \(placeholders))
            ON CONFLICT (account_id, day) DO UPDATE SET
            \(metricColumns.map { "\($0) = metrics_days.\($0) + excluded.\($0)" }.joined(separator: ",\n"))
            """
    }()

    /// Writes counters, feed rows and run events in the caller's transaction.
    static func persist(
        _ effects: Effects, _ c: PostgresConnection, accountId: Int64, now: Timestamp, requestId: String?,
        _ logger: Logger
    ) async throws {
        let k = effects.counters
        let make = [k.makeUsage, k.makeRequests, k.makeBlocked, 0, 0]
        let ai = [k.aiUsage, k.aiRequests, k.aiBlocked, k.aiCharged, k.aiPolling]
        for (kind, values) in [(UsageKind.make, make), (.ai, ai)] where values.contains(where: { $0 != 0 }) {
            try await c.query(
                """
                INSERT INTO usage_months AS u (account_id, month, kind, usage, requests, blocked, charged, polling)
                VALUES (\(accountId), \(now.month), \(kind.rawValue), \(values[0]), \(values[1]), \(values[2]),
                    \(values[3]), \(values[4]))
                ON CONFLICT (account_id, month, kind) DO UPDATE SET
                    usage = u.usage + excluded.usage, requests = u.requests + excluded.requests,
                    blocked = u.blocked + excluded.blocked, charged = u.charged + excluded.charged,
                    polling = u.polling + excluded.polling
                """, logger: logger)
        }
        let day = k.dailyIncrements
        if day.contains(where: { $0 != 0 }) {
            var binds = PostgresBindings()
            binds.append(accountId)
            binds.append(now.day)
            for value in day { binds.append(value) }
            try await c.query(PostgresQuery(unsafeSQL: metricsUpsert, binds: binds), logger: logger)
        }
        for event in effects.feed {
            try await c.query(
                """
                INSERT INTO feed_events (account_id, ts, type, key, req_id, fields)
                VALUES (\(accountId), \(event.ts.milliseconds), \(event.type), \(event.key), \(requestId),
                    \(JSONValue.object(event.fields).canonicalText))
                """, logger: logger)
        }
        for event in effects.runEvents {
            var event = event
            if event.reqId == nil { event.reqId = requestId }
            _ = try await insertRunEvent(c, accountId: accountId, event, now: now, logger)
        }
    }

    static func insertRunEvent(
        _ c: PostgresConnection, accountId: Int64, _ e: RunEvent, now: Timestamp, _ logger: Logger
    ) async throws -> Int64 {
        let rows = try await c.query(
            """
            INSERT INTO run_events (account_id, run_id, ts, type, status, step, tool, req_id, lease_id, agent_id,
                message, duration_ms, data, created_at)
            VALUES (\(accountId), \(e.runId), \(e.ts.milliseconds), \(e.type), \(e.status), \(e.step), \(e.tool),
                \(e.reqId), \(e.leaseId), \(e.agentId), \(e.message), \(e.durationMs), \(e.data?.canonicalText),
                \(now.milliseconds))
            RETURNING id
            """, logger: logger
        ).rows()
        guard let id = try rows.first?.value("id", as: Int64.self) else { throw StoreError.failure("no event id") }
        // The run's summary follows its latest event by (ts, id), so events posted late with an
        // old `ts` do not pretend to be the newest.
        try await c.query(
            """
            INSERT INTO runs AS r (account_id, run_id, last_ts, last_event_id, last_type, last_status, events_count)
            VALUES (\(accountId), \(e.runId), \(e.ts.milliseconds), \(id), \(e.type), \(e.status), 1)
            ON CONFLICT (account_id, run_id) DO UPDATE SET
                events_count = r.events_count + 1,
                last_type = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_type ELSE r.last_type END,
                last_status = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_status ELSE r.last_status END,
                last_event_id = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_event_id
                    ELSE r.last_event_id END,
                last_ts = GREATEST(r.last_ts, excluded.last_ts)
            """, logger: logger)
        return id
    }
}
