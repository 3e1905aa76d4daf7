import GRDB
import OnceCore

// Typed rows of the SQLite schema. Each decodes with GRDB's throwing `decode`, so a bad column
// or an unknown enum value is a `StoreError.corrupt`, never a crash or a silent default.

extension Row {
    func timestamp(_ column: String) throws -> Timestamp {
        Timestamp(milliseconds: try decode(Int64.self, forColumn: column))
    }

    func optionalTimestamp(_ column: String) throws -> Timestamp? {
        try decode(Int64?.self, forColumn: column).map(Timestamp.init(milliseconds:))
    }

    func json(_ column: String) throws -> JSONValue? {
        try JSONColumn.decode(try decode(String?.self, forColumn: column), column: column)
    }

    func enumValue<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E where E.RawValue == String {
        let raw = try decode(String.self, forColumn: column)
        guard let value = E(rawValue: raw) else { throw StoreError.corrupt("column \(column) holds unknown \(raw)") }
        return value
    }
}

/// A row of `leases`.
struct LeaseRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "leases"
    var accountId: Int64
    var record: LeaseRecord

    init(accountId: Int64, _ record: LeaseRecord) {
        self.accountId = accountId
        self.record = record
    }

    init(row: Row) throws {
        accountId = try row.decode(forColumn: "account_id")
        record = LeaseRecord(
            key: try row.decode(forColumn: "key"), state: try row.enumValue(LeaseState.self, "state"),
            leaseId: try row.decode(forColumn: "lease_id"), version: try row.decode(forColumn: "version"),
            ttl: try row.decode(forColumn: "ttl"), deadline: try row.timestamp("deadline"),
            firstSeenAt: try row.timestamp("first_seen_at"), doneAt: try row.optionalTimestamp("done_at"),
            result: try row.json("result"), resultHash: try row.decode(forColumn: "result_hash"),
            errorCode: try row.decode(forColumn: "error_code"), runId: try row.decode(forColumn: "run_id"),
            agentId: try row.decode(forColumn: "agent_id"), metadata: try row.json("metadata"))
    }

    func encode(to container: inout PersistenceContainer) {
        let r = record
        container["account_id"] = accountId
        container["key"] = r.key
        container["state"] = r.state.rawValue
        container["lease_id"] = r.leaseId
        container["version"] = r.version
        container["ttl"] = r.ttl
        container["deadline"] = r.deadline.milliseconds
        container["first_seen_at"] = r.firstSeenAt.milliseconds
        container["done_at"] = r.doneAt?.milliseconds
        container["result"] = JSONColumn.encode(r.result)
        container["result_hash"] = r.resultHash
        container["error_code"] = r.errorCode
        container["run_id"] = r.runId
        container["agent_id"] = r.agentId
        container["metadata"] = JSONColumn.encode(r.metadata)
    }

    static func fetch(_ db: Database, accountId: Int64, key: String) throws -> LeaseRecord? {
        try LeaseRow.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM leases WHERE account_id = ? AND key = ?"), arguments: [accountId, key]
        )?.record
    }
}

/// A row of `check_locks`.
struct CheckLockRow: FetchableRecord, PersistableRecord {
    static let databaseTableName = "check_locks"
    var accountId: Int64
    var record: CheckLockRecord

    init(accountId: Int64, _ record: CheckLockRecord) {
        self.accountId = accountId
        self.record = record
    }

    init(row: Row) throws {
        accountId = try row.decode(forColumn: "account_id")
        record = CheckLockRecord(
            key: try row.decode(forColumn: "key"), ttl: try row.decode(forColumn: "ttl"),
            createdAt: try row.timestamp("created_at"), expiresAt: try row.timestamp("expires_at"),
            metadata: try row.json("metadata"))
    }

    func encode(to container: inout PersistenceContainer) {
        container["account_id"] = accountId
        container["key"] = record.key
        container["ttl"] = record.ttl
        container["created_at"] = record.createdAt.milliseconds
        container["expires_at"] = record.expiresAt.milliseconds
        container["metadata"] = JSONColumn.encode(record.metadata)
    }

    static func fetch(_ db: Database, accountId: Int64, key: String) throws -> CheckLockRecord? {
        try CheckLockRow.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM check_locks WHERE account_id = ? AND key = ?"),
            arguments: [accountId, key]
        )?.record
    }
}

/// A row of `usage_months`.
struct UsageRow: FetchableRecord {
    var kind: UsageKind
    var counters: UsageCounters

