import OnceCore

/// The lease service: what every store would otherwise repeat, written once over the two
/// transition primitives. It runs the pure engines, decides what a reader may see, and sweeps.
extension OnceStorage {
    public var recordsActivity: Bool { true }

    // MARK: Check-locks and leases

    public func checkLock(
        account: AccountContext, key: String, ttl: Int, metadata: JSONValue?, requestId: String?
    ) async throws -> CheckLockReply {
        let plan = account.plan
        let keepsActivity = recordsActivity
        return try await transactCheckLock(
            accountId: account.accountId, key: key, requestId: requestId, apiKeyId: account.apiKeyId
        ) {
            existing, input in
            var transition = CheckLockEngine.apply(
                key: key, ttl: ttl, metadata: metadata, existing: existing, now: input.now,
                quota: Quota(plan: plan, usage: input.usage))
            if !keepsActivity { transition.effects = transition.effects.withoutActivity }
            return transition
        }.value.reply
    }

    /// Acquires (or polls) the lease of `key`, appending `runEvents` in the same transaction.
    public func acquire(
        account: AccountContext, key: String, _ acquire: LeaseCommand.Acquire, requestId: String?,
        runEvents: [RunEvent] = []
    ) async throws -> Decided<AcquireReply> {
        let plan = account.plan
        return try await transition(account: account, key: key, requestId: requestId, runEvents: runEvents) {
            stored, input in
            LeaseEngine.acquire(
                acquire, to: stored, key: key, now: input.now, quota: Quota(plan: plan, usage: input.usage))
        }
    }

    /// Extends, completes, fails or cancels the lease of `key`, appending `runEvents` in the
    /// same transaction (one commit, one fsync), and `ifApplied` and `attached` too when the
    /// mutation changed the lease (``MutationReply/applied``: not on a refusal, nor on the
    /// replay of a finish already stored). `attached` events go under the lease's own run id
    /// (``LeaseEngine/attached(_:to:now:)``), which the caller need not know: once-server's
    /// `run_events` extension; the same function applied to the answer says what was written.
    public func mutate(
        account: AccountContext, key: String, _ mutation: LeaseMutation, requestId: String?,
        runEvents: [RunEvent] = [], ifApplied: [RunEvent] = [], attached: [AttachedRunEvent] = []
    ) async throws -> Decided<MutationReply> {
        try await transition(account: account, key: key, requestId: requestId, runEvents: runEvents) {
            stored, input in
            var transition = LeaseEngine.mutate(mutation, to: stored, now: input.now)
            if transition.reply.applied {
                // The holder's account of its run comes before the engine's `run_finished`
                // (same time, lower ids): the timeline reads as it happened.
                transition.effects.runEvents =
                    LeaseEngine.attached(attached, to: transition.reply, now: input.now)
                    + transition.effects.runEvents + ifApplied
            }
            return transition
        }
    }

    /// Any command, answered with the flat ``LeaseReply`` (for code that drives commands
    /// generically; the fronts use ``acquire(account:key:_:requestId:runEvents:)`` and
    /// ``mutate(account:key:_:requestId:runEvents:)``).
    public func lease(
        account: AccountContext, key: String, command: LeaseCommand, requestId: String?, runEvents: [RunEvent] = []
    ) async throws -> LeaseReply {
        let plan = account.plan
        return try await transition(account: account, key: key, requestId: requestId, runEvents: runEvents) {
            stored, input in
            LeaseEngine.apply(
                command, to: stored, key: key, now: input.now, quota: Quota(plan: plan, usage: input.usage))
        }.value
    }

