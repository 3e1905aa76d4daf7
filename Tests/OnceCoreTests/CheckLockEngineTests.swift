import Testing

@testable import OnceCore

/// API §4 semantics and §15 rows 2, 3 and 7.
@Suite struct CheckLockEngineTests {
    let metadata: JSONValue = .object(["invoice_id": .string("INV-123"), "amount_usd": .double(99.99)])

    func check(
        ttl: Int = 60, metadata: JSONValue? = nil, existing: CheckLockRecord?, at now: Timestamp,
        quota: Quota = Quota(plan: .starter, usage: 5)
    ) -> CheckLockTransition {
        CheckLockEngine.apply(key: "inv_1", ttl: ttl, metadata: metadata, existing: existing, now: now, quota: quota)
    }

    @Test func newKeyIsLocked() {
        let t = check(ttl: 3600, metadata: metadata, existing: nil, at: t0)
        #expect(
            t.write == CheckLockRecord(key: "inv_1", ttl: 3600, createdAt: t0, expiresAt: at(3600), metadata: metadata))
        #expect(t.reply == .locked(ttl: 3600))
        #expect(t.effects.counters.makeRequests == 1)
        #expect(t.effects.counters.checksTotal == 1)
        #expect(t.effects.counters.locksCreated == 1)
        #expect(t.effects.counters.makeUsage == 0)
        #expect(t.effects.counters.duplicatesBlocked == 0)
        #expect(t.effects.feed.map(\.type) == ["locked"])
        // JSON null metadata is not stored.
        #expect(check(metadata: .null, existing: nil, at: t0).write?.metadata == nil)
    }

    @Test func duplicateEchoesTheStoredLockAndWritesNothing() throws {
        let lock = try #require(check(ttl: 60, existing: nil, at: t0).write)
        for (requestedTTL, when) in [(60, at(0)), (3600, at(30)), (10, at(59, ms: 999))] {
            let t = check(ttl: requestedTTL, existing: lock, at: when, quota: Quota(plan: .starter, usage: 5))
            #expect(t.write == nil)
            #expect(t.reply == .duplicate(ttl: 60, firstSeenAt: t0))
            #expect(t.effects.counters.makeUsage == 1)
            #expect(t.effects.counters.duplicatesBlocked == 1)
            #expect(t.effects.counters.makeRequests == 1)
            #expect(t.effects.counters.checksTotal == 1)
            #expect(t.effects.counters.locksCreated == 0)
            #expect(t.effects.feed.map(\.type) == ["duplicate"])
            #expect(t.effects.feed.first?.fields["first_seen_at"] == .string("2025-01-15T10:30:00Z"))
            #expect(t.effects.feed.first?.fields["usage"] == .int(6))
        }
    }

    @Test func expiredLockIsLockedAgain() throws {
        let lock = try #require(check(ttl: 60, metadata: metadata, existing: nil, at: t0).write)
        for when in [at(60), at(61), at(86_400)] {
            let t = check(ttl: 120, existing: lock, at: when)
            #expect(t.reply == .locked(ttl: 120))
            #expect(
                t.write
                    == CheckLockRecord(key: "inv_1", ttl: 120, createdAt: when, expiresAt: when.adding(seconds: 120)))
            #expect(t.effects.counters.locksCreated == 1)
            #expect(t.effects.counters.makeUsage == 0)
        }
    }

    @Test func freePlanOverItsMakeLimitIsRefused() throws {
        let lock = try #require(check(existing: nil, at: t0).write)
        for existing in [nil, lock] {
            let t = check(existing: existing, at: at(1), quota: Quota(plan: .free, usage: 1_000))
            #expect(t.write == nil)
            #expect(t.reply == .overLimit(usage: 1_000, limit: 1_000))
            #expect(t.effects.counters.makeBlocked == 1)
            #expect(t.effects.counters.makeRequests == 1)
            #expect(t.effects.counters.makeUsage == 0)
            #expect(t.effects.counters.checksTotal == 0)
            #expect(t.effects.feed.map(\.type) == ["over_limit"])
            #expect(t.effects.feed.first?.fields["plan"] == .string("free"))
        }
        // One below the limit is still served: a duplicate is counted, a new key locks.
        let below = Quota(plan: .free, usage: 999)
        #expect(check(existing: lock, at: at(1), quota: below).effects.counters.makeUsage == 1)
        #expect(check(existing: nil, at: at(1), quota: below).reply == .locked(ttl: 60))
    }

    @Test(arguments: [Plan.starter, .pro, .agency])
    func softCappedPlansKeepServingPastTheirMakeLimit(plan: Plan) {
        let t = check(existing: nil, at: t0, quota: Quota(plan: plan, usage: plan.limits.makePerMonth * 2))
        #expect(t.reply == .locked(ttl: 60))
        #expect(t.write != nil)
        #expect(t.effects.counters.makeBlocked == 0)
    }
}
