/// A request against one lease key, already validated and with its TTL made effective.
public enum LeaseCommand: Sendable, Equatable {
    case acquire(Acquire)
    /// `ttl: nil` keeps the lease's current TTL.
    case extend(leaseId: String, ttl: Int?)
    case complete(leaseId: String, result: JSONValue?, resultHash: String?)
    /// `result` is an extension once-exec uses to keep the failed run's record; official
    /// clients never send it.
    case fail(leaseId: String, errorCode: String, errorHash: String?, result: JSONValue? = nil)
    case cancel(leaseId: String, reason: String?)

    public struct Acquire: Sendable, Equatable {
        public var ttl: Int
        public var metadata: JSONValue?
        /// The token the new holder gets if this call acquires. Made by the caller so that the
        /// engine stays deterministic.
        public var newLeaseId: String
        /// Extension used by `once-exec --retry-failed`: a failed key may be acquired again.
        /// Official clients never send it, so for them `failed` stays final.
        public var retryFailed: Bool

        public init(ttl: Int, metadata: JSONValue? = nil, newLeaseId: String, retryFailed: Bool = false) {
            self.ttl = ttl
            self.metadata = metadata
            self.newLeaseId = newLeaseId
            self.retryFailed = retryFailed
        }
    }

    var name: String {
        switch self {
        case .acquire: "lease"
        case .extend: "extend"
        case .complete: "complete"
        case .fail: "fail"
        case .cancel: "cancel"
        }
    }
}

/// The engine's answer to a ``LeaseCommand``; the HTTP layer maps each case to a status and body.
public enum LeaseReply: Sendable, Equatable {
    /// This call got the lease.
    case acquired(LeaseRecord, usage: Int64)
    /// Someone else holds it (`polling`).
    case busy(LeaseRecord, usage: Int64)
    /// It already finished (`completed` or `failed`), and stays so.
    case finished(LeaseRecord, usage: Int64)
    /// A hard-capped plan used its month (402).
    case overLimit(usage: Int64, limit: Int64)
    case extended(LeaseRecord)
    /// `replay` is true when an identical earlier call already did this.
    case completed(LeaseRecord, replay: Bool)
    case failed(LeaseRecord, replay: Bool)
    case canceled(LeaseRecord, replay: Bool)
    /// The lease is held, but not by the caller's `lease_id` (409 `lease_mismatch`).
    case mismatch(LeaseRecord)
    /// The lease is not held any more (409 `lease_not_active`).
    case notActive(LeaseRecord)
    /// No such key (404).
    case notFound
}

/// Result of applying a command: what to store and what to answer.
public struct LeaseTransition: Sendable, Equatable {
    /// The record to store, or nil when nothing is to be written.
    public var write: LeaseRecord?
    public var reply: LeaseReply
    public var effects: Effects

    public init(write: LeaseRecord?, reply: LeaseReply, effects: Effects = Effects()) {
        self.write = write
        self.reply = reply
        self.effects = effects
    }
}
