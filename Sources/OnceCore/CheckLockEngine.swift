/// A live check-lock (API §4).
public struct CheckLockRecord: Sendable, Equatable {
    public var key: String
    public var ttl: Int
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var metadata: JSONValue?

    public init(key: String, ttl: Int, createdAt: Timestamp, expiresAt: Timestamp, metadata: JSONValue? = nil) {
        self.key = key
        self.ttl = ttl
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.metadata = metadata
    }
}

public enum CheckLockReply: Sendable, Equatable {
    case locked(ttl: Int)
    case duplicate(ttl: Int, firstSeenAt: Timestamp)
    case overLimit(usage: Int64, limit: Int64)
}

public struct CheckLockTransition: Sendable, Equatable {
    /// The lock to store (replacing an expired one), or nil to write nothing.
    public var write: CheckLockRecord?
    public var reply: CheckLockReply
    public var effects: Effects
}

/// Set-if-absent with expiry. A duplicate neither extends the lock nor moves `first_seen_at`
/// (§15 row 2), so a retry storm cannot keep a key locked forever.
public enum CheckLockEngine {
    public static func apply(
        key: String, ttl: Int, metadata: JSONValue?, existing: CheckLockRecord?, now: Timestamp, quota: Quota
    ) -> CheckLockTransition {
        var effects = Effects()
        effects.counters.makeRequests = 1
        let plan = quota.plan
        let limit = plan.limits.makePerMonth
        if quota.exhausted(.make) {
            effects.counters.makeBlocked = 1
            effects.feed.append(
                FeedEvent(
                    ts: now, type: "over_limit", key: key,
                    fields: ["plan": .string(plan.rawValue), "usage": .int(quota.usage), "limit": .int(limit)]))
            return CheckLockTransition(
                write: nil, reply: .overLimit(usage: quota.usage, limit: limit), effects: effects)
        }
        effects.counters.checksTotal = 1
        if let existing, existing.expiresAt > now {
            effects.counters.makeUsage = 1
            effects.counters.duplicatesBlocked = 1
            effects.feed.append(
                FeedEvent(
                    ts: now, type: "duplicate", key: key,
                    fields: [
                        "first_seen_at": .string(existing.createdAt.iso8601), "plan": .string(plan.rawValue),
                        "usage": .int(quota.usage + 1), "limit": .int(limit),
                    ]))
            return CheckLockTransition(
                write: nil, reply: .duplicate(ttl: existing.ttl, firstSeenAt: existing.createdAt), effects: effects)
        }
        effects.counters.locksCreated = 1
        effects.feed.append(
            FeedEvent(
                ts: now, type: "locked", key: key,
                fields: ["plan": .string(plan.rawValue), "usage": .int(quota.usage), "limit": .int(limit)]))
        let metadata = metadata.flatMap { $0.isNull ? nil : $0 }
        let record = CheckLockRecord(
            key: key, ttl: ttl, createdAt: now, expiresAt: now.adding(seconds: ttl), metadata: metadata)
        return CheckLockTransition(write: record, reply: .locked(ttl: ttl), effects: effects)
    }
}
