import Logging
import OnceCore
import OnceStore

/// One governed tool call, decided and (when allowed) dispatched: the pipeline of API §7 shared
/// by mode B (`/v1/ai/run` with `agent_id` + `tool`) and the actions of a mode-A run.
struct GovernedCalls: Sendable {
    let store: any OnceStorage
    let configuration: ServerConfiguration

    struct Call: Sendable {
        var agentId: String
        var tool: String
        /// Without `run_id`: that names the timeline (the SDK carries it inside `args`) and is not
        /// an argument of the tool.
        var args: [String: JSONValue]
        var spendUSD: Double?
        var runId: String?
        var dryRun = false
    }

    struct Outcome: Sendable, Equatable {
        var decision: String
        var policyReason: String
        var riskLevel: String
        var result: JSONValue?
        /// Why an executed call failed (`tool_error`).
        var error: String?

        var allowed: Bool { decision != "blocked" }
        /// Nothing ran (blocked) or the backend failed: false (API §15 row 21).
        var ok: Bool { decision != "blocked" && error == nil }

        /// The mode-B answer (API §6.2); `error` is an extension shown only for `tool_error`.
        var json: JSONValue {
            var fields: [String: JSONValue] = [
                "ok": .bool(ok), "allowed": .bool(allowed), "decision": .string(decision),
                "policy_reason": .string(policyReason), "risk_level": .string(riskLevel), "result": result ?? .null,
            ]
            if let error { fields["error"] = .string(error) }
            return .object(fields)
        }
    }

    /// The enabled tool a call by `agentId` reaches: its own scope first, then `global`.
    func resolve(accountId: Int64, agentId: String, tool: String) async throws -> ToolRecord? {
        for scope in agentId.isEmpty ? ["global"] : ToolRules.lookupScopes(agentId: agentId) {
            if let found = try await store.tool(accountId: accountId, scopeId: scope, name: tool), found.enabled {
                return found
            }
        }
        return nil
    }

    /// Decides the call, dispatches it when allowed, and writes the decision to the agent log
    /// (with the `ai` usage of an executed call and, under a `run_id`, the timeline events).
    /// Throws ``APIError/toolNotFound(_:)`` when no enabled tool answers to the name.
    func perform(_ call: Call, account: AccountContext, requestId: String, logger: Logger) async throws -> Outcome {
        guard let tool = try await resolve(accountId: account.accountId, agentId: call.agentId, tool: call.tool) else {
            throw APIError.toolNotFound(
                "no enabled tool \(call.tool) in scope agent:\(call.agentId) or global (POST /v1/tools registers one)")
        }
        // A mode-A run without an agent is policy-free (API §6.1): no kill switch, no policy, no log.
        let governed = !call.agentId.isEmpty
        let state =
            governed
            ? try await store.agentState(accountId: account.accountId, agentId: call.agentId)
            : AgentState(agentId: "")
        let policy =
            governed
            ? try await store.policies(accountId: account.accountId, agentId: call.agentId).first.map {
                Policy($0.policy)
            } : nil
        let price = GovernedCall.price(policy: policy, tool: call.tool, requested: call.spendUSD)
        let hash = GovernedCall.argsHash(call.args)
        let now = store.now()
        let bounds = GovernanceWindow.bounds(now: now, dedupSeconds: account.plan.limits.defaultTTL)
        let window = try await store.governanceWindow(
            accountId: account.accountId, agentId: call.agentId, tool: call.tool, argsHash: hash,
            hourStart: bounds.hour, dayStart: bounds.day, dedupSince: bounds.dedup)
        let verdict = GovernedCall.decide(
            agentEnabled: state.enabled, policy: policy, tool: call.tool, price: price, window: window)
        let risk = GovernedCall.riskLevel(tool: call.tool)
        var outcome: Outcome
        switch verdict {
        case .blocked(let reason):
            outcome = Outcome(decision: "blocked", policyReason: reason, riskLevel: risk)
        case .dedup(let result):
            outcome = Outcome(decision: "dedup", policyReason: "tool_idempotency", riskLevel: risk, result: result)
        case .dispatch where call.dryRun:
            outcome = Outcome(
                decision: "executed", policyReason: "ok", riskLevel: risk, result: .object(["dry_run": .bool(true)]))
        case .dispatch:
            outcome = await dispatch(call, tool: tool, risk: risk, requestId: requestId, now: now, logger: logger)
        }
        // A dry run only evaluates: nothing is logged, counted or charged.
        if call.dryRun { return outcome }
        let executed = outcome.decision == "executed"
        try await store.appendDecisions(
            accountId: account.accountId,
            !governed
                ? []
                : [
                    AgentDecision(
                        ts: now, agentId: call.agentId, tool: call.tool, decision: outcome.decision,
                        policyReason: outcome.policyReason, riskLevel: risk, argsHash: hash,
                        spendUSD: executed ? price : 0,
                        result: executed && outcome.error == nil ? outcome.result : nil)
                ])
        var effects = Effects()
        if executed { effects.counters.aiUsage = 1 }
        if let runId = call.runId {
            effects.runEvents = [
                RunEvent(
                    runId: runId, type: "tool_call", ts: now, status: "start", tool: call.tool, reqId: requestId,
                    agentId: call.agentId, data: .object(["args_hash": .string(hash)])),
                RunEvent(
                    runId: runId, type: "tool_result", ts: store.now(),
                    status: outcome.error != nil ? "failed" : outcome.decision, tool: call.tool, reqId: requestId,
                    agentId: call.agentId, message: outcome.error ?? outcome.policyReason),
            ]
        }
        if !effects.counters.isZero || !effects.runEvents.isEmpty {
            try await store.record(accountId: account.accountId, effects)
        }
        logger.info(
            "governed call",
            metadata: [
                "agent_id": "\(call.agentId)", "tool": "\(call.tool)", "decision": "\(outcome.decision)",
                "policy_reason": "\(outcome.policyReason)",
            ])
        return outcome
    }

    private func dispatch(
        _ call: Call, tool: ToolRecord, risk: String, requestId: String, now: Timestamp, logger: Logger
    ) async -> Outcome {
        func failed(_ why: String) -> Outcome {
            Outcome(decision: "executed", policyReason: "tool_error", riskLevel: risk, error: why)
        }
        guard let sealed = tool.secret else { return failed("the tool has no secret") }
        guard let box = configuration.toolSecrets, let secret = try? box.open(sealed.sealed) else {
            logger.error("a tool secret does not open with the server's key", metadata: ["tool": "\(tool.name)"])
            return failed("the server cannot open the tool's secret")
        }
        let dispatcher = ToolDispatcher(
            allowPrivateURLs: configuration.allowPrivateToolURLs, retryBaseDelay: configuration.toolRetryBaseDelay)
        let body = ToolDispatcher.body(
            tool: call.tool, agentId: call.agentId, runId: call.runId, requestId: requestId, ts: now.unixSeconds,
            args: call.args)
        switch await dispatcher.call(tool, secret: secret, body: body) {
        case .success(let result):
            return Outcome(decision: "executed", policyReason: "ok", riskLevel: risk, result: result)
        case .failure(let why):
            logger.warning("tool call failed", metadata: ["tool": "\(tool.name)", "why": "\(why)"])
            return failed(why)
        }
    }
}
