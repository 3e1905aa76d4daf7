import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    // MARK: POST /v1/events (API §11.1)

    @Sendable func postEvent(_ request: Request, context: OnceRequestContext) async throws -> Response {
        let account = try context.requireAccount()
        var body = try await body(request)
        let runId = body.string("run_id", required: true, maxLength: 256, nonBlank: true)
        let type = body.string("type", required: true, maxLength: 128, nonBlank: true)
        let ts = body.int("ts", minimum: 0)
        if let ts, ts > 253_402_300_799 {
            body.add(
                FieldIssue(
                    type: "less_than_equal", loc: ["body", "ts"], msg: "Input should be Unix seconds before year 10000",
                    input: .int(ts)))
        }
        let status = body.string("status", maxLength: 128)
        let step = body.string("step", maxLength: 256)
        let tool = body.string("tool", maxLength: 256)
        let reqId = body.string("req_id", maxLength: 256)
        let leaseId = body.string("lease_id", maxLength: 256)
        let agentId = body.string("agent_id", maxLength: 256)
        let message = body.string("message", maxLength: 4096)
        let durationMs = body.int("duration_ms", minimum: 0)
        let data = body.object("data")
        if let data, data.canonicalText.utf8.count > 16 * 1024 {
            body.add(
                FieldIssue(
                    type: "value_error", loc: ["body", "data"],
                    msg: "Value error, data is larger than 16384 bytes serialized"))
        }
        try body.finish()
        guard let runId, let type else { throw APIError.internal() }
        let event = RunEvent(
            runId: runId, type: type, ts: ts.map { Timestamp(seconds: $0) } ?? store.now(), status: status, step: step,
            tool: tool, reqId: reqId, leaseId: leaseId, agentId: agentId, message: message, durationMs: durationMs,
            data: data)
        let id = try await store.appendRunEvent(account: account, event)
        return JSONResponse.make(.object(["ok": .bool(true), "event_id": .int(id), "run_id": .string(runId)]))
    }

    // MARK: GET /v1/events (API §11.3)

    @Sendable func events(_ request: Request, context: OnceRequestContext) async throws -> Response {
        let account = try context.requireAccount()
        var query = QueryReader(request)
        let limit = query.int("limit", default: 50, range: 1...200)
        let offset = query.int("offset", default: 0, range: 0...1_000_000)
        try query.finish()
        let items = try await store.feed(account: account, limit: limit, offset: offset)
        return JSONResponse.make(
            .array(
                items.map { item in
                    var fields = item.event.fields
                    fields["id"] = .int(item.id)
                    fields["ts"] = .int(item.event.ts.unixSeconds)
                    fields["type"] = .string(item.event.type)
                    fields["key"] = .string(item.event.key)
                    fields["req_id"] = item.reqId.map { .string($0) } ?? .null
                    return .object(fields)
                }))
    }

    // MARK: GET /v1/runs, /v1/runs/{run_id} (API §11.2)

    @Sendable func runs(_ request: Request, context: OnceRequestContext) async throws -> Response {
        let account = try context.requireAccount()
        var query = QueryReader(request)
        let limit = query.int("limit", default: 50, range: 1...500)
        let offset = query.int("offset", default: 0, range: 0...1_000_000)
        let prefix = query.string("q")
        try query.finish()
        let list = try await store.listRuns(account: account, limit: limit, offset: offset, prefix: prefix)
        return JSONResponse.make(
            .object([
                "total": .int(Int64(list.total)),
                "items": .array(
                    list.items.map {
                        .object([
                            "run_id": .string($0.runId), "last_ts": .int($0.lastTs.unixSeconds),
                            "last_type": .string($0.lastType), "last_status": LeaseView.text($0.lastStatus),
                            "events_count": .int(Int64($0.eventsCount)),
                        ])
                    }),
            ]))
    }

    @Sendable func runTimeline(_ request: Request, context: OnceRequestContext) async throws -> Response {
        let account = try context.requireAccount()
        var query = QueryReader(request)
        let limit = query.int("limit", default: 200, range: 1...2000)
        let offset = query.int("offset", default: 0, range: 0...1_000_000)
        try query.finish()
        // Decode the segment once: the TypeScript client percent-encodes every path segment.
        guard let raw = context.parameters.get("run_id"), let runId = QueryReader.decodePathSegment(raw),
            !runId.isEmpty
        else {
            throw APIError.invalid(
                FieldIssue(
                    type: "string_unicode", loc: ["path", "run_id"], msg: "Input should be a valid UTF-8 string"))
        }
        if let issue = Rules.checkNoNUL(runId, loc: ["path", "run_id"]) { throw APIError.invalid(issue) }
        let timeline = try await store.runTimeline(account: account, runId: runId, limit: limit, offset: offset)
        return JSONResponse.make(
            .object([
                "run_id": .string(runId), "total": .int(Int64(timeline.total)),
                "events": .array(timeline.events.map(Self.eventJSON)),
            ]))
    }

    static func eventJSON(_ stored: StoredRunEvent) -> JSONValue {
        let e = stored.event
        return .object([
            "id": .int(stored.id), "run_id": .string(e.runId), "ts": .int(e.ts.unixSeconds), "type": .string(e.type),
            "status": LeaseView.text(e.status), "duration_ms": e.durationMs.map { .int($0) } ?? .null,
            "step": LeaseView.text(e.step), "tool": LeaseView.text(e.tool), "req_id": LeaseView.text(e.reqId),
            "lease_id": LeaseView.text(e.leaseId), "agent_id": LeaseView.text(e.agentId),
            "message": LeaseView.text(e.message), "data": e.data ?? .object([:]),
        ])
    }
}
