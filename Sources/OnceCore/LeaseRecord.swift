/// Where a lease stands (API §5.9).
public enum LeaseState: String, Sendable, Codable, CaseIterable {
    /// Held by `leaseId` until `deadline`.
    case held
    case completed
    case failed
    /// The holder missed its deadline. Reported as `failed`/`lease_expired`, but re-acquirable.
    case expired
    /// Released by its holder without an outcome; re-acquirable at once.
    case canceled
    /// Past retention: reported as absent, kept only so that `version` never goes backwards.
    case absent
}

/// The stored state of one lease key in one account.
public struct LeaseRecord: Sendable, Equatable {
    public var key: String
    public var state: LeaseState
    /// The owner token of the current (or last) holder.
    public var leaseId: String
    /// Fencing counter: +1 on every successful mutation, never lower for a key.
    public var version: Int64
    /// Effective TTL in seconds.
    public var ttl: Int
    /// When a held lease lapses.
    public var deadline: Timestamp
    /// When the current lease was acquired.
    public var firstSeenAt: Timestamp
    /// When it became completed, failed, expired or canceled.
    public var doneAt: Timestamp?
    public var result: JSONValue?
    public var resultHash: String?
    public var errorCode: String?
    /// Timeline that lease operations write to (`metadata.run_id` at acquire).
    public var runId: String?
    public var agentId: String?
    public var metadata: JSONValue?

    public init(
        key: String, state: LeaseState, leaseId: String, version: Int64, ttl: Int, deadline: Timestamp,
        firstSeenAt: Timestamp, doneAt: Timestamp? = nil, result: JSONValue? = nil, resultHash: String? = nil,
        errorCode: String? = nil, runId: String? = nil, agentId: String? = nil, metadata: JSONValue? = nil
    ) {
        self.key = key
        self.state = state
        self.leaseId = leaseId
        self.version = version
        self.ttl = ttl
        self.deadline = deadline
        self.firstSeenAt = firstSeenAt
        self.doneAt = doneAt
        self.result = result
        self.resultHash = resultHash
        self.errorCode = errorCode
        self.runId = runId
        self.agentId = agentId
        self.metadata = metadata
    }

    /// The name `/ai/status` and `/ai/result` use for this state.
    public var reportedStatus: String {
        switch state {
        case .held: "in_progress"
        case .completed: "completed"
        case .failed, .expired: "failed"
        case .canceled: "canceled"
        case .absent: "absent"
        }
    }

    /// True for the states a client can still see (everything but the retention tombstone).
    public var isVisible: Bool { state != .absent }
}
