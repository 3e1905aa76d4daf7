import COnceSQLite
import Foundation
import GRDB
import OnceCore

/// The embedded store: one SQLite file in WAL mode.
///
/// Writes run in `BEGIN IMMEDIATE` transactions (GRDB's pool default) so that several processes (once-exec wrappers
/// on one host) can share the file without upgrade deadlocks, and commit with
/// `synchronous=FULL` by default, so an answered request survives power loss.
public final class SQLiteStore: OnceStorage {
    public enum Durability: String, Sendable, CaseIterable {
        /// fsync on every commit: an acknowledged change survives power loss.
        case full
        /// fsync at checkpoints only: survives a crash of the process, not of the machine.
        case normal
    }

    let pool: DatabasePool
    /// Where reads go when the store was opened with `readConnections` (once-server).
    let readers: ReadConnections?
    /// Every write goes through it: concurrent writes share one commit (see ``GroupCommitWriter``).
    let writer: GroupCommitWriter
    /// Counters and feed rows of read-only answers, written with the writer's next batch.
    let activity = DeferredActivity()
    let clock: @Sendable () -> Timestamp
    public let path: String
    /// Whether usage counters, daily metrics and the activity feed are kept. once-server keeps
    /// them for its API; once-exec's local store does not, so a skipped run writes nothing.
    public let recordsActivity: Bool

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// `writeQueue`: how many writes may wait for the writer before more are refused as
    /// unavailable; `maxBatch`: how many share one transaction at most.
    /// - Parameter readConnections: how many read-only connections serve reads
    ///   (``ReadConnections``: half the thread hand-offs of a pool read); 0 reads through the
    ///   pool, which suits short processes that read a few times.
    /// - Parameter shortLived: the file is opened by many short processes (once-exec), so a
    ///   closing connection neither checkpoints nor deletes the WAL: that was four of the seven
    ///   fsyncs of a local run (the checkpoint's two, the re-created WAL's directory sync and
    ///   GRDB's set-up write on a new WAL). Durability is the same: commits still sync the WAL.
    public init(
        path: String, durability: Durability = .full, recordsActivity: Bool = true,
        busyTimeout: Double = 10, writeQueue: Int = 1024, maxBatch: Int = 256, readConnections: Int = 0,
        shortLived: Bool = false, clock: @escaping @Sendable () -> Timestamp = SQLiteStore.systemClock
    ) throws {
        self.recordsActivity = recordsActivity
        var config = Configuration()
        // Another process's write transaction is waited for this long, then the store is unavailable.
        config.busyMode = .timeout(busyTimeout)
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if shortLived, let connection = db.sqliteConnection {
                let raw = UnsafeMutableRawPointer(connection)
                guard once_sqlite_persist_wal(raw) == 0, once_sqlite_no_checkpoint_on_close(raw) == 0 else {
                    throw StoreError.failure("SQLite refused the WAL settings of a shared local store")
                }
            }
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.clock = clock
        self.path = path
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            self.pool = pool
            self.writer = GroupCommitWriter(pool: pool, capacity: writeQueue, maxBatch: maxBatch, deferred: activity)
            // GRDB's WAL set-up runs after `prepareDatabase` and sets the writer to
            // synchronous=NORMAL, which would make `.full` a lie: set it again, last.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        } catch {
            throw Self.map(error)
        }
        do {
            try Self.migrator.migrate(pool)
        } catch {
            // Several processes (once-exec wrappers started together) may create a new file at
            // the same moment; the loser's migration fails on tables the winner just made.
            // That is fine as long as the schema is complete now.
            let complete = (try? pool.read({ try Self.migrator.hasCompletedMigrations($0) })) ?? false
            guard complete else { throw Self.map(error) }
        }
        do {
            // After the migration: a read-only connection could not create the schema.
            readers =
                readConnections > 0
                ? try ReadConnections(path: path, count: readConnections, busyTimeout: busyTimeout) : nil
        } catch {
            throw Self.map(error)
        }
    }

    public static let systemClock: @Sendable () -> Timestamp = {
        Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    public func now() -> Timestamp { clock() }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE accounts (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT,
                        plan TEXT NOT NULL,
                        email TEXT,
                        created_at INTEGER NOT NULL,
                        notify_email INTEGER NOT NULL DEFAULT 1,
                        notify_tool_errors INTEGER,
                        notify_run_failures INTEGER
                    );
                    CREATE TABLE api_keys (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        account_id INTEGER NOT NULL REFERENCES accounts(id),
                        key_hash TEXT NOT NULL UNIQUE,
                        preview TEXT NOT NULL,
                        name TEXT,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE TABLE leases (
                        account_id INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        state TEXT NOT NULL,
                        lease_id TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        ttl INTEGER NOT NULL,
                        deadline INTEGER NOT NULL,
                        first_seen_at INTEGER NOT NULL,
                        done_at INTEGER,
                        result TEXT,
                        result_hash TEXT,
                        error_code TEXT,
                        run_id TEXT,
                        agent_id TEXT,
                        metadata TEXT,
                        PRIMARY KEY (account_id, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX leases_held_deadline ON leases (deadline) WHERE state = 'held';
                    CREATE INDEX leases_done_at ON leases (done_at) WHERE state IN ('completed', 'failed', 'expired', 'canceled');
                    CREATE TABLE check_locks (
                        account_id INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        ttl INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        metadata TEXT,
                        PRIMARY KEY (account_id, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX check_locks_expires_at ON check_locks (expires_at);
                    CREATE TABLE usage_months (
                        account_id INTEGER NOT NULL,
                        month TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        usage INTEGER NOT NULL DEFAULT 0,
                        requests INTEGER NOT NULL DEFAULT 0,
                        blocked INTEGER NOT NULL DEFAULT 0,
                        charged INTEGER NOT NULL DEFAULT 0,
                        polling INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (account_id, month, kind)
                    ) WITHOUT ROWID;
                    CREATE TABLE metrics_days (
                        account_id INTEGER NOT NULL,
                        day TEXT NOT NULL,
                        checks_total INTEGER NOT NULL DEFAULT 0,
                        locks_created INTEGER NOT NULL DEFAULT 0,
                        duplicates_blocked INTEGER NOT NULL DEFAULT 0,
                        rate_limited INTEGER NOT NULL DEFAULT 0,
                        ai_acquired INTEGER NOT NULL DEFAULT 0,
                        ai_completed INTEGER NOT NULL DEFAULT 0,
                        ai_failed INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (account_id, day)
                    ) WITHOUT ROWID;
                    CREATE TABLE feed_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        account_id INTEGER NOT NULL,
                        ts INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        key TEXT NOT NULL,
                        req_id TEXT,
                        fields TEXT NOT NULL
                    );
                    CREATE INDEX feed_events_account ON feed_events (account_id, id);
                    CREATE INDEX feed_events_ts ON feed_events (ts);
                    CREATE TABLE run_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        account_id INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        ts INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        status TEXT,
                        step TEXT,
                        tool TEXT,
                        req_id TEXT,
                        lease_id TEXT,
                        agent_id TEXT,
                        message TEXT,
                        duration_ms INTEGER,
                        data TEXT,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX run_events_run ON run_events (account_id, run_id, ts, id);
                    CREATE INDEX run_events_created ON run_events (created_at);
                    CREATE TABLE runs (
                        account_id INTEGER NOT NULL,
                        run_id TEXT NOT NULL,
                        last_ts INTEGER NOT NULL,
                        last_event_id INTEGER NOT NULL,
                        last_type TEXT NOT NULL,
                        last_status TEXT,
                        events_count INTEGER NOT NULL,
                        PRIMARY KEY (account_id, run_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX runs_recent ON runs (account_id, last_ts, last_event_id);
                    """)
        }
        // Governance (API §7–10). The tools table comes with the policies because a policy may
        // only name registered tools.
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    CREATE TABLE policies (
                        account_id INTEGER NOT NULL,
                        agent_id TEXT NOT NULL,
                        policy TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (account_id, agent_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE agents (
                        account_id INTEGER NOT NULL,
                        agent_id TEXT NOT NULL,
                        enabled INTEGER NOT NULL,
                        disabled_reason TEXT,
                        disabled_at INTEGER,
                        PRIMARY KEY (account_id, agent_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE agent_logs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        account_id INTEGER NOT NULL,
                        agent_id TEXT NOT NULL,
                        ts INTEGER NOT NULL,
                        tool TEXT NOT NULL,
                        decision TEXT NOT NULL,
                        policy_reason TEXT NOT NULL,
                        risk_level TEXT NOT NULL,
                        args_hash TEXT,
                        spend_usd REAL NOT NULL DEFAULT 0
                    );
                    CREATE INDEX agent_logs_agent ON agent_logs (account_id, agent_id, ts);
                    CREATE INDEX agent_logs_ts ON agent_logs (ts);
                    CREATE TABLE tools (
                        account_id INTEGER NOT NULL,
                        scope_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        url TEXT NOT NULL,
                        auth_type TEXT NOT NULL,
                        secret_sealed BLOB,
                        secret_id TEXT,
                        secret_mask TEXT,
                        timeout_ms INTEGER NOT NULL,
                        max_retries INTEGER NOT NULL,
                        enabled INTEGER NOT NULL,
                        description TEXT,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (account_id, scope_id, name)
                    ) WITHOUT ROWID;
                    """)
        }
        // A successful governed call keeps its result, so an identical call inside the dedup
        // window answers it again without a second backend call (API §7 step 7).
        migrator.registerMigration("v3") { db in
            try db.execute(sql: "ALTER TABLE agent_logs ADD COLUMN result TEXT")
        }
        return migrator
    }
}

/// JSON columns hold canonical text.
enum JSONColumn {
    static func encode(_ value: JSONValue?) -> String? { value.map { $0.canonicalText } }

    /// A column that does not parse is a corrupt store, not a missing value.
    static func decode(_ text: String?, column: String) throws -> JSONValue? {
        guard let text else { return nil }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("column \(column) holds invalid JSON")
        }
    }
}

extension SQLiteStore {
    /// A write transaction with the database's errors mapped once: `body` runs in the writer's
    /// next group commit, in its own savepoint, and this returns after that commit.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.submit(body)
        } catch {
            throw Self.map(error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            if let readers { return try await readers.read(body) }
            return try await pool.read(body)
        } catch {
            throw Self.map(error)
        }
    }

    /// The one place SQLite's errors become ``StoreError``: busy and locked are retryable,
    /// a full disk or a read-only file are reported as such, anything else is a failure.
    static func map(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if error is RowDecodingError { return .corrupt("\(error)") }
        guard let error = error as? DatabaseError else { return .failure("\(error)") }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .unavailable("the database file is locked by another process")
        case .SQLITE_FULL:
            return .failure("the disk is full")
        case .SQLITE_IOERR:
            // A write, sync or shared-memory mapping failed; on a full disk opening a store
            // fails this way (its -wal and -shm files cannot grow) rather than with SQLITE_FULL.
            return .failure("I/O error on the database file (is the disk full or failing?)")
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN, .SQLITE_AUTH:
            return .failure("the database file cannot be opened for writing (check its permissions)")
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .corrupt("the file is not a valid once database")
        default:
            return .failure("SQLite error \(error.resultCode.rawValue): \(error.message ?? "no message")")
        }
    }

    /// The durability the writer connection really commits with (`PRAGMA synchronous`), for
    /// start-up logs and tests: 2 is FULL, 1 NORMAL; anything else is neither.
    public func effectiveDurability() async throws -> Durability? {
        let level = try await write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        switch level {
        case 2: return .full
        case 1: return .normal
        default: return nil
        }
    }

    /// What group commit has done so far (tests and diagnostics).
    package var groupCommitStatistics: GroupCommitStatistics { writer.statistics }
    public func observeCommits(_ observer: CommitObserver?) { writer.commits.install(observer) }
    /// Writes waiting for the writer's next transaction / in the one running now.
    package var queuedWrites: Int { writer.queued }
    package var writesInFlight: Int { writer.inFlight }

    public func isHealthy() async -> Bool {
        (try? await read { db in try Int.fetchOne(db, sql: "SELECT 1") }) != nil
    }

    /// SQLite has one writer per file and each sweep step is its own short transaction, so
    /// several sweepers need no coordination.
    public func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        try await body()
    }
}
