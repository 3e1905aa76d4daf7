/// A run-timeline event a lease holder sends with a lease call (once-server's `run_events`
/// extension on complete, fail and cancel), before it is known where it belongs: the store
/// writes it under the lease's `metadata.run_id`, stamped with the transaction's time, in the
/// same transaction as the call, and only when the call changed the lease.
///
/// Why: once-exec's end of a run (`child_exited`, the history record) would otherwise be
/// separate `POST /v1/events` round trips after the child exits, each waiting for a commit.
public struct AttachedRunEvent: Sendable, Equatable {
    public var type: String
    public var status: String?
    public var message: String?
    public var data: JSONValue?

    public init(type: String, status: String? = nil, message: String? = nil, data: JSONValue? = nil) {
        self.type = type
        self.status = status
        self.message = message
        self.data = data
    }
}

extension MutationReply {
    /// Whether this answer changed the lease: an extension or a first finish. A refusal, and
    /// the replay of a finish already stored, did not (an expiry settled on the way may still
    /// have been written, but that is not the caller's change).
    public var applied: Bool {
        switch self {
        case .extended: true
        case .completed(_, let replay), .failed(_, let replay), .canceled(_, let replay): !replay
        case .mismatch, .notActive, .notFound: false
        }
    }

    /// The lease record the answer is about (nil for ``notFound``).
    public var record: LeaseRecord? {
        switch self {
        case .extended(let r), .completed(let r, _), .failed(let r, _), .canceled(let r, _), .mismatch(let r),
            .notActive(let r):
            r
        case .notFound: nil
        }
    }
}

extension LeaseEngine {
    /// The timeline rows `events` attached to a mutation become once it was answered with
    /// `reply` at `now`: under the lease's run id and lease id when the mutation applied and the
    /// lease has a run id; none otherwise (nothing is written for a refused or replayed call).
    public static func attached(_ events: [AttachedRunEvent], to reply: MutationReply, now: Timestamp)
        -> [RunEvent]
    {
        guard reply.applied, let record = reply.record, let runId = record.runId else { return [] }
        return events.map {
            RunEvent(
                runId: runId, type: $0.type, ts: now, status: $0.status, leaseId: record.leaseId,
                agentId: record.agentId, message: $0.message, data: $0.data)
        }
    }
}
