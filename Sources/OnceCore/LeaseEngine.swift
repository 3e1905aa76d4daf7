/// The lease rules of API §5.9, as pure functions of (record, command, now).
///
/// Nothing here does I/O or reads a clock: stores load the record, call ``apply(_:to:now:quota:)``
/// inside one transaction, and write back what it returns. That keeps the rules identical for
/// every store and for `once-exec`'s local mode, and lets tests walk every transition.
public enum LeaseEngine {
    /// Seconds a poller is told to wait while another caller holds the lease.
    public static let pollInterval = 5

    /// The `retry_after_sec` for a poller of the held `record` at `now`: ``pollInterval``, or
    /// the seconds left to the lease's deadline when those are fewer (at least 1).
    ///
    /// Why: the deadline is the one thing the server knows about when a held key will settle.
    /// A poller told 5 s about a lease that ends in 2 s (a short TTL, or a holder that stopped
    /// heartbeating) would sleep 3 s past the moment the key expires and can be acquired
    /// again. A live holder's heartbeats keep pushing the deadline out, so its pollers keep the
    /// full interval.
    public static func pollHint(for record: LeaseRecord, now: Timestamp) -> Int {
        min(pollInterval, max(1, now.secondsUntil(record.deadline)))
    }
    public static let expiredErrorCode = "lease_expired"

    /// Turns a held lease whose deadline has passed into an expired one. Stores call this (via
    /// ``apply(_:to:now:quota:)`` or the sweep) so that an expiry is recorded exactly once.
    public static func settle(_ record: LeaseRecord, now: Timestamp) -> (record: LeaseRecord, effects: Effects)? {
        guard record.state == .held, record.deadline <= now else { return nil }
        var expired = record
        expired.state = .expired
        expired.doneAt = record.deadline
        expired.errorCode = expiredErrorCode
        var effects = Effects()
        effects.counters.aiFailed = 1
        effects.feed.append(
            FeedEvent(
                ts: now, type: "ai_failed", key: record.key,
                fields: [
                    "lease_id": .string(record.leaseId), "version": .int(record.version),
                    "error_code": .string(expiredErrorCode), "done_at": .string(record.deadline.iso8601),
                ]))
        if let runId = record.runId {
            effects.runEvents.append(
                RunEvent(
                    runId: runId, type: "run_finished", ts: now, status: "failed", leaseId: record.leaseId,
                    agentId: record.agentId, message: expiredErrorCode,
                    data: .object(["key": .string(record.key), "version": .int(record.version)])))
        }
        return (expired, effects)
    }

    /// How a record looks at `now` to a reader, without recording anything.
    public static func view(_ record: LeaseRecord, now: Timestamp) -> LeaseRecord {
        settle(record, now: now)?.record ?? record
    }

    /// Any command, answered with the flat ``LeaseReply``.
    public static func apply(
        _ command: LeaseCommand, to stored: LeaseRecord?, key: String, now: Timestamp, quota: Quota
    ) -> LeaseTransition<LeaseReply> {
        switch command {
        case .acquire(let a): acquire(a, to: stored, key: key, now: now, quota: quota).map(LeaseReply.init)
        case .extend(let id, let ttl): mutate(.extend(leaseId: id, ttl: ttl), to: stored, now: now).map(LeaseReply.init)
        case .complete(let id, let result, let hash):
            mutate(.complete(leaseId: id, result: result, resultHash: hash), to: stored, now: now).map(LeaseReply.init)
        case .fail(let id, let code, let hash, let result):
            mutate(.fail(leaseId: id, errorCode: code, errorHash: hash, result: result), to: stored, now: now)
                .map(LeaseReply.init)
        case .cancel(let id, let reason):
            mutate(.cancel(leaseId: id, reason: reason), to: stored, now: now).map(LeaseReply.init)
        }
    }

    public static func acquire(
        _ acquire: LeaseCommand.Acquire, to stored: LeaseRecord?, key: String, now: Timestamp, quota: Quota
    ) -> LeaseTransition<AcquireReply> {
        settling(stored, now: now) { applyAcquire(acquire, to: $0, key: key, now: now, quota: quota) }
    }

