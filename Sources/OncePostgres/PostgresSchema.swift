import Logging
import OnceCore
import OnceStore
import PostgresNIO

/// Versioned, append-only migrations. Never edit one that has shipped; add the next.
enum PostgresSchema {
    static let migrations: [(name: String, statements: [String])] = [
        (
            "v1",
            [
                """
                CREATE TABLE accounts (
                    id BIGSERIAL PRIMARY KEY,
                    name TEXT,
                    plan TEXT NOT NULL,
                    email TEXT,
                    created_at BIGINT NOT NULL,
                    notify_email BOOLEAN NOT NULL DEFAULT TRUE,
                    notify_tool_errors BOOLEAN,
                    notify_run_failures BOOLEAN
                )
                """,
                """
                CREATE TABLE api_keys (
                    id BIGSERIAL PRIMARY KEY,
                    account_id BIGINT NOT NULL REFERENCES accounts(id),
                    key_hash TEXT NOT NULL UNIQUE,
                    preview TEXT NOT NULL,
                    name TEXT,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE leases (
                    account_id BIGINT NOT NULL,
                    key TEXT NOT NULL,
                    state TEXT NOT NULL,
                    lease_id TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    ttl BIGINT NOT NULL,
                    deadline BIGINT NOT NULL,
                    first_seen_at BIGINT NOT NULL,
                    done_at BIGINT,
                    result TEXT,
                    result_hash TEXT,
                    error_code TEXT,
                    run_id TEXT,
                    agent_id TEXT,
                    metadata TEXT,
                    PRIMARY KEY (account_id, key)
                )
                """,
                "CREATE INDEX leases_held_deadline ON leases (deadline) WHERE state = 'held'",
                """
                CREATE INDEX leases_done_at ON leases (done_at)
                    WHERE state IN ('completed', 'failed', 'expired', 'canceled')
                """,
                """
                CREATE TABLE check_locks (
                    account_id BIGINT NOT NULL,
                    key TEXT NOT NULL,
                    ttl BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    metadata TEXT,
                    PRIMARY KEY (account_id, key)
                )
                """,
                "CREATE INDEX check_locks_expires_at ON check_locks (expires_at)",
                """
                CREATE TABLE usage_months (
                    account_id BIGINT NOT NULL,
                    month TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    usage BIGINT NOT NULL DEFAULT 0,
                    requests BIGINT NOT NULL DEFAULT 0,
                    blocked BIGINT NOT NULL DEFAULT 0,
                    charged BIGINT NOT NULL DEFAULT 0,
                    polling BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (account_id, month, kind)
                )
                """,
                """
                CREATE TABLE metrics_days (
                    account_id BIGINT NOT NULL,
                    day TEXT NOT NULL,
                    \(DailyMetric.allCases.map { "\($0.rawValue) BIGINT NOT NULL DEFAULT 0," }.joined(separator: "\n"))
                    PRIMARY KEY (account_id, day)
                )
                """,
                """
                CREATE TABLE feed_events (
                    id BIGSERIAL PRIMARY KEY,
                    account_id BIGINT NOT NULL,
                    ts BIGINT NOT NULL,
                    type TEXT NOT NULL,
                    key TEXT NOT NULL,
                    req_id TEXT,
                    fields TEXT NOT NULL
                )
                """,
                "CREATE INDEX feed_events_account ON feed_events (account_id, id)",
                "CREATE INDEX feed_events_ts ON feed_events (ts)",
                """
                CREATE TABLE run_events (
                    id BIGSERIAL PRIMARY KEY,
                    account_id BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    ts BIGINT NOT NULL,
                    type TEXT NOT NULL,
                    status TEXT,
                    step TEXT,
                    tool TEXT,
                    req_id TEXT,
                    lease_id TEXT,
                    agent_id TEXT,
                    message TEXT,
                    duration_ms BIGINT,
                    data TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX run_events_run ON run_events (account_id, run_id, ts, id)",
                "CREATE INDEX run_events_created ON run_events (created_at)",
                """
                CREATE TABLE runs (
                    account_id BIGINT NOT NULL,
                    run_id TEXT NOT NULL,
                    last_ts BIGINT NOT NULL,
                    last_event_id BIGINT NOT NULL,
                    last_type TEXT NOT NULL,
                    last_status TEXT,
                    events_count BIGINT NOT NULL,
                    PRIMARY KEY (account_id, run_id)
                )
                """,
                "CREATE INDEX runs_recent ON runs (account_id, last_ts, last_event_id)",
            ]
        ),
        (
            // Governance (API §7–10). The tools table comes with the policies because a policy
            // may only name registered tools.
            "v2",
            [
                """
                CREATE TABLE policies (
                    account_id BIGINT NOT NULL,
                    agent_id TEXT NOT NULL,
                    policy TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (account_id, agent_id)
                )
                """,
                """
                CREATE TABLE agents (
                    account_id BIGINT NOT NULL,
                    agent_id TEXT NOT NULL,
                    enabled BOOLEAN NOT NULL,
                    disabled_reason TEXT,
                    disabled_at BIGINT,
                    PRIMARY KEY (account_id, agent_id)
                )
                """,
                """
                CREATE TABLE agent_logs (
                    id BIGSERIAL PRIMARY KEY,
                    account_id BIGINT NOT NULL,
                    agent_id TEXT NOT NULL,
                    ts BIGINT NOT NULL,
                    tool TEXT NOT NULL,
                    decision TEXT NOT NULL,
                    policy_reason TEXT NOT NULL,
                    risk_level TEXT NOT NULL,
                    args_hash TEXT,
                    spend_usd DOUBLE PRECISION NOT NULL DEFAULT 0
                )
                """,
                "CREATE INDEX agent_logs_agent ON agent_logs (account_id, agent_id, ts)",
                "CREATE INDEX agent_logs_ts ON agent_logs (ts)",
                """
                CREATE TABLE tools (
                    account_id BIGINT NOT NULL,
                    scope_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    url TEXT NOT NULL,
                    auth_type TEXT NOT NULL,
                    secret_sealed BYTEA,
                    secret_id TEXT,
                    secret_mask TEXT,
                    timeout_ms BIGINT NOT NULL,
                    max_retries BIGINT NOT NULL,
                    enabled BOOLEAN NOT NULL,
                    description TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (account_id, scope_id, name)
                )
                """,
            ]
        ),
        (
            // A successful governed call keeps its result, so an identical call inside the
            // dedup window answers it again without a second backend call (API §7 step 7).
            "v3",
            ["ALTER TABLE agent_logs ADD COLUMN result TEXT"]
        ),
    ]
}

extension PostgresStore {
    /// Brings the schema up to date. The first replica to take the migration lock applies what is
    /// missing, each migration in its own transaction; the others wait on the lock, then find
    /// nothing left to do.
    public func migrate() async throws {
        let logger = self.logger
        try await connection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
            do {
                try await Self.applyMigrations(connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                throw error
            }
        }
    }

    private static func applyMigrations(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS once_migrations (
                version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
            """, logger: logger)
        var applied = Set<Int>()
        for try await version in try await connection.query("SELECT version FROM once_migrations", logger: logger)
            .decode(Int.self)
        {
            applied.insert(version)
        }
        for (index, migration) in PostgresSchema.migrations.enumerated() where !applied.contains(index + 1) {
            try await connection.withTransaction(logger: logger) { connection in
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO once_migrations (version, name) VALUES (\(index + 1), \(migration.name))",
                    logger: logger)
            }
        }
    }
}
