import Foundation
import Logging
import OnceCore
import OnceStore
import PostgresNIO
import Synchronization

/// The shared store: several once-server replicas on one PostgreSQL database.
///
/// - One clock decides: every transition reads `clock_timestamp()` inside its transaction, so
///   replicas with skewed clocks agree on deadlines and expiry. ``now()`` is the database's clock
///   as last seen (local clock plus the offset measured at the last transaction), for display.
/// - One key, one writer: a transition takes a transaction-scoped advisory lock on a hash of
///   (account, key) before it reads the row, so concurrent transitions of a key, from any
///   replica, run one after the other, and a key that has no row yet is covered too.
/// - Bounded waits: every operation gives up after ``Options/operationTimeout`` with
///   ``StoreError/unavailable(_:)``, so a stopped or unreachable database yields 503s, not hangs.
///
/// ``run()`` must be running (it drives the connection pool) while the store is used.
public final class PostgresStore: OnceStorage {
    public struct Options: Sendable {
        /// Connections in the pool (bounded; requests beyond it wait for one, within the timeout).
        public var maximumConnections = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        /// How long one store operation may take, waiting for a connection included.
        public var operationTimeout: Duration = .seconds(5)
        /// Opening a TCP connection gives up after this.
        public var connectTimeout: Duration = .seconds(3)
        public var recordsActivity = true
        /// Milliseconds added to the database clock. Tests use it to move time forward without
        /// waiting; in production it is zero, and the database's clock alone decides.
        public var clockAdjustment: @Sendable () -> Int64 = { 0 }

        public init() {}
    }

    public let url: PostgresURL
    let configuration: PostgresClient.Configuration
    /// The connection pool in use. Replaced by ``run()`` when the database is reachable again
    /// but the pool is still backing off (see ``watch(_:)``).
    private let pool: Mutex<PostgresClient>
    var client: PostgresClient { pool.withLock { $0 } }
    let options: Options
    let logger: Logger
    let localClock: @Sendable () -> Timestamp
    /// Database clock minus local clock, in milliseconds, as measured at the latest transaction.
    private let offset = Mutex<Int64>(0)
    /// When an operation last succeeded; a busy pool keeps this fresh, a pool stuck in its
    /// reconnect backoff does not.
    private let lastSuccess = Mutex(ContinuousClock.now)
    /// Told of every committed transaction (once-server's commit metrics).
    private let commits = CommitObserverSlot()

    public var recordsActivity: Bool { options.recordsActivity }