    private func transition<Reply: Sendable & Equatable>(
        account: AccountContext, key: String, requestId: String?, runEvents: [RunEvent],
        _ decide: @escaping @Sendable (LeaseRecord?, TransactionInput) -> LeaseTransition<Reply>
    ) async throws -> Decided<Reply> {
        let keepsActivity = recordsActivity
        let decided = try await transactLease(
            accountId: account.accountId, key: key, requestId: requestId, apiKeyId: account.apiKeyId
        ) {
            stored, input in
            var transition = decide(stored, input)
            transition.effects.runEvents += runEvents
            if !keepsActivity { transition.effects = transition.effects.withoutActivity }
            return transition
        }
        return Decided(decided.value.reply, now: decided.now)
    }

    /// The record as a reader sees it now (expiry applied), or nil when absent.
    public func leaseRecord(account: AccountContext, key: String) async throws -> LeaseRecord? {
        try await leaseView(account: account, key: key).value
    }

    /// ``leaseRecord(account:key:)`` with the store's clock at the read.
    public func leaseView(account: AccountContext, key: String) async throws -> Decided<LeaseRecord?> {
        let read = try await readLease(accountId: account.accountId, key: key)
        guard let record = read.value, record.isVisible else { return Decided(nil, now: read.now) }
        return Decided(LeaseEngine.view(record, now: read.now), now: read.now)
    }

    // MARK: Runs

    public func appendRunEvent(account: AccountContext, _ event: RunEvent) async throws -> Int64 {
        try await appendRunEvents(accountId: account.accountId, [event], requestId: event.reqId).first ?? 0
    }

    // MARK: Retention

    /// One bounded pass of retention; returns how much it removed. Call repeatedly until zero.
    /// Each lease is settled or purged in its own short transaction through the same primitive
    /// requests use, so the sweep never holds a lock for long and shares the requests' locking;
    /// with several replicas on one database only one of them sweeps at a time.
    public func sweep(batchSize: Int = 500) async throws -> SweepReport {
        try await exclusively { try await self.sweepPass(batchSize: batchSize) } ?? SweepReport()
    }

    private func sweepPass(batchSize: Int) async throws -> SweepReport {
        var report = SweepReport()
        let keepsActivity = recordsActivity
        for address in try await leaseKeys(.heldPastDeadline, limit: batchSize) {
            let settled = try await transactLease(
                accountId: address.accountId, key: address.key, requestId: nil, apiKeyId: nil
            ) {
                stored, input in
                // Re-checked under the lock: a renewal may have won the race.
                guard let stored, let settled = LeaseEngine.settle(stored, now: input.now) else {
                    return LeaseTransition(write: nil, reply: false)
                }
                let effects = keepsActivity ? settled.effects : settled.effects.withoutActivity
                return LeaseTransition(write: settled.record, reply: true, effects: effects)
            }
            if settled.value.write != nil { report.leasesExpired += 1 }
        }
        for address in try await leaseKeys(.finished(olderThanSeconds: Retention.leaseSeconds), limit: batchSize) {
            let purged = try await transactLease(
                accountId: address.accountId, key: address.key, requestId: nil, apiKeyId: nil
            ) {
                stored, input in
                guard let stored, let tombstone = LeaseEngine.purge(stored, now: input.now) else {
                    return LeaseTransition(write: nil, reply: false)
                }
                return LeaseTransition(write: tombstone, reply: true)
            }
            if purged.value.write != nil { report.leasesPurged += 1 }
        }
        report.checkLocksRemoved = try await removeExpired(.checkLocks, limit: batchSize)
        report.feedEventsRemoved = try await removeExpired(
            .feedEvents(olderThanSeconds: Retention.feedSeconds), limit: batchSize)
        report.runEventsRemoved = try await removeExpired(
            .runEvents(olderThanSeconds: Retention.runEventSeconds), limit: batchSize)
        report.agentLogsRemoved = try await removeExpired(
            .agentLogs(olderThanSeconds: Retention.agentLogSeconds), limit: batchSize)
        return report
    }
}

extension Effects {
    /// The same effects without usage counters, daily metrics and feed rows (run events stay).
    var withoutActivity: Effects {
        var effects = Effects()
        effects.runEvents = runEvents
        return effects
    }
}
