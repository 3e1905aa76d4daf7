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

/// A command against a lease somebody already holds (or held): everything but acquire.
public enum LeaseMutation: Sendable, Equatable {
    /// `ttl: nil` keeps the lease's current TTL.
    case extend(leaseId: String, ttl: Int?)
    case complete(leaseId: String, result: JSONValue?, resultHash: String?)
    case fail(leaseId: String, errorCode: String, errorHash: String?, result: JSONValue? = nil)
    case cancel(leaseId: String, reason: String?)
}

extension LeaseCommand {
    /// The mutation this command is, or nil for acquire.
    public var mutation: LeaseMutation? {
        switch self {
        case .acquire: nil
        case .extend(let id, let ttl): .extend(leaseId: id, ttl: ttl)
        case .complete(let id, let result, let hash): .complete(leaseId: id, result: result, resultHash: hash)
        case .fail(let id, let code, let hash, let result):
            .fail(leaseId: id, errorCode: code, errorHash: hash, result: result)
        case .cancel(let id, let reason): .cancel(leaseId: id, reason: reason)
        }
    }
}

/// What an acquire (`/ai/lease`, a mode-A run, once-exec's start) can answer.
public enum AcquireReply: Sendable, Equatable {
    /// This call got the lease.
    case acquired(LeaseRecord, usage: Int64)
    /// Someone else holds it (`polling`).
    case busy(LeaseRecord, usage: Int64)
    /// It already finished (`completed` or `failed`), and stays so.
    case finished(LeaseRecord, usage: Int64)
    /// A hard-capped plan used its month (402).
    case overLimit(usage: Int64, limit: Int64)

    /// The `lease_id` the caller may be shown: only the one who just acquired sees a live
    /// holder's id (API §15 row 9), so nobody else can heartbeat or finish that lease.
    public var visibleLeaseId: String? {
        switch self {
        case .acquired(let r, _): r.leaseId
        case .busy, .finished, .overLimit: nil
        }
    }
}

/// What extend, complete, fail and cancel can answer.
public enum MutationReply: Sendable, Equatable {
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

/// The answer to any ``LeaseCommand``: an acquire's or a mutation's, one flat enum for code
/// that drives commands generically (tests, property checks).
public enum LeaseReply: Sendable, Equatable {
    case acquired(LeaseRecord, usage: Int64)
    case busy(LeaseRecord, usage: Int64)
    case finished(LeaseRecord, usage: Int64)
    case overLimit(usage: Int64, limit: Int64)
    case extended(LeaseRecord)
    case completed(LeaseRecord, replay: Bool)
    case failed(LeaseRecord, replay: Bool)
    case canceled(LeaseRecord, replay: Bool)
    case mismatch(LeaseRecord)
    case notActive(LeaseRecord)
    case notFound

    public init(_ reply: AcquireReply) {
        switch reply {
        case .acquired(let r, let u): self = .acquired(r, usage: u)
        case .busy(let r, let u): self = .busy(r, usage: u)
        case .finished(let r, let u): self = .finished(r, usage: u)
        case .overLimit(let u, let l): self = .overLimit(usage: u, limit: l)
        }
    }

    public init(_ reply: MutationReply) {
        switch reply {
        case .extended(let r): self = .extended(r)
        case .completed(let r, let replay): self = .completed(r, replay: replay)
        case .failed(let r, let replay): self = .failed(r, replay: replay)
        case .canceled(let r, let replay): self = .canceled(r, replay: replay)
        case .mismatch(let r): self = .mismatch(r)
        case .notActive(let r): self = .notActive(r)
        case .notFound: self = .notFound
        }
    }
}

/// Result of applying a command: what to store and what to answer.
public struct LeaseTransition<Reply: Sendable & Equatable>: Sendable, Equatable {
    /// The record to store, or nil when nothing is to be written.
    public var write: LeaseRecord?
    public var reply: Reply
    public var effects: Effects

    public init(write: LeaseRecord?, reply: Reply, effects: Effects = Effects()) {
        self.write = write
        self.reply = reply
        self.effects = effects
    }

    public func map<Other>(_ transform: (Reply) -> Other) -> LeaseTransition<Other> {
        LeaseTransition<Other>(write: write, reply: transform(reply), effects: effects)
    }
}
