/// The lease state answered by `POST /ai/lease` and key-mode `POST /ai/run`.
///
/// `status` is `acquired` (you hold the lease and must complete, fail or cancel it), `polling`
/// (someone else holds it), `completed` or `failed` (it is already finished; read
/// ``AIClient/result(key:)``).
public struct AIRun: Sendable, Equatable {
    /// Whether the request was handled.
    public var ok: Bool
    /// `acquired`, `polling`, `completed`, `failed`, …
    public var status: String
    /// The lease key.
    public var key: String
    /// The owner token when you acquired (the server hides other holders' tokens).
    public var leaseId: String?
    /// Revision counter of the lease record (1 at first acquisition).
    public var version: Int
    /// Effective lease TTL in seconds.
    public var ttl: Int?
    /// Seconds to the deadline while someone else holds the lease.
    public var ttlLeft: Int?
    /// Time of the first acquisition (ISO-8601).
    public var firstSeenAt: String?
    /// 1 when this call acquired (billable), else 0.
    public var charged: Int?
    /// The account's `ai` usage this month after this call.
    public var usage: Int?
    /// The plan's monthly `ai` limit.
    public var limit: Int?
    /// Polling hint in seconds while someone else holds the lease.
    public var retryAfterSec: Double?
    /// When the lease was completed or failed (ISO-8601).
    public var doneAt: String?
    /// Error code of a failed lease.
    public var errorCode: String?
    /// Hash of the stored result.
    public var resultHash: String?
    /// The stored result, when the answer carries one.
    public var result: JSONObject?
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer with the official coercion rules.
    public init(raw: JSONObject) {
        let r = FieldReader(raw)
        ok = r.bool("ok")
        status = r.string("status")
        key = r.string("key")
        leaseId = r.optionalString("lease_id")
        version = r.int("version")
        ttl = r.optionalInt("ttl")
        ttlLeft = r.optionalInt("ttl_left")
        firstSeenAt = r.optionalString("first_seen_at")
        charged = r.optionalInt("charged")
        usage = r.optionalInt("usage")
        limit = r.optionalInt("limit")
        retryAfterSec = r.optionalDouble("retry_after_sec")
        doneAt = r.optionalString("done_at")
        errorCode = r.optionalString("error_code")
        resultHash = r.optionalString("result_hash")
        result = r.object("result")
        self.raw = raw
    }

    /// Whether this call acquired the lease.
    public var isAcquired: Bool { status.lowercased() == "acquired" }
}

/// The lease state answered by `GET /ai/status`.
public struct AIStatus: Sendable, Equatable {
    /// Whether the request was handled.
    public var ok: Bool
    /// `in_progress`, `completed`, `failed` or `canceled`.
    public var status: String
    /// The lease key.
    public var key: String
    /// The holder's token, when the server reveals it.
    public var leaseId: String?
    /// Revision counter of the lease record.
    public var version: Int
    /// Seconds to the deadline while held.
    public var ttlLeft: Int?
    /// Time of the first acquisition (ISO-8601).
    public var firstSeenAt: String?
    /// When the lease was completed or failed (ISO-8601).
    public var doneAt: String?
    /// Hash of the stored result.
    public var resultHash: String?
    /// Error code of a failed lease (`lease_expired` after a missed deadline).
    public var errorCode: String?
    /// Polling hint in seconds.
    public var retryAfterSec: Double?
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer with the official coercion rules.
    public init(raw: JSONObject) {
        let r = FieldReader(raw)
        ok = r.bool("ok")
        status = r.string("status")
        key = r.string("key")
        leaseId = r.optionalString("lease_id")
        version = r.int("version")
        ttlLeft = r.optionalInt("ttl_left")
        firstSeenAt = r.optionalString("first_seen_at")
        doneAt = r.optionalString("done_at")
        resultHash = r.optionalString("result_hash")
        errorCode = r.optionalString("error_code")
        retryAfterSec = r.optionalDouble("retry_after_sec")
        self.raw = raw
    }

    /// Whether the lease reached `completed` or `failed`, the only states pollers stop on.
    public var isTerminal: Bool { ["completed", "failed"].contains(status) }
}

/// The final outcome answered by `GET /ai/result`, or made up by the SDK (`timeout`,
/// `missing_lease_id`, `not_acquired` error codes).
public struct AIResult: Sendable, Equatable {
    /// Whether the request was handled (synthetic results are `false`).
    public var ok: Bool
    /// `completed`, `failed`, `in_progress`, `canceled`.
    public var status: String
    /// The lease key.
    public var key: String
    /// The object stored by `complete` (or a key-mode run's worker).
    public var result: JSONObject?
    /// Hash of the stored result.
    public var resultHash: String?
    /// Error code of a failed lease, or of a synthetic SDK result.
    public var errorCode: String?
    /// When the lease was completed or failed (ISO-8601).
    public var doneAt: String?
    /// The answer as received (or the synthetic fields).
    public var raw: JSONObject

