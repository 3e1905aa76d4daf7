import Foundation
import GRDB
import OnceCore
import OnceStore
import Testing

/// Group commit in the SQLite store, on real files: writes share commits, a failing one does
/// not take the others down, nobody hears of a write before it is committed, and the queue is
/// bounded.
@Suite("SQLite store: group commit")
struct GroupCommitTests {
    func newPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("once-group-\(UUID().uuidString)")
            .appendingPathComponent("once.sqlite").path
    }

    func account(_ store: SQLiteStore) async throws -> AccountContext {
        let created = try await store.createKey(plan: .agency, name: nil, accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else {
            throw HarnessError.authenticationFailed
        }
        return account
    }

    /// Another connection, as another process would open the file; it sees committed data only.
    func committedCheckLock(_ path: String, _ key: String) throws -> Bool {
        // Waits for a lock as the store's own connections do: opening a connection reads the
        // schema, which may meet SQLITE_BUSY for a moment while 64 others open and close, and
        // GRDB's default is to fail at once (CI saw "database is locked" on that first read).
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let other = try DatabaseQueue(path: path, configuration: configuration)
        return try other.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM check_locks WHERE key = ?)", arguments: [key])
        } ?? false
    }

    /// Takes the write lock from another connection and keeps it until `release` runs.
    func holdWriteLock(_ path: String) async throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true  // the point: a transaction left open
        let other = try DatabaseQueue(path: path, configuration: configuration)
        try await other.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        return other
    }

    func release(_ other: DatabaseQueue) async throws {
        try await other.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
    }

    /// Waits (without a fixed delay) until `condition` holds; fails the test after 30 s.
    func wait(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw HarnessError.unexpected("timed out: \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("64 concurrent check-locks share commits, and each reply finds its lock committed")
    func concurrentWritesShareCommits() async throws {
        let path = newPath()
        let store = try SQLiteStore(path: path)
        let account = try await account(store)
        let before = store.groupCommitStatistics
        let seen = try await withThrowingTaskGroup(of: (CheckLockReply, Bool).self) { group in
            for i in 0..<64 {
                group.addTask {
                    let reply = try await store.checkLock(
                        account: account, key: "k\(i)", ttl: 60, metadata: nil, requestId: nil)
                    // The moment the reply arrives, the lock must already be on disk.
                    return (reply, try committedCheckLock(path, "k\(i)"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(seen.count == 64)
        #expect(seen.allSatisfy { $0.0 == .locked(ttl: 60) })
        #expect(seen.allSatisfy { $0.1 }, "a reply arrived before its commit")
        let stats = store.groupCommitStatistics
        #expect(stats.writes - before.writes == 64)
        #expect(stats.batches - before.batches < 64, "no two writes shared a commit: \(stats)")
        #expect(stats.largestBatch > 1)
    }

    @Test("a transition that fails inside a batch leaves the others in that batch committed")
    func failureStaysInItsSavepoint() async throws {
        let path = newPath()
        let store = try SQLiteStore(path: path)
        let account = try await account(store)
        // A real SQLite failure that only the write of `bad` meets (its read finds nothing).
        try await DatabaseQueue(path: path).write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER refuse_bad BEFORE INSERT ON leases WHEN NEW.key = 'bad'
                    BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                    """)
        }
        // Hold the writer up so that everything below lands in one batch.
        let other = try await holdWriteLock(path)
        let blocker = Task {
            try await store.checkLock(account: account, key: "blocker", ttl: 60, metadata: nil, requestId: nil)
        }
        try await wait("the blocker taken by the writer") { store.writesInFlight == 1 }
        let keys = (0..<20).map { "good\($0)" }
        let outcomes = Task {
            try await withThrowingTaskGroup(of: (String, Result<LeaseReply, StoreError>).self) { group in
                for key in keys + ["bad"] {
                    group.addTask {
                        do {
                            return (
                                key,
                                .success(
                                    try await store.lease(
                                        account: account, key: key,
                                        command: .acquire(.init(ttl: 30, newLeaseId: "lease_\(key)")), requestId: nil))
                            )
                        } catch let error as StoreError {
                            return (key, .failure(error))
                        }
                    }
                }
                return try await group.reduce(into: [String: Result<LeaseReply, StoreError>]()) { $0[$1.0] = $1.1 }
            }
        }
        try await wait("all 21 queued behind the blocker") { store.queuedWrites == 21 }
        try await release(other)
        _ = try await blocker.value
        let results = try await outcomes.value
        guard case .failure(let error) = results["bad"] else {
            Issue.record("the corrupt row must fail: \(String(describing: results["bad"]))")
            return
        }
        #expect("\(error)".contains("refused by the test"), "\(error)")
        for key in keys {
            guard case .success(let reply) = results[key] else {
                Issue.record("\(key): \(String(describing: results[key]))")
                continue
            }
            #expect(reply.acquiredRecord?.leaseId == "lease_\(key)")
        }
        #expect(store.groupCommitStatistics.largestBatch >= 21, "\(store.groupCommitStatistics)")
        let committed = try await DatabaseQueue(path: path).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM leases WHERE key LIKE 'good%' AND state = 'held'")
        }
        #expect(committed == 20)
    }

    @Test("a full write queue refuses at once as unavailable, and the queued writes still commit")
    func boundedQueueRefuses() async throws {
        let path = newPath()
        let store = try SQLiteStore(path: path, writeQueue: 2)
        let account = try await account(store)
        let other = try await holdWriteLock(path)
        func check(_ key: String) -> Task<CheckLockReply, any Error> {
            Task { try await store.checkLock(account: account, key: key, ttl: 60, metadata: nil, requestId: nil) }
        }
        let first = check("first")
        try await wait("the first write taken by the writer") { store.writesInFlight == 1 }
        let queued = [check("q1"), check("q2")]
        try await wait("two writes queued") { store.queuedWrites == 2 }
        let started = ContinuousClock.now
        await #expect(throws: StoreError.unavailable("the writer's queue is full")) {
            _ = try await store.checkLock(account: account, key: "refused", ttl: 60, metadata: nil, requestId: nil)
        }
        #expect(ContinuousClock.now - started < .seconds(5), "refused only after waiting")
        #expect(store.groupCommitStatistics.refused == 1)
        try await release(other)
        #expect(try await first.value == .locked(ttl: 60))
        for task in queued { #expect(try await task.value == .locked(ttl: 60)) }
        #expect(try committedCheckLock(path, "q2"))
        #expect(!(try committedCheckLock(path, "refused")))
    }
}
