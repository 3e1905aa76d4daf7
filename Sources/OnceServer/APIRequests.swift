import Hummingbird
import OnceCore
import OnceStore

/// A request body parsed into valid values. The initializer reads every field, collecting
/// FastAPI-style issues in the reader, and throws all of them at once as a 422; a handler only
/// ever receives a complete value.
protocol BodyRequest: Sendable {
    init(_ body: inout BodyReader) throws
}

/// Query parameters parsed the same way.
protocol QueryRequest: Sendable {
    init(_ query: inout QueryReader) throws
}

extension BodyReader {
    /// The 422 for the issues collected so far.
    var failure: APIError { .validation(issues) }
}

extension QueryReader {
    var failure: APIError { .validation(issues) }
}

extension Request {
    func query<R: QueryRequest>(_ type: R.Type) throws -> R {
        var reader = QueryReader(self)
        return try R(&reader)
    }
}

/// check-lock and lease: `key`, `ttl`, `metadata` (API §4, §5.2).
struct KeyedRequest: BodyRequest {
    var key: String
    var ttl: Int64?
    var metadata: JSONValue?
    /// Extension for once-exec --retry-failed; official clients never send it.
    var retryFailed: Bool

    init(_ body: inout BodyReader) throws {
        let key = body.key()
        ttl = body.ttl()
        metadata = body.metadata()
        retryFailed = body.bool("retry_failed") ?? false
        guard body.issues.isEmpty, let key else { throw body.failure }
        self.key = key
    }
}

/// The `key` + `lease_id` every lease mutation names (API §5.5–5.8).
struct LeaseAddress: Sendable {
    var key: String
    var leaseId: String

    static func read(_ body: inout BodyReader) -> LeaseAddress? {
        let key = body.key()
        let leaseId = body.string("lease_id", required: true, maxLength: 256)
        guard let key, let leaseId else { return nil }
        return LeaseAddress(key: key, leaseId: leaseId)
    }
}

struct ExtendRequest: BodyRequest {
    var address: LeaseAddress
    var ttl: Int64?

    init(_ body: inout BodyReader) throws {
        let address = LeaseAddress.read(&body)
        ttl = body.ttl()
        guard body.issues.isEmpty, let address else { throw body.failure }
        self.address = address
    }
}

struct CompleteRequest: BodyRequest {
    var address: LeaseAddress
    var result: JSONValue?
    var resultHash: String?
    /// Extension (once-exec): see ``RunEventsField``.
    var runEvents: [AttachedRunEvent]?

    init(_ body: inout BodyReader) throws {
        let address = LeaseAddress.read(&body)
        result = body.result()
        resultHash = body.string("result_hash", maxLength: 256)
        runEvents = RunEventsField.read(&body)
        guard body.issues.isEmpty, let address else { throw body.failure }
        self.address = address
    }
}

struct FailRequest: BodyRequest {
    var address: LeaseAddress
    var errorCode: String
    var errorHash: String?
    /// Extension (once-exec): the failed run's record, kept like a completed result.
    var result: JSONValue?
    /// Extension (once-exec): see ``RunEventsField``.
    var runEvents: [AttachedRunEvent]?

    init(_ body: inout BodyReader) throws {
        let address = LeaseAddress.read(&body)
        let errorCode = body.string("error_code", required: true, maxLength: Rules.maxErrorCodeLength)
        errorHash = body.string("error_hash", maxLength: 256)
        result = body.result()
        runEvents = RunEventsField.read(&body)
        guard body.issues.isEmpty, let address, let errorCode else { throw body.failure }
        self.address = address
        self.errorCode = errorCode
    }
}

struct CancelRequest: BodyRequest {
    var address: LeaseAddress
    var reason: String?
    /// Extension (once-exec): see ``RunEventsField``.
    var runEvents: [AttachedRunEvent]?

    init(_ body: inout BodyReader) throws {
        let address = LeaseAddress.read(&body)
        reason = body.string("reason", maxLength: 1024)
        runEvents = RunEventsField.read(&body)
        guard body.issues.isEmpty, let address else { throw body.failure }
        self.address = address
    }
}

/// `?key=` of status and result (API §5.3, §5.4).
struct KeyQuery: QueryRequest {
    var key: String

    init(_ query: inout QueryReader) throws {
        let key = query.key()
        guard query.issues.isEmpty, let key else { throw query.failure }
        self.key = key
    }
}

/// `?limit=&offset=` with per-endpoint bounds.
struct PageQuery: Sendable {
    var limit: Int
    var offset: Int

    static func read(_ query: inout QueryReader, defaultLimit: Int, maxLimit: Int) -> PageQuery {
        PageQuery(
            limit: query.int("limit", default: defaultLimit, range: 1...maxLimit),
            offset: query.int("offset", default: 0, range: 0...1_000_000))
    }
}

/// POST /v1/events (API §11.1).
struct EventRequest: BodyRequest {
    var runId: String
    var type: String
    var ts: Int64?
    var status, step, tool, reqId, leaseId, agentId, message: String?
    var durationMs: Int64?
    var data: JSONValue?

    init(_ body: inout BodyReader) throws {
        let runId = body.string("run_id", required: true, maxLength: 256, nonBlank: true)
        let type = body.string("type", required: true, maxLength: 128, nonBlank: true)
        ts = body.int("ts", minimum: 0)
        if let ts, ts > 253_402_300_799 {
            body.add(
                FieldIssue(
                    type: "less_than_equal", loc: ["body", "ts"], msg: "Input should be Unix seconds before year 10000",
                    input: .int(ts)))
        }
        status = body.string("status", maxLength: 128)
        step = body.string("step", maxLength: 256)
        tool = body.string("tool", maxLength: 256)
        reqId = body.string("req_id", maxLength: 256)
        leaseId = body.string("lease_id", maxLength: 256)
        agentId = body.string("agent_id", maxLength: 256)
        message = body.string("message", maxLength: 4096)
        durationMs = body.int("duration_ms", minimum: 0)
        data = body.object("data")
        if let data, data.canonicalText.utf8.count > 16 * 1024 {
            body.add(
                FieldIssue(
                    type: "value_error", loc: ["body", "data"],
                    msg: "Value error, data is larger than 16384 bytes serialized"))
        }
        guard body.issues.isEmpty, let runId, let type else { throw body.failure }
        self.runId = runId
        self.type = type
    }
}

/// POST /v1/me/notifications (API §12.5): at least one flag.
struct NotificationsRequest: BodyRequest {
    var update: NotificationUpdate

    init(_ body: inout BodyReader) throws {
        update = NotificationUpdate(
            email: body.bool("email_notifications_enabled"),
            toolErrors: body.bool("tool_error_notifications_enabled"),
            runFailures: body.bool("run_failure_notifications_enabled"))
        if body.issues.isEmpty, update == NotificationUpdate() {
            body.add(
                FieldIssue(
                    type: "missing", loc: ["body"],
                    msg: "Send at least one of email_notifications_enabled, tool_error_notifications_enabled, "
                        + "run_failure_notifications_enabled"))
        }
        guard body.issues.isEmpty else { throw body.failure }
    }
}
