import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    var aiRunRoutes: [Route] { [Route(method: .post, path: "ai/run", handler: aiRun)] }

    var governedCalls: GovernedCalls { GovernedCalls(store: store, configuration: configuration) }

    // MARK: POST /v1/ai/run (API §6)

    @Sendable func aiRun(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        switch try await decode(AIRunRequest.self, request) {
        case .tool(let input):
            let outcome = try await governedCalls.perform(
                GovernedCalls.Call(
                    agentId: input.agentId, tool: input.tool, args: input.args, spendUSD: input.spendUSD,
                    runId: input.runId),
                account: context.account, requestId: context.requestId, logger: context.logger)
            return JSONResponse.make(outcome.json)
        case .keyed(let run):
            return try await keyedRun(run, context: context)
        }
    }

    /// Mode A: the lease logic of `/v1/ai/lease`, and a worker for an acquired run.
    private func keyedRun(_ run: AIRunRequest.KeyedRun, context: AuthenticatedContext) async throws -> Response {
        let account = context.account
        // The timeline id defaults to the key (API §6.1); in the metadata, the lease engine
        // writes run_started and run_finished under it.
        var metadata = run.metadata?.objectValue ?? [:]
        if metadata["run_id"]?.stringValue == nil { metadata["run_id"] = .string(run.runId) }
        let acquire = LeaseCommand.Acquire(
            ttl: effectiveTTL(run.ttl, account), metadata: .object(metadata),
            newLeaseId: "lease_" + APIKeyMaterial.randomToken(), retryFailed: false)
        let decided = try await store.acquire(account: account, key: run.key, acquire, requestId: context.requestId)
        let (reply, now) = (decided.value, decided.now)
        let limit = account.plan.limits.aiPerMonth
        switch reply {
        case .acquired(let record, let usage):
            RunWorker(store: store, calls: governedCalls).start(
                RunWorker.Job(
                    account: account, key: run.key, leaseId: record.leaseId, run: run, requestId: context.requestId),
                logger: context.logger)
            return JSONResponse.make(
                LeaseView.state(record, reply, now: now, status: "acquired", usage: usage, limit: limit, charged: 1))
        case .busy(let record, let usage):
            return JSONResponse.make(
                LeaseView.state(record, reply, now: now, status: "polling", usage: usage, limit: limit, charged: 0))
        case .finished(let record, let usage):
            return JSONResponse.make(
                LeaseView.state(
                    record, reply, now: now, status: record.reportedStatus, usage: usage, limit: limit, charged: 0))
        case .overLimit(let usage, let limit):
            throw APIError.paymentRequired(plan: account.plan, usage: usage, limit: limit)
        }
    }
}
