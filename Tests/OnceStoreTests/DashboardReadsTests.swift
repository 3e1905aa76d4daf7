import Foundation
import OnceCore
import OnceStore
import Testing

/// The dashboard's keyset reads, on every store.
@Suite("Dashboard reads")
struct DashboardReadsTests {
    @Test("held leases: only live holders, by key, in keyset pages, per account", arguments: StoreFactory.all)
    func heldLeases(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        let other = try await h.account()
        for key in ["c", "a", "b"] { _ = try await h.acquire(account, key, ttl: 60) }
        _ = try await h.acquire(account, "short", ttl: 10)
        _ = try await h.acquire(other, "theirs", ttl: 60)
        let done = try #require(try await h.acquire(account, "done", ttl: 60).acquiredRecord)
        _ = try await h.store.lease(
            account: account, key: "done", command: .complete(leaseId: done.leaseId, result: nil, resultHash: nil),
            requestId: nil)
        h.clock.advance(seconds: 30)  // "short" has lapsed, unswept
        let first = try await h.store.heldLeases(accountId: account.accountId, afterKey: nil, limit: 2)
        #expect(first.value.map(\.key) == ["a", "b"])
        let second = try await h.store.heldLeases(accountId: account.accountId, afterKey: "b", limit: 2)
        #expect(second.value.map(\.key) == ["c"])
        #expect(second.value.allSatisfy { $0.deadline > second.now })
        #expect(try await h.store.heldLeaseCount() == 4)  // a, b, c and the other account's
    }

    @Test("check-locks: live and lapsed ones by key, after a cursor", arguments: StoreFactory.all)
    func checkLocks(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        _ = try await h.store.checkLock(account: account, key: "k2", ttl: 60, metadata: nil, requestId: nil)
        _ = try await h.store.checkLock(account: account, key: "k1", ttl: 10, metadata: nil, requestId: nil)
        _ = try await h.store.checkLock(account: account, key: "k3", ttl: 60, metadata: nil, requestId: nil)
        h.clock.advance(seconds: 20)
        let page = try await h.store.checkLocks(accountId: account.accountId, afterKey: nil, limit: 2)
        #expect(page.value.map(\.key) == ["k1", "k2"])
        #expect(page.value[0].expiresAt <= page.now)
        #expect(page.value[1].expiresAt > page.now)
        let rest = try await h.store.checkLocks(accountId: account.accountId, afterKey: "k2", limit: 2)
        #expect(rest.value.map(\.key) == ["k3"])
    }

    @Test("runs: status, key and agent filters; keyset pages newest first", arguments: StoreFactory.all)
    func runs(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        let base = h.clock.now
        let events = [
            RunEvent(runId: "r1", type: "run_started", ts: base, data: .object(["key": .string("job-a")])),
            RunEvent(runId: "r1", type: "run_finished", ts: base.adding(seconds: 1), status: "failed"),
            RunEvent(runId: "r2", type: "step", ts: base.adding(seconds: 2), status: "completed", agentId: "bot"),
            RunEvent(
                runId: "r3", type: "run_finished", ts: base.adding(seconds: 3), status: "failed",
                data: .object(["key": .string("job-b")])),
            RunEvent(runId: "r4", type: "note", ts: base.adding(seconds: 4), data: .string("not an object")),
        ]
        for e in events { _ = try await h.store.appendRunEvent(account: account, e) }
        let id = account.accountId
        let all = try await h.store.runsPage(accountId: id, filter: RunFilter(), after: nil, limit: 2)
        #expect(all.map(\.summary.runId) == ["r4", "r3"])
        let next = try await h.store.runsPage(accountId: id, filter: RunFilter(), after: all.last?.cursor, limit: 2)
        #expect(next.map(\.summary.runId) == ["r2", "r1"])
        let failed = try await h.store.runsPage(
            accountId: id, filter: RunFilter(status: "failed"), after: nil, limit: 9)
        #expect(failed.map(\.summary.runId) == ["r3", "r1"])
        let byKey = try await h.store.runsPage(accountId: id, filter: RunFilter(key: "job-a"), after: nil, limit: 9)
        #expect(byKey.map(\.summary.runId) == ["r1"])
        let byAgent = try await h.store.runsPage(accountId: id, filter: RunFilter(agentId: "bot"), after: nil, limit: 9)
        #expect(byAgent.map(\.summary.runId) == ["r2"])
        let other = try await h.account()
        #expect(
            try await h.store.runsPage(accountId: other.accountId, filter: RunFilter(), after: nil, limit: 9).isEmpty)
    }

    @Test("feed: type filter, pages below an id, counts by type and error code", arguments: StoreFactory.all)
    func feed(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        _ = try await h.store.checkLock(account: account, key: "x", ttl: 60, metadata: nil, requestId: nil)
        _ = try await h.store.checkLock(account: account, key: "x", ttl: 60, metadata: nil, requestId: nil)
        _ = try await h.acquire(account, "lease", ttl: 10)
        let id = account.accountId
        let all = try await h.store.feedPage(accountId: id, types: [], beforeId: nil, limit: 10)
        #expect(all.map(\.event.type) == ["ai_acquired", "duplicate", "locked"])
        let older = try await h.store.feedPage(accountId: id, types: [], beforeId: all[0].id, limit: 1)
        #expect(older.map(\.event.type) == ["duplicate"])
        let typed = try await h.store.feedPage(
            accountId: id, types: ["locked", "ai_acquired"], beforeId: nil, limit: 10)
        #expect(typed.map(\.event.type) == ["ai_acquired", "locked"])
        h.clock.advance(seconds: 15)
        _ = try await h.store.sweep()  // expires "lease": an ai_failed with error_code lease_expired
        let counts = try await h.store.feedCounts(accountId: id, sinceSecondsAgo: 86_400)
        let table = Dictionary(uniqueKeysWithValues: counts.map { ("\($0.type)/\($0.errorCode ?? "-")", $0.count) })
        #expect(table == ["locked/-": 1, "duplicate/-": 1, "ai_acquired/-": 1, "ai_failed/lease_expired": 1])
    }
}
