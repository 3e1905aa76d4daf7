import GRDB
import OnceCore

extension SQLiteStore {
    public func transactLease<Reply: Sendable & Equatable>(
        accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        _ decide: @escaping @Sendable (LeaseRecord?, TransactionInput) -> LeaseTransition<Reply>
    ) async throws -> Decided<LeaseTransition<Reply>> {
        if let answered = try await answerFromRead(
            accountId: accountId, requestId: requestId, apiKeyId: apiKeyId, kind: .ai,
            fetch: { db in try LeaseRow.fetch(db, accountId: accountId, key: key) }, decide: decide,
            readOnly: { $0.write == nil && $0.effects.runEvents.isEmpty },
            effects: \.effects)
        {
            return answered
        }
        return try await write { db in
            let now = self.clock()
            let stored = try LeaseRow.fetch(db, accountId: accountId, key: key)
            let input = TransactionInput(now: now, usage: try UsageRow.usage(db, accountId, .ai, now.month))
            let transition = decide(stored, input)
            if let record = transition.write {
                try LeaseRow(accountId: accountId, record).insert(db, onConflict: .replace)
            }
            try EffectsWriter.persist(transition.effects, db, accountId: accountId, now: now, requestId: requestId)
            return Decided(transition, now: now)
        }
    }

    public func transactCheckLock(
        accountId: Int64, key: String, requestId: String?, apiKeyId: Int64?,
        _ decide: @escaping @Sendable (CheckLockRecord?, TransactionInput) -> CheckLockTransition
    ) async throws -> Decided<CheckLockTransition> {
        if let answered = try await answerFromRead(
            accountId: accountId, requestId: requestId, apiKeyId: apiKeyId, kind: .make,
            fetch: { db in try CheckLockRow.fetch(db, accountId: accountId, key: key) }, decide: decide,
            readOnly: { $0.write == nil && $0.effects.runEvents.isEmpty },
            effects: \.effects)
        {
            return answered
        }
        return try await write { db in
            let now = self.clock()
            let existing = try CheckLockRow.fetch(db, accountId: accountId, key: key)
            let input = TransactionInput(now: now, usage: try UsageRow.usage(db, accountId, .make, now.month))
            let transition = decide(existing, input)
            if let record = transition.write {
                try CheckLockRow(accountId: accountId, record).insert(db, onConflict: .replace)
            }
            try EffectsWriter.persist(transition.effects, db, accountId: accountId, now: now, requestId: requestId)
            return Decided(transition, now: now)
        }
    }

    /// A usage that exhausts every plan's quota.
    private static let exhaustingUsage = Int64.max / 4

    private static func blocked(_ effects: Effects) -> Int64 {
        effects.counters.makeBlocked + effects.counters.aiBlocked
    }

    /// Answers a transition from a read when it writes nothing but counters and feed rows (a
    /// duplicate check-lock, a `polling` lease, a replayed completion): no write transaction,
    /// no fsync; the counters and feed rows are deferred (``DeferredActivity``) to the writer's
    /// next batch. Linearizable at the read: the reader sees every commit already answered, and
    /// a record it finds live changes only through a write, which this path never answers.
    /// The decision must not depend on the quota, which only a serialized write reads exactly:
    /// nothing may be blocked by it, even with the quota exhausted (so hard-capped plans take
    /// the write path). Otherwise, and when the transition writes, nil: the caller writes.
    ///
    /// `apiKeyId` is re-checked in the same read (``SQLiteStore/requireLiveKey(_:_:)``): the
    /// write path that may follow always comes after it, so no transition of a key revoked
    /// before the request began is answered or written.
    func answerFromRead<Record: Sendable, Transition: Sendable>(
        accountId: Int64, requestId: String?, apiKeyId: Int64?, kind: UsageKind,
        fetch: @escaping @Sendable (Database) throws -> Record?,
        decide: (Record?, TransactionInput) -> Transition,
        readOnly: (Transition) -> Bool, effects: (Transition) -> Effects
    ) async throws -> Decided<Transition>? {
        let (stored, input) = try await read { db in
            if let apiKeyId { try Self.requireLiveKey(db, apiKeyId) }
            let now = self.clock()
            // Deferred usage counts; read after the snapshot so that a flush committed since is
            // at worst counted twice, never missed.
            let stored = try UsageRow.usage(db, accountId, kind, now.month)
            let usage = stored + self.activity.pendingUsage(accountId: accountId, month: now.month, kind: kind)
            return (try fetch(db), TransactionInput(now: now, usage: usage))
        }
        let transition = decide(stored, input)
        guard readOnly(transition), Self.blocked(effects(transition)) == 0 else { return nil }
        let exhausted = decide(stored, TransactionInput(now: input.now, usage: Self.exhaustingUsage))
        guard Self.blocked(effects(exhausted)) == 0 else { return nil }
        let deferred = effects(transition)
        if !deferred.counters.isZero || !deferred.feed.isEmpty {
            let entry = DeferredActivity.Entry(
                accountId: accountId, now: input.now, requestId: requestId, effects: deferred)
            guard let schedule = activity.add(entry) else { return nil }
            // Nothing else may be written soon: an empty write makes a batch that carries them.
            if schedule { Task { try? await self.write { _ in } } }
        }
        return Decided(transition, now: input.now)
    }

