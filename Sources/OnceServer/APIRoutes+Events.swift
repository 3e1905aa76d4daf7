import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    // MARK: POST /v1/events (API §11.1)

    @Sendable func postEvent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let input = try await decode(EventRequest.self, request)
        let event = RunEvent(
            runId: input.runId, type: input.type, ts: input.ts.map { Timestamp(seconds: $0) } ?? store.now(),
            status: input.status, step: input.step, tool: input.tool, reqId: input.reqId, leaseId: input.leaseId,
            agentId: input.agentId, message: input.message, durationMs: input.durationMs, data: input.data)
        let id = try await store.appendRunEvent(account: context.account, event)
        return JSONResponse.make(.object(["ok": .bool(true), "event_id": .int(id), "run_id": .string(input.runId)]))
    }

    // MARK: GET /v1/events (API §11.3)

    @Sendable func events(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var query = QueryReader(request)
        let page = PageQuery.read(&query, defaultLimit: 50, maxLimit: 200)
        try query.finish()
        let items = try await store.feed(account: context.account, limit: page.limit, offset: page.offset)
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

    @Sendable func runs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var query = QueryReader(request)
        let page = PageQuery.read(&query, defaultLimit: 50, maxLimit: 500)
        let prefix = query.string("q")
        try query.finish()
        let list = try await store.listRuns(
            account: context.account, limit: page.limit, offset: page.offset, prefix: prefix)
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

    @Sendable func runTimeline(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var query = QueryReader(request)
        let page = PageQuery.read(&query, defaultLimit: 200, maxLimit: 2000)
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
        let timeline = try await store.runTimeline(
            account: context.account, runId: runId, limit: page.limit, offset: page.offset)
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