    public init(
        url: PostgresURL, options: Options = Options(), logger: Logger = Logger(label: "once.postgres"),
        localClock: @escaping @Sendable () -> Timestamp = SQLiteStore.systemClock
    ) {
        var configuration = url.clientConfiguration
        configuration.options.maximumConnections = max(2, options.maximumConnections)
        configuration.options.connectTimeout = options.connectTimeout
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(15))
        self.url = url
        self.options = options
        self.logger = logger
        self.localClock = localClock
        self.configuration = configuration
        self.pool = Mutex(PostgresClient(configuration: configuration, backgroundLogger: logger))
    }

    /// Drives the connection pool until the calling task is cancelled.
    ///
    /// postgres-nio's pool retries failed connections with a backoff that grows to a minute, so
    /// after a long outage a replica would wait up to that long to notice the database is back.
    /// A watcher probes the database directly once a second while the pool is unhealthy and,
    /// as soon as a fresh connection succeeds, swaps in a new pool.
    public func run() async {
        while !Task.isCancelled {
            let current = client
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await current.run() }
                group.addTask { await self.watch(current) }
                await group.next()
                group.cancelAll()
            }
            guard !Task.isCancelled else { return }
            let fresh = PostgresClient(configuration: configuration, backgroundLogger: logger)
            pool.withLock { $0 = fresh }
            logger.notice("PostgreSQL is reachable again; replaced the connection pool")
        }
    }

    /// Returns when `current` should be replaced: nothing has succeeded through it for a few
    /// seconds and its own health check fails, while a direct connection to the database
    /// succeeds. A pool that is merely busy keeps succeeding and is left alone. Returns at once
    /// when cancelled.
    private func watch(_ current: PostgresClient) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard !Task.isCancelled else { return }
            guard ContinuousClock.now - lastSuccess.withLock({ $0 }) > .seconds(3) else { continue }
            if await probe(current) { continue }
            if await probeDirectly() { return }
        }
    }

    private func probe(_ client: PostgresClient) async -> Bool {
        let healthy =
            (try? await withTimeout(.seconds(2)) { try await client.query("SELECT 1").collect().count == 1 }) ?? false
        if healthy { lastSuccess.withLock { $0 = .now } }
        return healthy
    }

    private func probeDirectly() async -> Bool {
        guard let configuration = try? url.connectionConfiguration else { return false }
        let logger = self.logger
        do {
            return try await withTimeout(.seconds(2)) {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration, id: 0, logger: logger)
                try? await connection.close()
                return true
            }
        } catch {
            return false
        }
    }

    /// Opens a store for the duration of `body`: runs the pool, applies migrations, then
    /// closes everything when `body` returns or throws.
    public static func with<T: Sendable>(
        url: PostgresURL, options: Options = Options(), logger: Logger = Logger(label: "once.postgres"),
        localClock: @escaping @Sendable () -> Timestamp = SQLiteStore.systemClock,
        _ body: @Sendable (PostgresStore) async throws -> T
    ) async throws -> T {
        let store = PostgresStore(url: url, options: options, logger: logger, localClock: localClock)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            try await store.migrate()
            return try await body(store)
        }
    }

    public func now() -> Timestamp {
        Timestamp(milliseconds: localClock().milliseconds + offset.withLock { $0 })
    }

    func observe(databaseNow: Timestamp) {
        let local = localClock().milliseconds
        offset.withLock { $0 = databaseNow.milliseconds - local }
    }

    /// The database clock in milliseconds, as SQL (an integer literal is the only thing inlined).
    var nowSQL: String {
        "(floor(extract(epoch from clock_timestamp()) * 1000)::int8 + \(options.clockAdjustment()))"
    }

    // MARK: Bounded, mapped operations

    /// Runs `body` with the operation timeout, mapping every error once; retries a transaction
    /// the database aborted for a deadlock or a serialization conflict.
    func perform<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let result = try await withTimeout(options.operationTimeout, body)
                lastSuccess.withLock { $0 = .now }
                return result
            } catch {
                let mapped = Self.map(error)
                if attempt < 3, Self.isConflictAbort(error) { continue }
                throw mapped
            }
        }
    }

    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws
        -> T
    {
        let logger = self.logger
        return try await perform { [self] in
            let started = ContinuousClock.now
            let value = try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            // One request's writes per transaction: PostgreSQL commits them concurrently.
            commits.report(ContinuousClock.now - started, writes: 1)
            return value
        }
    }

    public func observeCommits(_ observer: CommitObserver?) { commits.install(observer) }

    func connection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws
        -> T
    {
        try await perform { [self] in try await client.withConnection { connection in try await body(connection) } }
    }

    /// Runs `body`, answering within `limit` whatever `body` does.
    ///
    /// A task group would wait for a cancelled child to return, and a query on a connection
    /// whose peer vanished (a network cut) may not return until TCP gives up, minutes later.
    /// So `body` runs in an unstructured task that is cancelled, and no longer waited for, once
    /// the limit passes or the caller is cancelled; it ends by itself when its connection fails.
    /// The caller's answer never depends on it.
    private func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        let race = TimeoutRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation, limit: limit, body)
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    static func isConflictAbort(_ error: any Error) -> Bool {
        var error = error
        if let t = error as? PostgresTransactionError, let inner = t.closureError ?? t.commitError { error = inner }
        guard let psql = error as? PSQLError, psql.code == .server else { return false }
        let state = psql.serverInfo?[.sqlState]
        return state == "40001" || state == "40P01"
    }

    // MARK: Health and maintenance

    public func isHealthy() async -> Bool {
        do {
            let client = self.client
            return try await withTimeout(.seconds(2)) {
                let rows = try await client.query("SELECT 1").collect()
                return rows.count == 1
            }
        } catch {
            return false
        }
    }

    /// Advisory-lock keys of this application (arbitrary constants, namespaced by their value).
    static let migrationLock: Int64 = 0x6F6E_6365_6D69_6772  // "oncemigr"
    static let maintenanceLock: Int64 = 0x6F6E_6365_7377_6570  // "oncesweep"

    public func exclusively<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T? {
        // A session lock on one pooled connection, held while `body` runs its own transactions on
        // others; if that connection dies, PostgreSQL releases the lock with it.
        let logger = self.logger
        do {
            return try await client.withConnection { connection -> T? in
                let rows = try await connection.query(
                    "SELECT pg_try_advisory_lock(\(Self.maintenanceLock))", logger: logger
                ).collect()
                guard let first = rows.first, try first.makeRandomAccess()[0].decode(Bool.self) else { return nil }
                do {
                    let result = try await body()
                    try await connection.query("SELECT pg_advisory_unlock(\(Self.maintenanceLock))", logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query(
                        "SELECT pg_advisory_unlock(\(Self.maintenanceLock))", logger: logger)
                    throw error
                }
            }
        } catch {
            throw Self.map(error)
        }
    }
}

/// One operation racing its deadline: whichever ends first resumes the caller, exactly once.
private final class TimeoutRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var outcome: Result<T, any Error>?
    }
    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, limit: Duration,
        _ body: @escaping @Sendable () async throws -> T
    ) {
        let work = Task {
            do { self.finish(.success(try await body())) } catch { self.finish(.failure(error)) }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            self.finish(.failure(StoreError.unavailable("PostgreSQL did not answer within \(limit)")))
        }
        let early = state.withLock { s -> Result<T, any Error>? in
            s.work = work
            s.timer = timer
            if let outcome = s.outcome { return outcome }
            s.continuation = continuation
            return nil
        }
        if let early {
            work.cancel()
            timer.cancel()
            continuation.resume(with: early)
        }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let (continuation, work, timer) = state.withLock { s in
            if s.outcome == nil { s.outcome = outcome }
            defer { s.continuation = nil }
            return (s.continuation, s.work, s.timer)
        }
        guard let continuation else { return }
        work?.cancel()
        timer?.cancel()
        continuation.resume(with: outcome)
    }
}