    /// Writes deferred counters and feed rows now, so readers in this process see them (and
    /// before a clean shutdown, so that only a crash can lose them).
    package func flushActivity() async throws {
        if !activity.isEmpty { try await write { _ in } }
    }

    public func readLease(accountId: Int64, key: String) async throws -> Decided<LeaseRecord?> {
        try await read { db in Decided(try LeaseRow.fetch(db, accountId: accountId, key: key), now: self.clock()) }
    }

    public func leaseKeys(_ selection: LeaseSelection, limit: Int) async throws -> [LeaseKey] {
        let now = clock()
        return try await read { db in
            let rows: [Row]
            switch selection {
            case .heldPastDeadline:
                rows = try Row.fetchAll(
                    db, sql: "SELECT account_id, key FROM leases WHERE state = 'held' AND deadline <= ? LIMIT ?",
                    arguments: [now.milliseconds, limit])
            case .finished(let age):
                let cutoff = now.adding(seconds: -age)
                rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT account_id, key FROM leases
                        WHERE state IN ('completed', 'failed', 'expired', 'canceled') AND done_at <= ? LIMIT ?
                        """, arguments: [cutoff.milliseconds, limit])
            }
            return try rows.map {
                LeaseKey(
                    accountId: try $0.decode(Int64.self, forColumn: "account_id"),
                    key: try $0.decode(String.self, forColumn: "key"))
            }
        }
    }

    public func removeExpired(_ rows: ExpiringRows, limit: Int) async throws -> Int {
        let now = clock()
        return try await write { db in
            switch rows {
            case .checkLocks:
                try db.execute(
                    sql: """
                        DELETE FROM check_locks WHERE (account_id, key) IN
                            (SELECT account_id, key FROM check_locks WHERE expires_at <= ? LIMIT ?)
                        """, arguments: [now.milliseconds, limit])
                return db.changesCount
            case .feedEvents(let age):
                let cutoff = now.adding(seconds: -age)
                try db.execute(
                    sql: "DELETE FROM feed_events WHERE id IN (SELECT id FROM feed_events WHERE ts <= ? LIMIT ?)",
                    arguments: [cutoff.milliseconds, limit])
                return db.changesCount
            case .runEvents(let age):
                let cutoff = now.adding(seconds: -age)
                try db.execute(
                    sql: "DELETE FROM run_events WHERE id IN (SELECT id FROM run_events WHERE created_at <= ? LIMIT ?)",
                    arguments: [cutoff.milliseconds, limit])
                let removed = db.changesCount
                if removed > 0 {
                    // A run whose every event is gone leaves the list too.
                    try db.execute(
                        sql: """
                            DELETE FROM runs WHERE NOT EXISTS (SELECT 1 FROM run_events e
                                WHERE e.account_id = runs.account_id AND e.run_id = runs.run_id)
                            """)
                }
                return removed
            case .agentLogs(let age):
                let cutoff = now.adding(seconds: -age)
                try db.execute(
                    sql: "DELETE FROM agent_logs WHERE id IN (SELECT id FROM agent_logs WHERE ts <= ? LIMIT ?)",
                    arguments: [cutoff.milliseconds, limit])
                return db.changesCount
            }
        }
    }
}
