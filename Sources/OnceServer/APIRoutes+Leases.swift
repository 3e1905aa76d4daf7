import HTTPTypes
import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    // MARK: POST /v1/ai/lease (API §5.2)

    @Sendable func lease(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        let input = try await decode(KeyedRequest.self, request)
        let acquire = LeaseCommand.Acquire(
            ttl: effectiveTTL(input.ttl, account), metadata: input.metadata,
            newLeaseId: "lease_" + APIKeyMaterial.randomToken(), retryFailed: input.retryFailed)
        let decided = try await store.acquire(account: account, key: input.key, acquire, requestId: context.requestId)
        return try LeaseView.acquireResponse(decided, plan: account.plan)
    }

    // MARK: extend, complete, fail, cancel (API §5.5–5.8)

    @Sendable func extend(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let input = try await decode(ExtendRequest.self, request)
        let ttl = input.ttl.map { effectiveTTL($0, context.account) }
        return try await mutate(input.address, .extend(leaseId: input.address.leaseId, ttl: ttl), context)
    }

    @Sendable func complete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let input = try await decode(CompleteRequest.self, request)
        return try await mutate(
            input.address,
            .complete(leaseId: input.address.leaseId, result: input.result, resultHash: input.resultHash), context,
            runEvents: input.runEvents)
    }

    @Sendable func fail(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let input = try await decode(FailRequest.self, request)
        return try await mutate(
            input.address,
            .fail(
                leaseId: input.address.leaseId, errorCode: input.errorCode, errorHash: input.errorHash,
                result: input.result), context, runEvents: input.runEvents)
    }

    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let input = try await decode(CancelRequest.self, request)
        return try await mutate(
            input.address, .cancel(leaseId: input.address.leaseId, reason: input.reason), context,
            runEvents: input.runEvents)
    }

    /// - Parameter runEvents: the `run_events` extension (``RunEventsField``); when sent, the
    ///   answer says how many were written.
    private func mutate(
        _ address: LeaseAddress, _ mutation: LeaseMutation, _ context: AuthenticatedContext,
        runEvents: [AttachedRunEvent]? = nil
    ) async throws -> Response {
        let key = address.key
        let decided = try await store.mutate(
            account: context.account, key: key, mutation, requestId: context.requestId, attached: runEvents ?? [])
        var body = try Self.mutationBody(decided, key: key)
        if let runEvents, case .object(var fields) = body {
            // The same pure rule the transaction used, applied to its answer: what it wrote.
            let recorded = LeaseEngine.attached(runEvents, to: decided.value, now: decided.now).count
            fields[RunEventsField.acknowledgement] = .int(Int64(recorded))
            body = .object(fields)
        }
        return JSONResponse.make(body)
    }

    private static func mutationBody(_ decided: Decided<MutationReply>, key: String) throws -> JSONValue {
        switch decided.value {
        case .extended(let r):
            return .object([
                "ok": .bool(true), "status": .string("extended"), "key": .string(key), "ttl": .int(Int64(r.ttl)),
                "version": .int(r.version), "lease_id": .string(r.leaseId),
                "ttl_left": .int(Int64(decided.now.secondsUntil(r.deadline))),
            ])
        case .completed(let r, _):
            return .object([
                "ok": .bool(true), "status": .string("completed"), "key": .string(key), "version": .int(r.version),
                "done_at": LeaseView.time(r.doneAt), "result_hash": LeaseView.text(r.resultHash),
            ])
        case .failed(let r, _):
            return .object([
                "ok": .bool(true), "status": .string("failed"), "key": .string(key), "version": .int(r.version),
                "done_at": LeaseView.time(r.doneAt), "error_code": LeaseView.text(r.errorCode),
            ])
        case .canceled(let r, _):
            return .object([
                "ok": .bool(true), "status": .string("canceled"), "key": .string(key), "version": .int(r.version),
            ])
        case .mismatch:
            throw APIError.leaseMismatch
        case .notActive(let r):
            throw APIError.leaseNotActive(status: r.state == .expired ? "expired" : r.reportedStatus)
        case .notFound:
            throw APIError.notFound("no lease exists for this key")
        }
    }

    // MARK: GET /v1/ai/status, /v1/ai/result (API §5.3, §5.4)

    @Sendable func status(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let key = try request.query(KeyQuery.self).key
        let view = try await store.leaseView(account: context.account, key: key)
        guard let record = view.value else { throw APIError.notFound("no lease exists for this key") }
        return JSONResponse.make(LeaseView.status(record, now: view.now))
    }

    @Sendable func result(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let key = try request.query(KeyQuery.self).key
        guard let r = try await store.leaseRecord(account: context.account, key: key) else {
            throw APIError.notFound("no lease exists for this key")
        }
        return JSONResponse.make(
            .object([
                "ok": .bool(true), "status": .string(r.reportedStatus), "key": .string(key),
                "result": r.state == .completed || r.state == .failed ? (r.result ?? .null) : .null,
                "result_hash": LeaseView.text(r.state == .held ? nil : r.resultHash),
                "error_code": LeaseView.text(r.errorCode), "done_at": LeaseView.time(r.doneAt),
                "version": .int(r.version),
            ]))
    }
}