    public static func mutate(_ mutation: LeaseMutation, to stored: LeaseRecord?, now: Timestamp)
        -> LeaseTransition<MutationReply>
    {
        settling(stored, now: now) { record in
            switch mutation {
            case .extend(let leaseId, let ttl):
                return applyExtend(leaseId: leaseId, ttl: ttl, to: record, now: now)
            case .complete(let leaseId, let result, let resultHash):
                return applyFinish(mutation, .completed, leaseId: leaseId, to: record, now: now) { r in
                    r.state = .completed
                    r.result = result
                    r.resultHash = resultHash ?? result.map { $0.canonicalHash }
                }
            case .fail(let leaseId, let errorCode, let errorHash, let result):
                return applyFinish(mutation, .failed, leaseId: leaseId, to: record, now: now) { r in
                    r.state = .failed
                    r.errorCode = errorCode
                    r.result = result
                    r.resultHash = errorHash
                }
            case .cancel(let leaseId, _):
                return applyFinish(mutation, .canceled, leaseId: leaseId, to: record, now: now) { r in
                    r.state = .canceled
                }
            }
        }
    }

    /// Settles an expiry found on the way, then runs `body` on the settled record.
    private static func settling<Reply>(
        _ stored: LeaseRecord?, now: Timestamp, _ body: (LeaseRecord?) -> LeaseTransition<Reply>
    ) -> LeaseTransition<Reply> {
        var record = stored
        var effects = Effects()
        var changed = false
        if let current = record, let settled = settle(current, now: now) {
            record = settled.record
            effects = settled.effects
            changed = true
        }
        var transition = body(record)
        // An expiry found on the way is written even when the command itself changes nothing.
        if transition.write == nil, changed { transition.write = record }
        transition.effects = effects + transition.effects
        return transition
    }

    private static func applyAcquire(
        _ acquire: LeaseCommand.Acquire, to record: LeaseRecord?, key: String, now: Timestamp, quota: Quota
    ) -> LeaseTransition<AcquireReply> {
        var effects = Effects()
        effects.counters.aiRequests = 1
        let state = record?.state ?? .absent
        let reusable: Bool =
            switch state {
            case .absent, .expired, .canceled: true
            case .failed: acquire.retryFailed
            case .held, .completed: false
            }
        guard reusable else {
            // Polls and terminal answers are free of charge.
            let existing = record!
            effects.counters.aiPolling = 1
            let reply: AcquireReply =
                existing.state == .held
                ? .busy(existing, usage: quota.usage) : .finished(existing, usage: quota.usage)
            if existing.state == .held {
                effects.feed.append(
                    FeedEvent(
                        ts: now, type: "ai_in_progress", key: key,
                        fields: ["version": .int(existing.version), "charged": .int(0), "usage": .int(quota.usage)]))
            }
            return LeaseTransition(write: nil, reply: reply, effects: effects)
        }
        if quota.exhausted(.ai) {
            let limit = quota.plan.limits.aiPerMonth
            effects.counters.aiBlocked = 1
            effects.feed.append(
                FeedEvent(
                    ts: now, type: "ai_over_limit", key: key,
                    fields: ["usage": .int(quota.usage), "limit": .int(limit), "plan": .string(quota.plan.rawValue)]))
            return LeaseTransition(write: nil, reply: .overLimit(usage: quota.usage, limit: limit), effects: effects)
        }
        let metadata = acquire.metadata.flatMap { $0.isNull ? nil : $0 }
        let acquired = LeaseRecord(
            key: key, state: .held, leaseId: acquire.newLeaseId, version: (record?.version ?? 0) + 1,
            ttl: acquire.ttl, deadline: now.adding(seconds: acquire.ttl), firstSeenAt: now,
            runId: metadata?["run_id"]?.stringValue, agentId: metadata?["agent_id"]?.stringValue, metadata: metadata)
        let usage = quota.usage + 1
        effects.counters.aiUsage = 1
        effects.counters.aiCharged = 1
        effects.counters.aiAcquired = 1
        effects.feed.append(
            FeedEvent(
                ts: now, type: "ai_acquired", key: key,
                fields: [
                    "lease_id": .string(acquired.leaseId), "version": .int(acquired.version), "charged": .int(1),
                    "usage": .int(usage), "limit": .int(quota.plan.limits.aiPerMonth),
                ]))
        if let runId = acquired.runId {
            effects.runEvents.append(
                RunEvent(
                    runId: runId, type: "run_started", ts: now, status: "started", leaseId: acquired.leaseId,
                    agentId: acquired.agentId,
                    data: .object([
                        "key": .string(key), "version": .int(acquired.version), "ttl": .int(Int64(acquired.ttl)),
                    ])))
        }
        return LeaseTransition(write: acquired, reply: .acquired(acquired, usage: usage), effects: effects)
    }

