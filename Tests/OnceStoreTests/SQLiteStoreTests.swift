import Foundation
import GRDB
import OnceCore
import OnceStore
import Testing

/// What only the embedded store has: a file other processes can lock, and bytes on disk.
@Suite("SQLite store: a locked file is unavailable, a bad row is corrupt")
struct SQLiteStoreTests {
    func newPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("once-sqlite-\(UUID().uuidString)")
            .appendingPathComponent("once.sqlite").path
    }

    @Test("the writer commits with the durability asked for (GRDB's WAL set-up must not lower it)")
    func durabilityHolds() async throws {
        for durability in SQLiteStore.Durability.allCases {
            let store = try SQLiteStore(path: newPath(), durability: durability)
            #expect(try await store.effectiveDurability() == durability)
        }
    }

    @Test("a write lock held past the busy timeout is a retryable StoreError, and nothing is written")
    func lockedFileIsUnavailable() async throws {
        let path = newPath()
        let store = try SQLiteStore(path: path, busyTimeout: 0.2)
        let created = try await store.createKey(plan: .agency, name: nil, accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else {
            Issue.record("authenticate")
            return
        }
        // Another connection (as another process would) takes the write lock and keeps it.
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true  // the point: a transaction left open
        let other = try DatabaseQueue(path: path, configuration: configuration)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        do {
            _ = try await store.lease(
                account: account, key: "k", command: .acquire(.init(ttl: 30, newLeaseId: "lease_x")), requestId: nil)
            Issue.record("a locked store must not answer")
        } catch let error as StoreError {
            #expect(error.isRetryable, "\(error)")
        }
        try await other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        #expect(try await store.leaseRecord(account: account, key: "k") == nil)
        let reply = try await store.lease(
            account: account, key: "k", command: .acquire(.init(ttl: 30, newLeaseId: "lease_y")), requestId: nil)
        #expect(reply.acquiredRecord?.leaseId == "lease_y")
    }

    @Test("an unknown state in a stored row is StoreError.corrupt, not a crash or a default")
    func unknownEnumIsCorrupt() async throws {
        let path = newPath()
        let store = try SQLiteStore(path: path)
        let created = try await store.createKey(plan: .agency, name: nil, accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else { return }
        _ = try await store.lease(
            account: account, key: "k", command: .acquire(.init(ttl: 30, newLeaseId: "lease_x")), requestId: nil)
        let other = try DatabaseQueue(path: path)
        try await other.write { db in try db.execute(sql: "UPDATE leases SET state = 'zombie'") }
        await #expect(throws: StoreError.corrupt("column state holds unknown zombie")) {
            _ = try await store.leaseRecord(account: account, key: "k")
        }
    }
}
