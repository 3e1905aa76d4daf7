import OnceEncoding
import Testing

@testable import OnceCore

/// One test per row of the API §5.9 transition table, plus the billing, run-event and
/// `result_hash` rules around it.
@Suite struct LeaseEngineTests {
    // MARK: absent → lease

    @Test func onlyTheNewHolderIsShownTheLeaseId() {
        let options = LeaseCommand.Acquire(ttl: 60, newLeaseId: "lease_a")
        let first = LeaseEngine.acquire(options, to: nil, key: "job", now: t0, quota: agency)
        #expect(first.reply.visibleLeaseId == "lease_a")
        let second = LeaseEngine.acquire(
            LeaseCommand.Acquire(ttl: 60, newLeaseId: "lease_b"), to: first.write, key: "job", now: at(1),
            quota: agency)
        guard case .busy(let held, _) = second.reply else {
            Issue.record("expected busy, got \(second.reply)")
            return
        }
        #expect(held.leaseId == "lease_a")
        #expect(second.reply.visibleLeaseId == nil)
        let done = LeaseEngine.mutate(
            .complete(leaseId: "lease_a", result: nil, resultHash: nil), to: first.write, now: at(2))
        let finished = LeaseEngine.acquire(options, to: done.write, key: "job", now: at(3), quota: agency)
        #expect(finished.reply.visibleLeaseId == nil)
        #expect(
            LeaseEngine.acquire(options, to: nil, key: "k", now: t0, quota: Quota(plan: .free, usage: 3_000))
                .reply.visibleLeaseId == nil)
    }

    @Test func absentAcquireGivesHeldVersionOneChargedOnce() {
        let t = run(acquire("lease_new", ttl: 90), on: nil, at: t0, quota: Quota(plan: .starter, usage: 41))
        let expected = LeaseRecord(
            key: "job", state: .held, leaseId: "lease_new", version: 1, ttl: 90, deadline: at(90), firstSeenAt: t0)
        #expect(t.write == expected)
        #expect(t.reply == .acquired(expected, usage: 42))
        #expect(t.effects.counters.aiUsage == 1)
        #expect(t.effects.counters.aiCharged == 1)
        #expect(t.effects.counters.aiAcquired == 1)
        #expect(t.effects.counters.aiRequests == 1)
        #expect(t.effects.counters.aiPolling == 0)
        #expect(t.effects.feed.map(\.type) == ["ai_acquired"])
        #expect(t.effects.feed.first?.fields["usage"] == .int(42))
        #expect(t.effects.feed.first?.fields["limit"] == .int(100_000))
        #expect(t.effects.feed.first?.fields["charged"] == .int(1))
        #expect(t.effects.runEvents.isEmpty)
    }

    // MARK: held → lease

    @Test func heldLeaseIsBusyForEveryoneAndFree() {
        let held = record()
        for leaseId in ["lease_b", "lease_a"] {
            let t = run(acquire(leaseId), on: held, at: at(10), quota: Quota(plan: .starter, usage: 42))
            #expect(t.write == nil)
            #expect(t.reply == .busy(held, usage: 42))
            #expect(t.effects.counters.aiUsage == 0)
            #expect(t.effects.counters.aiCharged == 0)
            #expect(t.effects.counters.aiPolling == 1)
            #expect(t.effects.feed.map(\.type) == ["ai_in_progress"])
        }
    }

    // MARK: held → extend

    @Test func extendWithOwnLeaseResetsDeadlineAndBumpsVersion() {
        let held = record(ttl: 60)
        let t = run(.extend(leaseId: "lease_a", ttl: 120), on: held, at: at(30))
        var expected = held
        expected.ttl = 120
        expected.deadline = at(150)
        expected.version = 2
        #expect(t.write == expected)
        #expect(t.reply == .extended(expected))
        #expect(t.effects.feed.map(\.type) == ["ai_extended"])
        #expect(t.effects.counters.aiCharged == 0)

        // A second heartbeat slides the deadline again, from its own `now`: it does not add up.
        let again = run(.extend(leaseId: "lease_a", ttl: 120), on: t.write, at: at(140))
        #expect(again.write?.deadline == at(260))
        #expect(again.write?.version == 3)
    }

    @Test func extendWithoutTTLKeepsTheLeaseTTL() {
        let held = record(ttl: 45)
        let t = run(.extend(leaseId: "lease_a", ttl: nil), on: held, at: at(40))
        #expect(t.write?.ttl == 45)
        #expect(t.write?.deadline == at(85))
        #expect(t.write?.version == 2)
    }

    // MARK: held → complete / fail / cancel

    @Test func completeWithOwnLease() {
        let held = record()
        let result: JSONValue = .object(["resolution": .string("refund issued")])
        let t = run(.complete(leaseId: "lease_a", result: result, resultHash: "h1"), on: held, at: at(20))
        var expected = held
        expected.state = .completed
        expected.version = 2
        expected.doneAt = at(20)
        expected.result = result
        expected.resultHash = "h1"
        #expect(t.write == expected)
        #expect(t.reply == .completed(expected, replay: false))
        #expect(t.write?.reportedStatus == "completed")
        #expect(t.effects.counters.aiCompleted == 1)
        #expect(t.effects.counters.aiFailed == 0)
        #expect(t.effects.feed.map(\.type) == ["ai_completed"])
        #expect(t.effects.feed.first?.fields["result_hash"] == .string("h1"))
    }

    @Test func failWithOwnLease() {
        let held = record()
        let t = run(.fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil), on: held, at: at(20))
        var expected = held
        expected.state = .failed
        expected.version = 2
        expected.doneAt = at(20)
        expected.errorCode = "fn_error"
        #expect(t.write == expected)
        #expect(t.reply == .failed(expected, replay: false))
        #expect(t.write?.reportedStatus == "failed")
        #expect(t.effects.counters.aiFailed == 1)
        #expect(t.effects.counters.aiCompleted == 0)
        #expect(t.effects.feed.map(\.type) == ["ai_failed"])
        #expect(t.effects.feed.first?.fields["error_code"] == .string("fn_error"))
    }

    @Test func cancelWithOwnLease() {
        let held = record()
        let t = run(.cancel(leaseId: "lease_a", reason: "user quit"), on: held, at: at(20))
        var expected = held
        expected.state = .canceled
        expected.version = 2
        expected.doneAt = at(20)
        #expect(t.write == expected)
        #expect(t.reply == .canceled(expected, replay: false))
        #expect(t.write?.reportedStatus == "canceled")
        #expect(t.effects.counters.aiFailed == 0)
        #expect(t.effects.counters.aiCompleted == 0)
        #expect(t.effects.feed.map(\.type) == ["ai_canceled"])
    }

    // MARK: held → wrong lease id

    @Test(arguments: [
        LeaseCommand.extend(leaseId: "lease_x", ttl: 60),
        .complete(leaseId: "lease_x", result: .object([:]), resultHash: nil),
        .fail(leaseId: "lease_x", errorCode: "fn_error", errorHash: nil),
        .cancel(leaseId: "lease_x", reason: nil),
    ])
    func wrongLeaseIdIsAMismatchAndWritesNothing(command: LeaseCommand) {
        let held = record()
        let t = run(command, on: held, at: at(20))
        #expect(t.write == nil)
        #expect(t.reply == .mismatch(held))
        #expect(t.effects == Effects())
    }

    // MARK: held → clock passes the deadline

    @Test func settleBeforeTheDeadlineDoesNothing() {
        let held = record(ttl: 60)
        #expect(LeaseEngine.settle(held, now: at(59, ms: 999)) == nil)
        #expect(LeaseEngine.view(held, now: at(59, ms: 999)) == held)
    }

    @Test func passingTheDeadlineExpiresOnceAtTheDeadline() throws {
        let held = record(ttl: 60, metadata: .object(["run_id": .string("run_1"), "agent_id": .string("bot")]))
        let settled = try #require(LeaseEngine.settle(held, now: at(75)))
        var expected = held
        expected.state = .expired
        expected.doneAt = at(60)
        expected.errorCode = "lease_expired"
        #expect(settled.record == expected)
        #expect(settled.record.version == held.version)
        #expect(settled.record.reportedStatus == "failed")
        #expect(settled.effects.counters.aiFailed == 1)
        #expect(settled.effects.feed.map(\.type) == ["ai_failed"])
        #expect(settled.effects.feed.first?.fields["error_code"] == .string("lease_expired"))
        #expect(settled.effects.runEvents.count == 1)
        let event = try #require(settled.effects.runEvents.first)
        #expect(event.runId == "run_1")
        #expect(event.type == "run_finished")
        #expect(event.status == "failed")
        #expect(event.agentId == "bot")
        #expect(event.leaseId == "lease_a")
        #expect(event.message == "lease_expired")

        // Exactly at the deadline it is already over.
        #expect(LeaseEngine.settle(held, now: at(60))?.record.doneAt == at(60))
        // Counted once: the expired record does not expire again, and a reader's view writes nothing.
        #expect(LeaseEngine.settle(settled.record, now: at(500)) == nil)
        #expect(LeaseEngine.view(held, now: at(75)) == expected)
    }

    @Test func expiryWithoutRunIdMakesNoRunEvent() throws {
        let settled = try #require(LeaseEngine.settle(record(), now: at(61)))
        #expect(settled.record.state == .expired)
        #expect(settled.effects.runEvents.isEmpty)
        #expect(settled.effects.counters.aiFailed == 1)
    }

    @Test func expiryFoundByACommandIsWrittenEvenWhenTheCommandChangesNothing() {
        let held = record(ttl: 60)
        let t = run(.extend(leaseId: "lease_a", ttl: 60), on: held, at: at(61))
        var expired = held
        expired.state = .expired
        expired.doneAt = at(60)
        expired.errorCode = "lease_expired"
        #expect(t.write == expired)
        #expect(t.reply == .notActive(expired))
        #expect(t.effects.counters.aiFailed == 1)

        // Applied to what was written, the expiry is not counted a second time.
        let later = run(.extend(leaseId: "lease_a", ttl: 60), on: t.write, at: at(62))
        #expect(later.write == nil)
        #expect(later.reply == .notActive(expired))
        #expect(later.effects.counters.aiFailed == 0)
    }

    // MARK: completed / failed → lease

    @Test(arguments: [
        LeaseCommand.complete(leaseId: "lease_a", result: nil, resultHash: nil),
        .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil),
    ])
    func finishedLeaseAnswersFinishedWithoutCharge(finish: LeaseCommand) {
        let done = record(then: [finish])
        for leaseId in ["lease_b", "lease_a"] {
            let t = run(acquire(leaseId), on: done, at: at(30), quota: Quota(plan: .pro, usage: 7))
            #expect(t.write == nil)
            #expect(t.reply == .finished(done, usage: 7))
            #expect(t.effects.counters.aiCharged == 0)
            #expect(t.effects.counters.aiUsage == 0)
            #expect(t.effects.counters.aiPolling == 1)
        }
    }

    // MARK: completed / failed / canceled → repeat of the same call

    @Test(arguments: [
        LeaseCommand.complete(leaseId: "lease_a", result: .object(["n": .int(1)]), resultHash: nil),
        .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil),
        .cancel(leaseId: "lease_a", reason: nil),
    ])
    func sameCallRepeatedIsAReplayWithoutWrite(command: LeaseCommand) {
        let first = run(command, on: record(), at: at(10))
        let done = first.write!
        let again = run(command, on: done, at: at(20))
        #expect(again.write == nil)
        #expect(again.effects == Effects())
        #expect(again.reply.kind == first.reply.kind + "-replay")
        switch again.reply {
        case .completed(let r, true), .failed(let r, true), .canceled(let r, true): #expect(r == done)
        default: Issue.record("expected a replay, got \(again.reply)")
        }
    }

    // MARK: completed / failed → another call

    @Test(arguments: [
        ("completed", LeaseCommand.extend(leaseId: "lease_a", ttl: 60)),
        ("completed", .fail(leaseId: "lease_a", errorCode: "e", errorHash: nil)),
        ("completed", .cancel(leaseId: "lease_a", reason: nil)),
        ("completed", .complete(leaseId: "lease_b", result: nil, resultHash: nil)),
        ("failed", .extend(leaseId: "lease_a", ttl: nil)),
        ("failed", .complete(leaseId: "lease_a", result: nil, resultHash: nil)),
        ("failed", .cancel(leaseId: "lease_a", reason: nil)),
        ("failed", .fail(leaseId: "lease_b", errorCode: "e", errorHash: nil)),
    ])
    func otherCallOnAFinishedLeaseIsNotActive(state: String, command: LeaseCommand) {
        let finish: LeaseCommand =
            state == "completed"
            ? .complete(leaseId: "lease_a", result: nil, resultHash: nil)
            : .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil)
        let done = record(then: [finish])
        let t = run(command, on: done, at: at(30))
        #expect(t.write == nil)
        #expect(t.reply == .notActive(done))
        #expect(t.effects == Effects())
    }

    // MARK: expired / canceled → lease

    @Test func expiredLeaseIsReacquiredWithTheNextVersion() {
        // v3 after two heartbeats; the last one gave it until t+2+60.
        let held = record(then: [.extend(leaseId: "lease_a", ttl: nil), .extend(leaseId: "lease_a", ttl: nil)])
        #expect(held.version == 3)
        let t = run(acquire("lease_b", ttl: 30), on: held, at: at(100), quota: Quota(plan: .starter, usage: 5))
        let expected = LeaseRecord(
            key: "job", state: .held, leaseId: "lease_b", version: 4, ttl: 30, deadline: at(130), firstSeenAt: at(100))
        #expect(t.write == expected)
        #expect(t.reply == .acquired(expected, usage: 6))
        // The expiry and the new acquisition are both recorded.
        #expect(t.effects.counters.aiFailed == 1)
        #expect(t.effects.counters.aiAcquired == 1)
        #expect(t.effects.counters.aiCharged == 1)
        #expect(t.effects.feed.map(\.type) == ["ai_failed", "ai_acquired"])
    }

    @Test func canceledLeaseIsReacquiredWithTheNextVersion() {
        let canceled = record(then: [.cancel(leaseId: "lease_a", reason: nil)])
        #expect(canceled.version == 2)
        let t = run(acquire("lease_b"), on: canceled, at: at(5), quota: Quota(plan: .starter, usage: 5))
        #expect(t.write?.state == .held)
        #expect(t.write?.leaseId == "lease_b")
        #expect(t.write?.version == 3)
        #expect(t.write?.doneAt == nil)
        #expect(t.write?.firstSeenAt == at(5))
        #expect(t.reply.kind == "acquired")
        #expect(t.effects.counters.aiCharged == 1)
        #expect(t.effects.counters.aiFailed == 0)
    }

    // MARK: expired / canceled → extend / complete / fail

    @Test(arguments: [
        LeaseCommand.extend(leaseId: "lease_a", ttl: 60),
        .complete(leaseId: "lease_a", result: nil, resultHash: nil),
        .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil),
        .cancel(leaseId: "lease_a", reason: nil),
    ])
    func expiredLeaseRefusesOwnerCalls(command: LeaseCommand) throws {
        let expired = try #require(LeaseEngine.settle(record(), now: at(61))).record
        let t = run(command, on: expired, at: at(70))
        #expect(t.write == nil)
        #expect(t.reply == .notActive(expired))
        #expect(t.effects == Effects())
    }

    @Test(arguments: [
        LeaseCommand.extend(leaseId: "lease_a", ttl: 60),
        .complete(leaseId: "lease_a", result: nil, resultHash: nil),
        .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil),
    ])
    func canceledLeaseRefusesOwnerCalls(command: LeaseCommand) {
        let canceled = record(then: [.cancel(leaseId: "lease_a", reason: nil)])
        let t = run(command, on: canceled, at: at(10))
        #expect(t.write == nil)
        #expect(t.reply == .notActive(canceled))
    }

    // MARK: failed + retryFailed

    @Test func retryFailedReacquiresAFailedLeaseOnly() {
        let failed = record(then: [.fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil)])
        let retried = run(acquire("lease_b", retryFailed: true), on: failed, at: at(10))
        #expect(retried.reply.kind == "acquired")
        #expect(retried.write?.state == .held)
        #expect(retried.write?.leaseId == "lease_b")
        #expect(retried.write?.version == 3)
        #expect(retried.write?.errorCode == nil)
        #expect(retried.effects.counters.aiCharged == 1)

        // Without the flag a failure stays final, and the flag does not reopen a completed lease.
        #expect(run(acquire("lease_b"), on: failed, at: at(10)).reply == .finished(failed, usage: 0))
        let completed = record(then: [.complete(leaseId: "lease_a", result: nil, resultHash: nil)])
        let t = run(acquire("lease_b", retryFailed: true), on: completed, at: at(10))
        #expect(t.write == nil)
        #expect(t.reply == .finished(completed, usage: 0))
    }

    // MARK: retention

    @Test func purgeSevenDaysAfterDoneAtLeavesAVersionedTombstone() throws {
        let metadata: JSONValue = .object(["run_id": .string("run_1")])
        let done = record(
            metadata: metadata,
            then: [
                .extend(leaseId: "lease_a", ttl: nil), .complete(leaseId: "lease_a", result: .int(1), resultHash: nil),
            ])
        #expect(done.version == 3)
        #expect(done.doneAt == at(2))
        let week = LeaseEngine.retentionSeconds
        #expect(week == 604_800)
        #expect(LeaseEngine.purge(done, now: at(2 + week, ms: -1)) == nil)
        let tombstone = try #require(LeaseEngine.purge(done, now: at(2 + week)))
        #expect(tombstone.state == .absent)
        #expect(tombstone.version == 3)
        #expect(tombstone.isVisible == false)
        #expect(tombstone.result == nil)
        #expect(tombstone.resultHash == nil)
        #expect(tombstone.runId == nil)
        #expect(tombstone.metadata == nil)
        // A tombstone is not purged again.
        #expect(LeaseEngine.purge(tombstone, now: at(30 * 86_400)) == nil)

        // Acquiring it continues the fencing counter.
        let t = run(acquire("lease_b"), on: tombstone, at: at(2 + week + 1))
        #expect(t.reply.kind == "acquired")
        #expect(t.write?.version == 4)
        #expect(t.write?.leaseId == "lease_b")
        #expect(t.write?.runId == nil)
    }

    @Test func heldLeaseIsNeverPurgedBeforeItsExpiryIsSettled() throws {
        let held = record(ttl: 60)
        // Purging a held record directly would lose the expiry count; the store settles first.
        #expect(LeaseEngine.purge(held, now: at(30)) == nil)
        #expect(LeaseEngine.purge(held, now: at(60 + LeaseEngine.retentionSeconds)) == nil)
        let settled = try #require(LeaseEngine.settle(held, now: at(61)))
        #expect(settled.effects.counters.aiFailed == 1)
        #expect(LeaseEngine.purge(settled.record, now: at(60 + LeaseEngine.retentionSeconds - 1)) == nil)
        let tombstone = try #require(LeaseEngine.purge(settled.record, now: at(60 + LeaseEngine.retentionSeconds)))
        #expect(tombstone.state == .absent)
        #expect(tombstone.version == 1)
        #expect(tombstone.doneAt == at(60))
    }

    // MARK: unknown key

    @Test(arguments: [
        LeaseCommand.extend(leaseId: "lease_a", ttl: 60),
        .complete(leaseId: "lease_a", result: nil, resultHash: nil),
        .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil),
        .cancel(leaseId: "lease_a", reason: nil),
    ])
    func unknownKeyIsNotFound(command: LeaseCommand) throws {
        let fresh = run(command, on: nil, at: t0)
        #expect(fresh.reply == .notFound)
        #expect(fresh.write == nil)
        #expect(fresh.effects == Effects())

        let done = record(then: [.cancel(leaseId: "lease_a", reason: nil)])
        let tombstone = try #require(LeaseEngine.purge(done, now: at(1 + LeaseEngine.retentionSeconds)))
        let gone = run(command, on: tombstone, at: at(1 + LeaseEngine.retentionSeconds))
        #expect(gone.reply == .notFound)
        #expect(gone.write == nil)
    }

    // MARK: plan limits

    @Test func freePlanAtItsAILimitIsRefusedWithoutWrite() {
        let t = run(acquire("lease_a"), on: nil, at: t0, quota: Quota(plan: .free, usage: 3_000))
        #expect(t.write == nil)
        #expect(t.reply == .overLimit(usage: 3_000, limit: 3_000))
        #expect(t.effects.counters.aiBlocked == 1)
        #expect(t.effects.counters.aiUsage == 0)
        #expect(t.effects.counters.aiCharged == 0)
        #expect(t.effects.feed.map(\.type) == ["ai_over_limit"])
        #expect(t.effects.feed.first?.fields["plan"] == .string("free"))

        // One below the limit still acquires and reaches it.
        let last = run(acquire("lease_a"), on: nil, at: t0, quota: Quota(plan: .free, usage: 2_999))
        #expect(last.reply.kind == "acquired")
        if case .acquired(_, let usage) = last.reply { #expect(usage == 3_000) }

        // Free re-acquisition of an expired lease is refused too, but the expiry is still recorded.
        let held = record()
        let expiredThenRefused = run(acquire("lease_b"), on: held, at: at(61), quota: Quota(plan: .free, usage: 3_000))
        #expect(expiredThenRefused.reply == .overLimit(usage: 3_000, limit: 3_000))
        #expect(expiredThenRefused.write?.state == .expired)
        #expect(expiredThenRefused.write?.version == 1)
        #expect(expiredThenRefused.effects.counters.aiFailed == 1)

        // Polls stay free and are answered even at the cap.
        let poll = run(acquire("lease_b"), on: held, at: at(10), quota: Quota(plan: .free, usage: 3_000))
        #expect(poll.reply == .busy(held, usage: 3_000))
    }

    @Test(arguments: [Plan.starter, .pro, .agency])
    func softCappedPlansKeepServingPastTheirLimit(plan: Plan) {
        let limit = plan.limits.aiPerMonth
        for usage in [limit, limit * 3] {
            let t = run(acquire("lease_a"), on: nil, at: t0, quota: Quota(plan: plan, usage: usage))
            #expect(t.reply.kind == "acquired")
            #expect(t.write?.version == 1)
            #expect(t.effects.counters.aiCharged == 1)
            #expect(t.effects.counters.aiBlocked == 0)
        }
    }

    // MARK: run events

    @Test func runEventsAreWrittenForAcquireAndFinishWhenRunIdIsGiven() throws {
        let metadata: JSONValue = .object(["run_id": .string("run_1"), "agent_id": .string("bot"), "x": .int(1)])
        let acquired = run(acquire("lease_a", ttl: 60, metadata: metadata), on: nil, at: t0)
        let held = try #require(acquired.write)
        #expect(held.runId == "run_1")
        #expect(held.agentId == "bot")
        #expect(held.metadata == metadata)
        let started = try #require(acquired.effects.runEvents.first)
        #expect(acquired.effects.runEvents.count == 1)
        #expect(started.runId == "run_1")
        #expect(started.type == "run_started")
        #expect(started.status == "started")
        #expect(started.ts == t0)
        #expect(started.leaseId == "lease_a")
        #expect(started.agentId == "bot")
        #expect(started.data?["version"] == .int(1))
        #expect(started.data?["ttl"] == .int(60))

        // Extending and polling are not timeline events.
        #expect(run(.extend(leaseId: "lease_a", ttl: nil), on: held, at: at(5)).effects.runEvents.isEmpty)
        #expect(run(acquire("lease_b"), on: held, at: at(5)).effects.runEvents.isEmpty)

        let finishes: [(LeaseCommand, String, String?)] = [
            (.complete(leaseId: "lease_a", result: nil, resultHash: nil), "completed", nil),
            (.fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil), "failed", "fn_error"),
            (.cancel(leaseId: "lease_a", reason: "bye"), "canceled", "bye"),
        ]
        for (command, status, message) in finishes {
            let t = run(command, on: held, at: at(12, ms: 500))
            #expect(t.effects.runEvents.count == 1)
            let finished = try #require(t.effects.runEvents.first)
            #expect(finished.runId == "run_1")
            #expect(finished.type == "run_finished")
            #expect(finished.status == status)
            #expect(finished.message == message)
            #expect(finished.leaseId == "lease_a")
            #expect(finished.agentId == "bot")
            #expect(finished.durationMs == 12_500)
            #expect(finished.ts == at(12, ms: 500))
            #expect(finished.data?["version"] == .int(2))
            // A replay does not write the event again.
            #expect(run(command, on: t.write, at: at(13)).effects.runEvents.isEmpty)
        }
    }

    @Test func noRunEventsWithoutRunId() {
        for metadata: JSONValue? in [nil, .null, .object(["agent_id": .string("bot")]), .object(["run_id": .int(5)])] {
            let acquired = run(acquire("lease_a", metadata: metadata), on: nil, at: t0)
            #expect(acquired.effects.runEvents.isEmpty)
            #expect(acquired.write?.runId == nil)
            let held = acquired.write!
            for command: LeaseCommand in [
                .complete(leaseId: "lease_a", result: nil, resultHash: nil),
                .fail(leaseId: "lease_a", errorCode: "fn_error", errorHash: nil),
                .cancel(leaseId: "lease_a", reason: nil),
            ] {
                let t = run(command, on: held, at: at(5))
                #expect(t.write != nil)
                #expect(t.effects.runEvents.isEmpty)
            }
        }
        // JSON null metadata is not stored.
        #expect(run(acquire("lease_a", metadata: .null), on: nil, at: t0).write?.metadata == nil)
    }

    // MARK: result_hash

    @Test func resultHashDefaultsToSHA256OfCanonicalJSON() {
        let result: JSONValue = .object(["b": .int(1), "a": .array([.string("x"), .bool(true), .null])])
        let t = run(.complete(leaseId: "lease_a", result: result, resultHash: nil), on: record(), at: at(5))
        let expected = SHA256.hex(#"{"a":["x",true,null],"b":1}"#)
        #expect(t.write?.resultHash == expected)
        #expect(t.write?.resultHash == result.canonicalHash)
        #expect(t.write?.result == result)
        #expect(t.effects.feed.first?.fields["result_hash"] == .string(expected))

        // No result, no hash; a client hash is kept as sent.
        let bare = run(.complete(leaseId: "lease_a", result: nil, resultHash: nil), on: record(), at: at(5))
        #expect(bare.write?.resultHash == nil)
        #expect(bare.effects.feed.first?.fields["result_hash"] == JSONValue.null)
        let sent = run(.complete(leaseId: "lease_a", result: result, resultHash: "client"), on: record(), at: at(5))
        #expect(sent.write?.resultHash == "client")
    }
}

@Suite struct FinishReplayRules {
    @Test func onlyTheIdenticalFinishReplays() {
        let t0 = Timestamp(seconds: 1_000)
        let acquired = LeaseEngine.apply(
            .acquire(.init(ttl: 60, newLeaseId: "lease_a")), to: nil, key: "k", now: t0,
            quota: Quota(plan: .agency, usage: 0))
        let first = LeaseEngine.apply(
            .complete(leaseId: "lease_a", result: .object(["a": .int(1)]), resultHash: nil), to: acquired.write,
            key: "k",
            now: t0, quota: Quota(plan: .agency, usage: 0))
        let same = LeaseEngine.apply(
            .complete(leaseId: "lease_a", result: .object(["a": .int(1)]), resultHash: nil), to: first.write, key: "k",
            now: t0, quota: Quota(plan: .agency, usage: 0))
        #expect(same.reply == .completed(first.write!, replay: true))
        let other = LeaseEngine.apply(
            .complete(leaseId: "lease_a", result: .object(["a": .int(2)]), resultHash: nil), to: first.write, key: "k",
            now: t0, quota: Quota(plan: .agency, usage: 0))
        #expect(other.reply == .notActive(first.write!))
        #expect(other.write == nil)
    }
}