    init(row: Row) throws {
        kind = try row.enumValue(UsageKind.self, "kind")
        counters = UsageCounters()
        counters.usage = try row.decode(forColumn: "usage")
        counters.requests = try row.decode(forColumn: "requests")
        counters.blocked = try row.decode(forColumn: "blocked")
        counters.charged = try row.decode(forColumn: "charged")
        counters.polling = try row.decode(forColumn: "polling")
    }

    static func usage(_ db: Database, _ accountId: Int64, _ kind: UsageKind, _ month: String) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT usage FROM usage_months WHERE account_id = ? AND month = ? AND kind = ?"),
            arguments: [accountId, month, kind.rawValue]) ?? 0
    }
}

/// A row of `metrics_days`.
struct MetricsRow: FetchableRecord {
    var day: String
    var metrics: DayMetrics

    init(row: Row) throws {
        day = try row.decode(forColumn: "day")
        metrics = DayMetrics()
        for metric in DailyMetric.allCases { metrics[metric] = try row.decode(forColumn: metric.rawValue) }
    }
}

/// A row of `run_events`.
struct RunEventRow: FetchableRecord {
    var stored: StoredRunEvent

    init(row: Row) throws {
        stored = StoredRunEvent(
            id: try row.decode(forColumn: "id"),
            event: RunEvent(
                runId: try row.decode(forColumn: "run_id"), type: try row.decode(forColumn: "type"),
                ts: try row.timestamp("ts"), status: try row.decode(forColumn: "status"),
                step: try row.decode(forColumn: "step"), tool: try row.decode(forColumn: "tool"),
                reqId: try row.decode(forColumn: "req_id"), leaseId: try row.decode(forColumn: "lease_id"),
                agentId: try row.decode(forColumn: "agent_id"), message: try row.decode(forColumn: "message"),
                durationMs: try row.decode(forColumn: "duration_ms"), data: try row.json("data")))
    }
}

/// A row of `runs`.
struct RunRow: FetchableRecord {
    var summary: RunSummary

    init(row: Row) throws {
        summary = RunSummary(
            runId: try row.decode(forColumn: "run_id"), lastTs: try row.timestamp("last_ts"),
            lastType: try row.decode(forColumn: "last_type"), lastStatus: try row.decode(forColumn: "last_status"),
            eventsCount: try row.decode(forColumn: "events_count"))
    }
}

/// A row of `feed_events`.
struct FeedRow: FetchableRecord {
    var stored: StoredFeedEvent

    init(row: Row) throws {
        stored = StoredFeedEvent(
            id: try row.decode(forColumn: "id"), reqId: try row.decode(forColumn: "req_id"),
            event: FeedEvent(
                ts: try row.timestamp("ts"), type: try row.decode(forColumn: "type"),
                key: try row.decode(forColumn: "key"), fields: try row.json("fields")?.objectValue ?? [:]))
    }
}

/// An API key joined with its account's plan.
struct KeyInfoRow: FetchableRecord {
    var info: APIKeyInfo

    init(row: Row) throws {
        info = APIKeyInfo(
            id: try row.decode(forColumn: "id"), accountId: try row.decode(forColumn: "account_id"),
            plan: try row.enumValue(Plan.self, "plan"), name: try row.decode(forColumn: "name"),
            preview: try row.decode(forColumn: "preview"), createdAt: try row.timestamp("created_at"),
            revokedAt: try row.optionalTimestamp("revoked_at"))
    }

    static let select = """
        SELECT k.id, k.account_id, a.plan, k.name, k.preview, k.created_at, k.revoked_at
        FROM api_keys k JOIN accounts a ON a.id = k.account_id
        """
}

/// The account columns `/v1/me` shows.
struct AccountRow: FetchableRecord {
    var plan: Plan
    var email: String?
    var notifications: NotificationSettings

    init(row: Row) throws {
        plan = try row.enumValue(Plan.self, "plan")
        email = try row.decode(forColumn: "email")
        notifications = NotificationSettings(
            master: try row.decode(forColumn: "notify_email"),
            toolErrors: try row.decode(forColumn: "notify_tool_errors"),
            runFailures: try row.decode(forColumn: "notify_run_failures"))
    }
}

extension NotificationSettings {
    /// An unset channel flag follows the master switch (API §12.5).
    init(master: Bool, toolErrors: Bool?, runFailures: Bool?) {
        self.init(email: master, toolErrors: toolErrors ?? master, runFailures: runFailures ?? master)
    }
}
