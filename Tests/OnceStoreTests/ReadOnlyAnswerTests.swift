import Foundation
import GRDB
import OnceCore
import OnceStore
import Testing

/// Duplicates and polls answered from a read (SQLite): no write transaction on their path,
/// their counters and feed rows written with a later batch, and hard caps still exact.
@Suite("SQLite store: answers from a read")
struct ReadOnlyAnswerTests {
    let support = GroupCommitTests()

    @Test("a duplicate check-lock and a poll answer while another process holds the write lock")
    func duplicatesNeedNoWriteLock() async throws {
        let path = support.newPath()
        let store = try SQLiteStore(path: path)
        let account = try await support.account(store)
        #expect(
            try await store.checkLock(account: account, key: "k", ttl: 60, metadata: nil, requestId: nil)
                == .locked(ttl: 60))
        let held = try await store.lease(
            account: account, key: "L", command: .acquire(.init(ttl: 30, newLeaseId: "lease_1")), requestId: nil)
        #expect(held.acquiredRecord?.leaseId == "lease_1")

        let other = try await support.holdWriteLock(path)
        let started = ContinuousClock.now
        let duplicate = try await store.checkLock(
            account: account, key: "k", ttl: 60, metadata: nil, requestId: "req-dup")
        guard case .duplicate(ttl: 60, _) = duplicate else {
            Issue.record("\(duplicate)")
            return
        }
        let poll = try await store.lease(
            account: account, key: "L", command: .acquire(.init(ttl: 30, newLeaseId: "lease_2")), requestId: nil)
        guard case .busy(let record, _) = poll else {
            Issue.record("\(poll)")
            return
        }
        #expect(record.leaseId == "lease_1")
        // A write would have waited for the lock (busy timeout 10 s) instead.
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(store.writesInFlight + store.queuedWrites <= 1, "only the deferred flush may wait")
        try await support.release(other)

        // The deferred counters and feed rows arrive; the readers flush before reading.
        let usage = try await store.usage(account: account, month: store.now().month)
        #expect(usage[.make]?.requests == 2)
        #expect(usage[.make]?.usage == 1)  // duplicates are what check-lock usage counts
        #expect(usage[.ai]?.polling == 1)
        let feed = try await store.feed(account: account, limit: 10, offset: 0)
        #expect(feed.first?.event.type == "ai_in_progress")
        #expect(feed.dropFirst().first?.event.type == "duplicate")
        #expect(feed.dropFirst().first?.reqId == "req-dup")
        #expect(store.groupCommitStatistics.deferredWritten == 2)
    }

    @Test("the feed keeps the order of answers: a deferred duplicate precedes a later write")
    func feedOrder() async throws {
        let store = try SQLiteStore(path: support.newPath())
        let account = try await support.account(store)
        for key in ["a", "a", "b", "a", "c"] {
            _ = try await store.checkLock(account: account, key: key, ttl: 60, metadata: nil, requestId: nil)
        }
        let feed = try await store.feed(account: account, limit: 10, offset: 0)
        #expect(feed.map(\.event.type).reversed() == ["locked", "duplicate", "locked", "duplicate", "locked"])
        #expect(feed.map(\.event.key).reversed() == ["a", "a", "b", "a", "c"])
        // Usage counts duplicates, in order, deferred ones included.
        let usages = feed.reversed().compactMap { $0.event.fields["usage"] }
        #expect(usages == [.int(0), .int(1), .int(1), .int(2), .int(2)])
    }

    @Test("a hard-capped plan's duplicates take the write path, so the cap stays exact")
    func hardCapStaysExact() async throws {
        let path = support.newPath()
        let store = try SQLiteStore(path: path)
        let created = try await store.createKey(plan: .free, name: nil, accountId: nil)
        guard case .valid(let account) = try await store.authenticate(apiKey: created.key) else {
            Issue.record("authenticate")
            return
        }
        _ = try await store.checkLock(account: account, key: "k", ttl: 60, metadata: nil, requestId: nil)
        let limit = Plan.free.limits.makePerMonth
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE usage_months SET usage = ? WHERE kind = 'make'", arguments: [limit - 1])
        }
        guard
            case .duplicate = try await store.checkLock(
                account: account, key: "k", ttl: 60, metadata: nil, requestId: nil)
        else {
            Issue.record("the last request under the cap is a duplicate")
            return
        }
        #expect(
            try await store.checkLock(account: account, key: "k", ttl: 60, metadata: nil, requestId: nil)
                == .overLimit(usage: limit, limit: limit))
        #expect(store.groupCommitStatistics.deferredWritten == 0)
    }
}
