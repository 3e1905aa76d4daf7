import Logging
import OnceCore
import OnceStore

/// Works one acquired mode-A run (API §6.1) in this process: each action governed as in mode B
/// (`tool_call` / `tool_result` under the run's id), then the lease completed with the actions'
/// outcomes, or failed with `tool_error`.
///
/// The lease is the run's only durable state. The worker extends it before each action and
/// stops as soon as the lease is no longer its own, so a run is worked by the one replica whose
/// acquire won; if this process dies mid-run the lease expires (reported `failed` /
/// `lease_expired`) and the next `/v1/ai/run` of the key takes it up again from the start.
struct RunWorker: Sendable {
    let store: any OnceStorage
    let calls: GovernedCalls

    struct Job: Sendable {
        var account: AccountContext
        var key: String
        var leaseId: String
        var run: AIRunRequest.KeyedRun
        var requestId: String
    }

    /// Starts the job beside the request that acquired it. An unstructured task on purpose: the
    /// run outlives the request, and nothing is lost when the process stops under it (see above).
    func start(_ job: Job, logger: Logger) {
        Task { await work(job, logger: logger) }
    }

    func work(_ job: Job, logger: Logger) async {
        do {
            try await perform(job, logger: logger)
        } catch {
            // The lease stays held and expires; a later run of the key starts over.
            logger.error("mode-A run stopped", metadata: ["key": "\(job.key)", "error": "\(error)"])
        }
    }

    private func perform(_ job: Job, logger: Logger) async throws {
        let run = job.run
        var outcomes: [JSONValue] = []
        var failure: String?
        for (index, action) in run.actions.enumerated() {
            guard try await stillHeld(job) else {
                logger.notice("mode-A run lost its lease; stopping", metadata: ["key": "\(job.key)"])
                return
            }
            let call = GovernedCalls.Call(
                agentId: run.agentId ?? "", tool: action.tool, args: action.args, spendUSD: action.spendUSD,
                runId: run.runId, dryRun: run.dryRun)
            do {
                let outcome = try await calls.perform(
                    call, account: job.account, requestId: "\(job.requestId)-\(index)", logger: logger)
                outcomes.append(Self.actionJSON(action.tool, outcome))
                if outcome.error != nil {
                    failure = "tool_error"
                    break
                }
            } catch APIError.toolNotFound {
                outcomes.append(
                    .object([
                        "tool": .string(action.tool), "decision": .string("blocked"), "allowed": .bool(false),
                        "policy_reason": .string("tool_not_found"),
                        "risk_level": .string(GovernedCall.riskLevel(tool: action.tool)), "result": .null,
                    ]))
                _ = try await store.appendRunEvent(
                    account: job.account,
                    RunEvent(
                        runId: run.runId, type: "tool_result", ts: store.now(), status: "failed", tool: action.tool,
                        reqId: job.requestId, agentId: run.agentId, message: "tool_not_found"))
                failure = "tool_not_found"
                break
            }
        }
        let result: JSONValue = .object(["actions": .array(outcomes)])
        let mutation: LeaseMutation =
            if let failure {
                .fail(leaseId: job.leaseId, errorCode: failure, errorHash: nil, result: result)
            } else {
                .complete(leaseId: job.leaseId, result: result, resultHash: nil)
            }
        // The lease engine writes run_started (on acquire) and run_finished (here) to the run's
        // timeline, as for any lease whose metadata names a run_id.
        let reply = try await store.mutate(account: job.account, key: job.key, mutation, requestId: job.requestId)
        switch reply.value {
        case .completed, .failed: break
        default: logger.notice("mode-A run could not finish its lease", metadata: ["key": "\(job.key)"])
        }
    }

    /// Extends the lease by its TTL; false once it is not this run's any more.
    private func stillHeld(_ job: Job) async throws -> Bool {
        let reply = try await store.mutate(
            account: job.account, key: job.key, .extend(leaseId: job.leaseId, ttl: nil), requestId: job.requestId)
        if case .extended = reply.value { return true }
        return false
    }

    static func actionJSON(_ tool: String, _ o: GovernedCalls.Outcome) -> JSONValue {
        var fields: [String: JSONValue] = [
            "tool": .string(tool), "decision": .string(o.decision), "allowed": .bool(o.allowed),
            "policy_reason": .string(o.policyReason), "risk_level": .string(o.riskLevel), "result": o.result ?? .null,
        ]
        if let error = o.error { fields["error"] = .string(error) }
        return .object(fields)
    }
}