/// The lease state object of API §5.1, as each endpoint shows it.
enum LeaseView {
    /// The answer to an acquire (`/v1/ai/lease`, and `/v1/ai/run` in mode A): acquired,
    /// polling or the finished state; over the plan's limit is a 402.
    static func acquireResponse(_ decided: Decided<AcquireReply>, plan: Plan) throws -> Response {
        let (reply, now) = (decided.value, decided.now)
        let limit = plan.limits.aiPerMonth
        switch reply {
        case .acquired(let record, let usage):
            return JSONResponse.make(
                state(record, reply, now: now, status: "acquired", usage: usage, limit: limit, charged: 1))
        case .busy(let record, let usage):
            return JSONResponse.make(
                state(record, reply, now: now, status: "polling", usage: usage, limit: limit, charged: 0))
        case .finished(let record, let usage):
            return JSONResponse.make(
                state(record, reply, now: now, status: record.reportedStatus, usage: usage, limit: limit, charged: 0))
        case .overLimit(let usage, let limit):
            throw APIError.paymentRequired(plan: plan, usage: usage, limit: limit)
        }
    }

    static func text(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    static func time(_ t: Timestamp?) -> JSONValue { t.map { .string($0.iso8601) } ?? .null }

    /// The `lease_id` shown is the engine's ``AcquireReply/visibleLeaseId``: only the caller
    /// who just acquired sees it (§15 row 9).
    static func state(
        _ r: LeaseRecord, _ reply: AcquireReply, now: Timestamp, status: String, usage: Int64, limit: Int64,
        charged: Int
    ) -> JSONValue {
        let held = r.state == .held
        let leaseId = reply.visibleLeaseId
        let owner = leaseId != nil
        return .object([
            "ok": .bool(true), "status": .string(status), "key": .string(r.key), "ttl": .int(Int64(r.ttl)),
            "ttl_left": held && !owner ? .int(Int64(now.secondsUntil(r.deadline))) : .null,
            "lease_id": LeaseView.text(leaseId),
            "version": .int(r.version), "first_seen_at": .string(r.firstSeenAt.iso8601),
            "done_at": time(r.doneAt), "result_hash": text(r.resultHash), "error_code": text(r.errorCode),
            "retry_after_sec": held && !owner ? .int(Int64(LeaseEngine.pollHint(for: r, now: now))) : .null,
            "usage": .int(usage), "limit": .int(limit), "charged": .int(Int64(charged)),
        ])
    }

    static func status(_ r: LeaseRecord, now: Timestamp) -> JSONValue {
        let held = r.state == .held
        return .object([
            "ok": .bool(true), "status": .string(r.reportedStatus), "key": .string(r.key), "ttl": .int(Int64(r.ttl)),
            "ttl_left": held ? .int(Int64(now.secondsUntil(r.deadline))) : .null,
            // A finished lease's id is harmless (it can only replay its own finish); a live one is a capability.
            "lease_id": held ? .null : .string(r.leaseId),
            "version": .int(r.version), "first_seen_at": .string(r.firstSeenAt.iso8601),
            "done_at": time(r.doneAt), "result_hash": text(r.resultHash), "error_code": text(r.errorCode),
            "retry_after_sec": held ? .int(Int64(LeaseEngine.pollHint(for: r, now: now))) : .null,
        ])
    }
}