    /// Reads an answer with the official coercion rules.
    public init(raw: JSONObject) {
        let r = FieldReader(raw)
        ok = r.bool("ok")
        status = r.string("status")
        key = r.string("key")
        result = r.object("result")
        resultHash = r.optionalString("result_hash")
        errorCode = r.optionalString("error_code")
        doneAt = r.optionalString("done_at")
        self.raw = raw
    }

    /// A result the SDK makes up without asking the server.
    static func synthetic(key: String, status: String = "failed", errorCode: String) -> AIResult {
        AIResult(raw: ["ok": false, "status": .string(status), "key": .string(key), "error_code": .string(errorCode)])
    }

    /// Decodes ``result`` into a `Decodable` type; `nil` when there is no result.
    ///
    /// A non-object value stored by ``AIClient/runFn(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:retryFailed:_:)``
    /// arrives as `{"value": v}`; when the object itself does not decode as `T`, `v` is tried, so
    /// `decodeResult(as: Int.self)` reads back a stored `42`.
    public func decodeResult<T: Decodable>(as type: T.Type = T.self) throws -> T? {
        guard let result else { return nil }
        do {
            return try JSON.object(result).decode(as: T.self)
        } catch {
            guard result.count == 1, let value = result["value"], let unwrapped = try? value.decode(as: T.self) else {
                throw error
            }
            return unwrapped
        }
    }
}

/// The decision answered by a governed tool call (tool-mode `POST /ai/run`).
public struct AIToolResult: Sendable, Equatable {
    /// `true` when the tool ran (or was deduplicated) and succeeded.
    public var ok: Bool
    /// `false` only when the call was blocked.
    public var allowed: Bool
    /// `executed`, `blocked` or `dedup`.
    public var decision: String
    /// Why: `ok`, `tool_not_in_allowed_list`, `agent_disabled`, `tool_error`, …
    public var policyReason: String?
    /// `low`, `medium` or `high`.
    public var riskLevel: String?
    /// The tool backend's answer when executed (or the first call's, for `dedup`).
    public var result: JSONObject?
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer with the official coercion rules.
    public init(raw: JSONObject) {
        let r = FieldReader(raw)
        ok = r.bool("ok")
        allowed = r.bool("allowed")
        decision = r.string("decision")
        policyReason = r.optionalString("policy_reason")
        riskLevel = r.optionalString("risk_level")
        result = r.object("result")
        self.raw = raw
    }
}

/// The answer of `extend`, `complete`, `fail` and `cancel`.
public struct AILeaseUpdate: Sendable, Equatable {
    /// Whether the request was handled.
    public var ok: Bool
    /// `extended`, `completed`, `failed` or `canceled`.
    public var status: String
    /// The lease key.
    public var key: String
    /// The lease record's revision after the change (a fencing token).
    public var version: Int
    /// The TTL now in force (`extend`).
    public var ttl: Int?
    /// When the lease finished (`complete`, `fail`).
    public var doneAt: String?
    /// Hash of the stored result (`complete`).
    public var resultHash: String?
    /// The stored error code (`fail`).
    public var errorCode: String?
    /// How many of the `run_events` sent with a finish the server wrote (once-server's
    /// extension, see ``LeaseClient``): `nil` when the request sent none or the server does
    /// not know the field, 0 for a replayed finish.
    public var runEventsRecorded: Int?
    /// The answer as received.
    public var raw: JSONObject

    /// Reads an answer with the official coercion rules.
    public init(raw: JSONObject) {
        let r = FieldReader(raw)
        ok = r.bool("ok")
        status = r.string("status")
        key = r.string("key")
        version = r.int("version")
        ttl = r.optionalInt("ttl")
        doneAt = r.optionalString("done_at")
        resultHash = r.optionalString("result_hash")
        errorCode = r.optionalString("error_code")
        runEventsRecorded = r.optionalInt(RunEventAttachment.acknowledgement)
        self.raw = raw
    }
}

/// What `POST /ai/run` answered: a lease state (key mode) or a tool decision (tool mode). The
/// SDK tells them apart as the official clients do: an answer with `allowed` or `decision` is a
/// tool decision.
public enum AIRunOutcome: Sendable, Equatable {
    /// Key mode: the lease state.
    case run(AIRun)
    /// Tool mode: the governance decision.
    case tool(AIToolResult)

    init(raw: JSONObject) {
        self = raw["allowed"] != nil || raw["decision"] != nil ? .tool(AIToolResult(raw: raw)) : .run(AIRun(raw: raw))
    }

    /// The answer as received.
    public var raw: JSONObject {
        switch self {
        case .run(let run): run.raw
        case .tool(let tool): tool.raw
        }
    }
}

/// What ``AIClient/runAndWait(key:ttl:metadata:agentId:tool:args:spendUsd:runId:timeout:pollMin:pollMax:autoExtend:extendEvery:)``
/// ends with: the final result of a keyed run, or the immediate decision of a tool call.
public enum AIWaitOutcome: Sendable, Equatable {
    /// Key mode: the final result after waiting.
    case result(AIResult)
    /// Tool mode: the governance decision (no waiting).
    case tool(AIToolResult)

    /// The answer as received.
    public var raw: JSONObject {
        switch self {
        case .result(let result): result.raw
        case .tool(let tool): tool.raw
        }
    }
}
