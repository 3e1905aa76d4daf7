/// What asking for a lease ended with, as a would-be holder reads it (``LeaseClient/acquire(key:ttl:metadata:retryFailed:)``).
public enum LeaseOutcome: Sendable, Equatable {
    /// You hold the lease: do the work, heartbeat it, then complete, fail or cancel it.
    case acquired(HeldLease)
    /// Someone else holds it (`polling`); the answer's `ttlLeft` says for how long at most, and
    /// `retryAfterSec` when to ask again.
    case held(AIRun)
    /// It is finished and stays so: `completed`, or `failed` (unless you asked for
    /// `retryFailed`). The answer has no result; read it with ``LeaseClient/result(key:)``.
    case finished(AIRun)
}

/// A lease you acquired.
public struct HeldLease: Sendable, Equatable {
    /// The lease key.
    public var key: String
    /// Your owner token, for extend, complete, fail and cancel.
    public var leaseId: String
    /// The fencing token: strictly increasing per key, across expiries and re-acquisitions.
    public var version: Int
    /// The TTL the server applied, in seconds (it clamps the one asked for to the plan).
    public var ttl: Int?
    /// The answer as received.
    public var answer: AIRun
}

/// What a holder's extend, complete, fail or cancel ended with (``LeaseClient``).
public enum LeaseUpdateOutcome: Sendable, Equatable {
    /// The server applied it, or answered a repeat of a finish it already stored the same way.
    case applied(AILeaseUpdate)
    /// 409: the lease is not yours any more (`lease_mismatch`: someone else holds it) or no
    /// longer in progress (`lease_not_active`: finished, expired or canceled).
    case conflict(LeaseConflict)
    /// 404 `not_found`: no lease exists for this key (never used, or past retention).
    case notFound
}

/// The details of a 409 answer to a lease update.
public struct LeaseConflict: Sendable, Equatable {
    /// `lease_mismatch` or `lease_not_active`; `conflict` when the answer names no code.
    public var code: String
    /// With `lease_not_active`: the state the lease is in (`completed`, `failed`, `expired`, `canceled`).
    public var status: String?
    /// The server's explanation.
    public var message: String?
    /// The error detail object as received.
    public var detail: JSONObject

    /// Reads a 409's detail object.
    public init(detail: JSONObject) {
        code = detail["error"]?.stringValue ?? "conflict"
        status = detail["status"]?.stringValue
        message = detail["message"]?.stringValue
        self.detail = detail
    }
}

/// One run-timeline event sent with a finish: once-server's `run_events` extension on
/// complete, fail and cancel.
///
/// The server writes each under the lease's `metadata.run_id`, with its own time and the
/// `lease_id`, in the finish's own transaction and only if the finish changed the lease, then
/// says how many it wrote (``AILeaseUpdate/runEventsRecorded``). Each is checked like a
/// `POST /v1/events` body (`type` 1–128 characters, `status` up to 128, `message` up to 4096,
/// `data` up to 16 KiB serialized; at most 32 events), and a bad one is a 422 that does not
/// do the finish either. Servers without the extension ignore the field.
public struct RunEventAttachment: Sendable, Equatable {
    /// The event type, e.g. `child_exited`.
    public var type: String
    /// A free-form status.
    public var status: String?
    /// Human-readable text.
    public var message: String?
    /// A free-form object.
    public var data: JSONObject?

    /// An event to send with a finish.
    public init(type: String, status: String? = nil, message: String? = nil, data: JSONObject? = nil) {
        self.type = type
        self.status = status
        self.message = message
        self.data = data
    }

    /// The request field.
    static let field = "run_events"
    /// The answer field that acknowledges it.
    static let acknowledgement = "run_events_recorded"

    var json: JSON {
        var o: JSONObject = ["type": .string(type)]
        o["status"] = status.map(JSON.string)
        o["message"] = message.map(JSON.string)
        o["data"] = data.map(JSON.object)
        return .object(o)
    }
}
