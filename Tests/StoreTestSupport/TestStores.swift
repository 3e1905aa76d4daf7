import Foundation
import OnceCore
import OncePostgres
import OnceStore

/// The store the HTTP and SDK suites run on: SQLite by default, PostgreSQL when
/// `ONCE_TEST_STORE=postgres` (`scripts/test` runs those suites once on each).
public enum TestStores {
    public enum Kind: String, Sendable { case sqlite, postgres }

    public static var kind: Kind {
        ProcessInfo.processInfo.environment["ONCE_TEST_STORE"].flatMap(Kind.init(rawValue:)) ?? .sqlite
    }

    /// A fresh, empty store of ``kind``: a new SQLite file, or a new database on the test cluster.
    public static func make(options: PostgresStore.Options = PostgresStore.Options()) async throws
        -> any OnceStorage
    {
        switch kind {
        case .sqlite:
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-test-\(UUID().uuidString)")
            return try SQLiteStore(path: dir.appendingPathComponent("once.sqlite").path)
        case .postgres:
            return try await postgres(url: try await newPostgresDatabase(), options: options)
        }
    }

    /// A new empty database on the test cluster (`ONCE_TEST_POSTGRES_URL`).
    public static func newPostgresDatabase() async throws -> PostgresURL {
        guard let admin = PostgresScratch.testClusterURL else { throw TestStoreError.noCluster }
        return try await PostgresScratch.createDatabase(adminURL: admin)
    }

    /// A migrated PostgreSQL store on `url` whose pool runs for the rest of the test process.
    public static func postgres(
        url: PostgresURL, options: PostgresStore.Options = PostgresStore.Options(),
        localClock: @escaping @Sendable () -> Timestamp = SQLiteStore.systemClock
    ) async throws -> PostgresStore {
        var options = options
        options.maximumConnections = min(options.maximumConnections, 8)
        // Tests race 64 callers on one key while other suites load the same small machine; the
        // queue on one key's lock is inherent, so give it more room than a server's 5 s.
        options.operationTimeout = .seconds(30)
        let store = PostgresStore(url: url, options: options, localClock: localClock)
        PoolRunner.start(store)
        try await store.migrate()
        return store
    }
}

public enum TestStoreError: Error, CustomStringConvertible {
    case noCluster

    public var description: String {
        "ONCE_TEST_POSTGRES_URL is not set: start a cluster with scripts/pg-cluster (scripts/test does)"
    }
}

/// Runs PostgreSQL stores' connection pools for the test process. Test stores live until the
/// process ends, so each pool gets one unstructured task that runs for the process's lifetime;
/// nothing waits for it and nothing it does outlives the test run.
public enum PoolRunner {
    public static func start(_ store: PostgresStore) {
        Task { await store.run() }
    }
}
