import Foundation
import OnceCore
import OnceStore
import Testing

/// The behaviour every ``OnceStorage`` must show. New stores join by adding a factory to
/// ``StoreFactory/all``.
@Suite("Store conformance")
struct StoreConformanceTests {
    @Test("64 concurrent acquirers of one key: exactly one acquires, over many keys", arguments: StoreFactory.all)
    func concurrentAcquireIsExclusive(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        for round in 0..<25 {
            let key = "race-\(round)"
            let replies = try await withThrowingTaskGroup(of: LeaseReply.self) { group in
                for _ in 0..<64 { group.addTask { try await h.acquire(account, key) } }
                return try await group.reduce(into: [LeaseReply]()) { $0.append($1) }
            }
            let acquired = replies.compactMap(\.acquiredRecord)
            #expect(acquired.count == 1, "key \(key): \(acquired.count) acquirers")
            let busy = replies.filter { if case .busy = $0 { return true } else { return false } }
            #expect(busy.count == 63)
            #expect(acquired.first?.version == 1)
        }
    }

    @Test("64 concurrent check-locks of one key: exactly one locked", arguments: StoreFactory.all)
    func concurrentCheckLockIsExclusive(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        for round in 0..<10 {
            let replies = try await withThrowingTaskGroup(of: CheckLockReply.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        try await h.store.checkLock(
                            account: account, key: "cl-\(round)", ttl: 60, metadata: nil, requestId: nil)
                    }
                }
                return try await group.reduce(into: [CheckLockReply]()) { $0.append($1) }
            }
            #expect(replies.filter { $0 == .locked(ttl: 60) }.count == 1)
        }
    }

    @Test("versions strictly increase across expiry, cancel, re-acquire and restart", arguments: StoreFactory.all)
    func versionsNeverGoBack(factory: StoreFactory) async throws {
        var h = try await StoreHarness(factory)
        let account = try await h.account()
        var last: Int64 = 0
        for step in 0..<6 {
            let reply = try await h.acquire(account, "fenced", ttl: 10)
            let record = try #require(reply.acquiredRecord, "step \(step): \(reply)")
            #expect(record.version > last)
            last = record.version
            if step % 2 == 0 {
                h.clock.advance(seconds: 11)  // let it expire
            } else {
                let canceled = try await h.store.lease(
                    account: account, key: "fenced", command: .cancel(leaseId: record.leaseId, reason: nil),
                    requestId: nil)
                guard case .canceled(let c, false) = canceled else { Issue.record("cancel: \(canceled)"); return }
                #expect(c.version == last + 1)
                last = c.version
            }
            if step == 3 { try await h.reopen() }
        }
        // Retention turns the record into a tombstone; the counter still goes on.
        h.clock.advance(seconds: Double(LeaseEngine.retentionSeconds + 60))
        _ = try await h.store.sweep(batchSize: 100)
        _ = try await h.store.sweep(batchSize: 100)
        #expect(try await h.store.leaseRecord(account: account, key: "fenced") == nil)
        try await h.reopen()
        let again = try #require(try await h.acquire(account, "fenced").acquiredRecord)
        #expect(again.version > last)
    }

    @Test(
        "an expiry is recorded once, reported failed/lease_expired, and the key is re-acquirable",
        arguments: StoreFactory.all)
    func expiry(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        let first = try #require(
            try await h.acquire(account, "exp", ttl: 10, metadata: .object(["run_id": .string("run-exp")]))
                .acquiredRecord)
        h.clock.advance(seconds: 10)
        let seen = try #require(try await h.store.leaseRecord(account: account, key: "exp"))
        #expect(seen.reportedStatus == "failed")
        #expect(seen.errorCode == "lease_expired")
        // The former holder cannot resurrect it.
        let late = try await h.store.lease(
            account: account, key: "exp", command: .extend(leaseId: first.leaseId, ttl: nil), requestId: nil)
        guard case .notActive = late else { Issue.record("late extend: \(late)"); return }
        _ = try await h.store.sweep(batchSize: 100)
        let second = try #require(try await h.acquire(account, "exp").acquiredRecord)
        #expect(second.version == first.version + 1)
        let metrics = try await h.store.metrics(account: account, fromDay: "2000-01-01", toDay: "2100-01-01")
        #expect(metrics.values.reduce(0) { $0 + $1[.aiFailed] } == 1)
        let timeline = try await h.store.runTimeline(account: account, runId: "run-exp", limit: 100, offset: 0)
        #expect(timeline.events.map(\.event.type) == ["run_started", "run_finished"])
        #expect(timeline.events.last?.event.message == "lease_expired")
    }

    @Test("complete stores the result; the same complete replays; other finishes conflict", arguments: StoreFactory.all)
    func completeAndReplay(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        let lease = try #require(try await h.acquire(account, "job").acquiredRecord)
        let result: JSONValue = .object(["rows": .int(42)])
        let done = try await h.store.lease(
            account: account, key: "job", command: .complete(leaseId: lease.leaseId, result: result, resultHash: nil),
            requestId: nil)
        guard case .completed(let c, false) = done else { Issue.record("\(done)"); return }
        #expect(c.resultHash == result.canonicalHash)
        let replay = try await h.store.lease(
            account: account, key: "job", command: .complete(leaseId: lease.leaseId, result: result, resultHash: nil),
            requestId: nil)
        #expect(replay == .completed(c, replay: true))
        let fail = try await h.store.lease(
            account: account, key: "job", command: .fail(leaseId: lease.leaseId, errorCode: "x", errorHash: nil),
            requestId: nil)
        guard case .notActive = fail else { Issue.record("\(fail)"); return }
        let stored = try #require(try await h.store.leaseRecord(account: account, key: "job"))
        #expect(stored.result == result)
        #expect(stored.version == 2)
        let again = try await h.acquire(account, "job")
        guard case .finished(let f, _) = again else { Issue.record("\(again)"); return }
        #expect(f.state == .completed)
    }

    @Test("accounts are isolated", arguments: StoreFactory.all)
    func isolation(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let a = try await h.account()
        let b = try await h.account()
        #expect(try await h.acquire(a, "shared").acquiredRecord != nil)
        #expect(try await h.acquire(b, "shared").acquiredRecord != nil)
        #expect(
            try await h.store.checkLock(account: a, key: "k", ttl: 60, metadata: nil, requestId: nil)
                == .locked(ttl: 60))
        #expect(
            try await h.store.checkLock(account: b, key: "k", ttl: 60, metadata: nil, requestId: nil)
                == .locked(ttl: 60))
        _ = try await h.store.appendRunEvent(account: a, RunEvent(runId: "r", type: "note", ts: h.clock.now))
        #expect(try await h.store.runTimeline(account: b, runId: "r", limit: 10, offset: 0).total == 0)
        let feedA = try await h.store.feed(account: a, limit: 50, offset: 0)
        let feedB = try await h.store.feed(account: b, limit: 50, offset: 0)
        #expect(Set(feedA.map(\.id)).isDisjoint(with: Set(feedB.map(\.id))))
    }

    @Test(
        "check-lock: duplicate keeps first_seen_at, expiry frees the key, usage counts duplicates",
        arguments: StoreFactory.all)
    func checkLockLifecycle(factory: StoreFactory) async throws {
        // PostgreSQL's harness clock starts at the real time of its creation and moves only by
        // hand, while the database's clock runs on: the row's stamp lies between the harness's
        // start and the end of the first call.
        let started = ContinuousClock.now
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        let t0 = h.clock.now
        #expect(
            try await h.store.checkLock(account: account, key: "inv", ttl: 60, metadata: nil, requestId: "r1")
                == .locked(ttl: 60))
        let took = started.duration(to: .now)
        let window = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
        h.clock.advance(seconds: 30)
        let duplicate = try await h.store.checkLock(
            account: account, key: "inv", ttl: 10, metadata: nil, requestId: "r2")
        guard case .duplicate(let ttl, let firstSeenAt) = duplicate else {
            Issue.record("expected a duplicate, got \(duplicate)")
            return
        }
        #expect(ttl == 60)
        // The store's clock decides (PostgreSQL's own): no later than the first call's end,
        // give or take a second of measured clock offset.
        let offset = firstSeenAt.milliseconds - t0.milliseconds
        #expect(
            offset > -1_000 && offset < window + 1_000,
            "\(offset) ms after the harness clock began; the harness and the first call took \(window) ms")
        #expect(
            try await h.store.checkLock(account: account, key: "inv", ttl: 10, metadata: nil, requestId: "r3")
                == .duplicate(ttl: 60, firstSeenAt: firstSeenAt), "a duplicate never moves first_seen_at")
        h.clock.advance(seconds: 31)
        #expect(
            try await h.store.checkLock(account: account, key: "inv", ttl: 10, metadata: nil, requestId: nil)
                == .locked(ttl: 10))
        let usage = try await h.store.usage(account: account, month: h.clock.now.month)
        #expect(usage[.make]?.usage == 2)
        #expect(usage[.make]?.requests == 4)
        let feed = try await h.store.feed(account: account, limit: 10, offset: 0)
        #expect(feed.map(\.event.type) == ["locked", "duplicate", "duplicate", "locked"])
        #expect(feed[2].reqId == "r2")
    }

    @Test("free plan stops at its monthly ai limit with nothing written", arguments: StoreFactory.all)
    func freePlanHardCap(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account(.free)
        // Fill the month's ai usage up to the limit through real acquires (16 at a time).
        let limit = Int(Plan.free.limits.aiPerMonth)
        let acquired = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    var count = 0
                    for i in stride(from: worker, to: limit, by: 16) {
                        if try await h.acquire(account, "k\(i)").acquiredRecord != nil { count += 1 }
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(acquired == limit)
        let reply = try await h.acquire(account, "one-more")
        #expect(reply == .overLimit(usage: 3000, limit: 3000))
        #expect(try await h.store.leaseRecord(account: account, key: "one-more") == nil)
        let usage = try await h.store.usage(account: account, month: h.clock.now.month)
        #expect(usage[.ai]?.blocked == 1)
    }

    @Test("run timeline is chronological, runs list newest first with prefix filter", arguments: StoreFactory.all)
    func runsAndTimeline(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        let base = h.clock.now
        _ = try await h.store.appendRunEvent(
            account: account, RunEvent(runId: "run_a", type: "b", ts: base.adding(seconds: 5)))
        _ = try await h.store.appendRunEvent(account: account, RunEvent(runId: "run_a", type: "a", ts: base))
        _ = try await h.store.appendRunEvent(
            account: account, RunEvent(runId: "run_b", type: "c", ts: base.adding(seconds: 9), status: "ok"))
        _ = try await h.store.appendRunEvent(account: account, RunEvent(runId: "x%_", type: "d", ts: base))
        let timeline = try await h.store.runTimeline(account: account, runId: "run_a", limit: 1, offset: 1)
        #expect(timeline.total == 2)
        #expect(timeline.events.map(\.event.type) == ["b"])
        let runs = try await h.store.listRuns(account: account, limit: 10, offset: 0, prefix: "run_")
        #expect(runs.total == 2)
        #expect(runs.items.map(\.runId) == ["run_b", "run_a"])
        #expect(runs.items[1].lastType == "b")
        #expect(runs.items[1].eventsCount == 2)
        #expect(
            try await h.store.listRuns(account: account, limit: 10, offset: 0, prefix: "x%").items.map(\.runId) == [
                "x%_"
            ])
    }

    @Test("keys: shown once, stored hashed, revocable", arguments: StoreFactory.all)
    func keys(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let created = try await h.store.createKey(plan: .pro, name: "ci", accountId: nil)
        #expect(created.key.hasPrefix("once_live_"))
        #expect(created.key.count == "once_live_".count + 32)
        let second = try await h.store.createKey(plan: .free, name: nil, accountId: created.info.accountId)
        #expect(second.info.plan == .pro)
        guard case .valid(let ctx) = try await h.store.authenticate(apiKey: second.key) else {
            Issue.record("second key not valid"); return
        }
        #expect(ctx.accountId == created.info.accountId)
        #expect(try await h.store.authenticate(apiKey: created.key + "x") == .unknown)
        let revoked = try await h.store.revokeKey(created.key)
        #expect(revoked?.id == created.info.id)
        #expect(try await h.store.authenticate(apiKey: created.key) == .revoked)
        #expect(try await h.store.listKeys().count == 2)
        if let sqlite = h.store as? SQLiteStore {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: sqlite.path))
            #expect(bytes.range(of: Data(created.key.utf8)) == nil, "the secret must not be stored")
        }
    }

    @Test(
        "a transition re-checks the caller's key: revoked since authentication, it is refused and writes nothing",
        arguments: StoreFactory.all)
    func transitionsRecheckTheKey(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        #expect(try await h.acquire(account, "before").acquiredRecord != nil)
        _ = try await h.store.revokeKey(String(account.keyId))
        // The context was authenticated before the revocation, as a server's key cache holds it.
        await #expect(throws: StoreError.keyRevoked) {
            try await h.store.checkLock(account: account, key: "after", ttl: 60, metadata: nil, requestId: nil)
        }
        await #expect(throws: StoreError.keyRevoked) { try await h.acquire(account, "after") }
        // A duplicate and a poll answer from a read: refused just the same.
        await #expect(throws: StoreError.keyRevoked) { try await h.acquire(account, "before") }
        #expect(try await h.store.leaseRecord(account: account, key: "after") == nil)
        // The sweep and once-exec's local account name no key and are not checked.
        var keyless = account
        keyless.keyId = 0
        #expect(
            try await h.store.checkLock(account: keyless, key: "after", ttl: 60, metadata: nil, requestId: nil)
                == .locked(ttl: 60))
    }

    @Test("notifications: partial update, channels follow the master switch until set", arguments: StoreFactory.all)
    func notifications(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        var n = try await h.store.updateNotifications(account: account, NotificationUpdate(email: false))
        #expect(n == NotificationSettings(email: false, toolErrors: false, runFailures: false))
        n = try await h.store.updateNotifications(account: account, NotificationUpdate(runFailures: true))
        #expect(n == NotificationSettings(email: false, toolErrors: false, runFailures: true))
        #expect(try await h.store.accountSummary(account: account).notifications == n)
    }

    @Test("sweep removes expired check-locks and old events in bounded batches", arguments: StoreFactory.all)
    func sweep(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let account = try await h.account()
        for i in 0..<30 {
            _ = try await h.store.checkLock(account: account, key: "s\(i)", ttl: 10, metadata: nil, requestId: nil)
        }
        _ = try await h.store.appendRunEvent(account: account, RunEvent(runId: "old", type: "note", ts: h.clock.now))
        h.clock.advance(seconds: 31 * 86_400)
        let first = try await h.store.sweep(batchSize: 7)
        #expect(first.checkLocksRemoved == 7)
        var total = first.checkLocksRemoved
        while true {
            let r = try await h.store.sweep(batchSize: 7)
            total += r.checkLocksRemoved
            if r.total == 0 { break }
        }
        #expect(total == 30)
        #expect(try await h.store.runTimeline(account: account, runId: "old", limit: 10, offset: 0).total == 0)
        #expect(try await h.store.listRuns(account: account, limit: 10, offset: 0, prefix: nil).total == 0)
        #expect(try await h.store.feed(account: account, limit: 100, offset: 0).isEmpty)
    }
}
