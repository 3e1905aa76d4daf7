import Foundation
import OnceCore
import OncePostgres
import OnceStore
import OnceStoreTestSupport
import Synchronization

/// A clock the test moves by hand, so expiry and retention are tested without sleeping.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Timestamp = Timestamp(seconds: 1_767_225_600)) {  // 2026-01-01T00:00:00Z
        value = Mutex(start.milliseconds)
        self.start = start.milliseconds
    }

    private let start: Int64

    var now: Timestamp { Timestamp(milliseconds: value.withLock { $0 }) }

    /// How far the clock was moved by hand.
    var advanced: Int64 { value.withLock { $0 } - start }

    func advance(seconds: Double) {
        value.withLock { $0 += Int64(seconds * 1000) }
    }

    var function: @Sendable () -> Timestamp { { self.now } }
}

/// How the conformance suite gets a fresh store; each implementation supplies one.
struct StoreFactory: Sendable, CustomStringConvertible {
    let name: String
    /// Opens a store on the same underlying database each time it is called with the same
    /// `location`, so tests can "restart" it.
    let open: @Sendable (_ location: String, _ clock: ManualClock) async throws -> any OnceStorage
    let newLocation: @Sendable () async throws -> String
    /// The clock a harness starts at: fixed for stores that take an injected clock; the real
    /// time for PostgreSQL, whose own clock decides (tests move it forward by an adjustment).
    let startClock: @Sendable () -> ManualClock

    var description: String { name }

    static let sqlite = StoreFactory(
        name: "sqlite",
        // As once-server opens it: reads on their own read-only connections.
        open: { location, clock in try SQLiteStore(path: location, readConnections: 2, clock: clock.function) },
        newLocation: {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-store-\(UUID().uuidString)")
            return dir.appendingPathComponent("once.sqlite").path
        },
        startClock: { ManualClock() })

    static let postgres = StoreFactory(
        name: "postgres",
        open: { location, clock in
            var options = PostgresStore.Options()
            options.clockAdjustment = { clock.advanced }
            return try await TestStores.postgres(url: try PostgresURL(location), options: options)
        },
        newLocation: {
            try await TestStores.newPostgresDatabase().description
        },
        startClock: { ManualClock(SQLiteStore.systemClock()) })

    /// Every store the conformance suite runs against. PostgreSQL joins when a test cluster is
    /// configured (`scripts/test` starts one); under CI its absence is a failure, not a skip.
    static let all: [StoreFactory] = {
        if PostgresScratch.testClusterURL != nil || ProcessInfo.processInfo.environment["CI"] == "true" {
            return [.sqlite, .postgres]
        }
        return [.sqlite]
    }()
}

struct StoreHarness {
    let factory: StoreFactory
    let location: String
    let clock: ManualClock
    var store: any OnceStorage

    init(_ factory: StoreFactory) async throws {
        self.factory = factory
        self.location = try await factory.newLocation()
        self.clock = factory.startClock()
        self.store = try await factory.open(location, clock)
    }

    /// Closes nothing explicitly: opening again on the same location is what a restarted
    /// server does.
    mutating func reopen() async throws {
        store = try await factory.open(location, clock)
    }

    func account(_ plan: Plan = .agency) async throws -> AccountContext {
        let created = try await store.createKey(plan: plan, name: nil, accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else {
            throw HarnessError.authenticationFailed
        }
        return account
    }

    func acquire(
        _ account: AccountContext, _ key: String, ttl: Int = 30, metadata: JSONValue? = nil,
        retryFailed: Bool = false
    ) async throws -> LeaseReply {
        try await store.lease(
            account: account, key: key,
            command: .acquire(
                .init(ttl: ttl, metadata: metadata, newLeaseId: "lease_" + UUID().uuidString, retryFailed: retryFailed)),
            requestId: nil)
    }
}

enum HarnessError: Error { case authenticationFailed, unexpected(String) }

extension LeaseReply {
    var acquiredRecord: LeaseRecord? {
        if case .acquired(let r, _) = self { return r }
        return nil
    }
}