    private static func applyExtend(leaseId: String, ttl: Int?, to record: LeaseRecord?, now: Timestamp)
        -> LeaseTransition<MutationReply>
    {
        guard let record, record.isVisible else { return LeaseTransition(write: nil, reply: .notFound) }
        guard record.state == .held else { return LeaseTransition(write: nil, reply: .notActive(record)) }
        guard record.leaseId == leaseId else { return LeaseTransition(write: nil, reply: .mismatch(record)) }
        var extended = record
        extended.ttl = ttl ?? record.ttl
        extended.deadline = now.adding(seconds: extended.ttl)
        extended.version += 1
        var effects = Effects()
        effects.feed.append(
            FeedEvent(
                ts: now, type: "ai_extended", key: record.key,
                fields: ["lease_id": .string(leaseId), "version": .int(extended.version)]))
        return LeaseTransition(write: extended, reply: .extended(extended), effects: effects)
    }

    /// complete, fail and cancel share their guards: the caller must hold the live lease, and
    /// the same call repeated after it succeeded is answered again without a change.
    private static func applyFinish(
        _ command: LeaseMutation, _ finishedState: LeaseState, leaseId: String, to record: LeaseRecord?,
        now: Timestamp, mutate: (inout LeaseRecord) -> Void
    ) -> LeaseTransition<MutationReply> {
        guard let record, record.isVisible else { return LeaseTransition(write: nil, reply: .notFound) }
        if record.state == finishedState, record.leaseId == leaseId {
            // Only the same call is replayed (clients retry lost answers); a different result or
            // error code for a finished lease is a conflict, and the stored outcome stays.
            guard isSameFinish(command, as: record) else {
                return LeaseTransition(write: nil, reply: .notActive(record))
            }
            return LeaseTransition(write: nil, reply: reply(for: finishedState, record, replay: true))
        }
        guard record.state == .held else { return LeaseTransition(write: nil, reply: .notActive(record)) }
        guard record.leaseId == leaseId else { return LeaseTransition(write: nil, reply: .mismatch(record)) }
        var finished = record
        mutate(&finished)
        finished.version += 1
        finished.doneAt = now
        var effects = Effects()
        var fields: [String: JSONValue] = [
            "lease_id": .string(leaseId), "version": .int(finished.version), "done_at": .string(now.iso8601),
        ]
        var runStatus = "canceled"
        switch finishedState {
        case .completed:
            effects.counters.aiCompleted = 1
            fields["result_hash"] = finished.resultHash.map { .string($0) } ?? .null
            runStatus = "completed"
        case .failed:
            effects.counters.aiFailed = 1
            fields["error_code"] = finished.errorCode.map { .string($0) } ?? .null
            runStatus = "failed"
        default:
            break
        }
        effects.feed.append(FeedEvent(ts: now, type: "ai_\(finishedState.rawValue)", key: record.key, fields: fields))
        if let runId = record.runId {
            var message: String? = nil
            if case .fail(_, let code, _, _) = command { message = code }
            if case .cancel(_, let reason) = command { message = reason }
            effects.runEvents.append(
                RunEvent(
                    runId: runId, type: "run_finished", ts: now, status: runStatus, leaseId: leaseId,
                    agentId: record.agentId, message: message,
                    durationMs: now.milliseconds - record.firstSeenAt.milliseconds,
                    data: .object(["key": .string(record.key), "version": .int(finished.version)])))
        }
        return LeaseTransition(
            write: finished, reply: reply(for: finishedState, finished, replay: false), effects: effects)
    }

    private static func isSameFinish(_ command: LeaseMutation, as record: LeaseRecord) -> Bool {
        switch command {
        case .complete(_, let result, let resultHash):
            return (resultHash ?? result.map { $0.canonicalHash }) == record.resultHash
        case .fail(_, let errorCode, _, _):
            return errorCode == record.errorCode
        default:
            return true
        }
    }

    private static func reply(for state: LeaseState, _ record: LeaseRecord, replay: Bool) -> MutationReply {
        switch state {
        case .completed: .completed(record, replay: replay)
        case .failed: .failed(record, replay: replay)
        default: .canceled(record, replay: replay)
        }
    }

    /// Retention (API §5.9 last row): seven days after a lease finished (or expired) its data
    /// goes, leaving a tombstone that keeps the fencing counter.
    public static let retentionSeconds = Retention.leaseSeconds

    public static func purge(_ record: LeaseRecord, now: Timestamp) -> LeaseRecord? {
        // Only finished records age out; a held one must be settled (and its expiry counted) first.
        let settled = record
        guard settled.state != .held, settled.state != .absent, let doneAt = settled.doneAt,
            doneAt.adding(seconds: retentionSeconds) <= now
        else { return nil }
        return LeaseRecord(
            key: record.key, state: .absent, leaseId: record.leaseId, version: record.version, ttl: record.ttl,
            deadline: record.deadline, firstSeenAt: record.firstSeenAt, doneAt: doneAt)
    }
}
