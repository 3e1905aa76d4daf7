import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    var governanceRoutes: [Route] {
        [
            Route(method: .get, path: "policies", handler: listPolicies),
            Route(method: .get, path: "policies/:agent_id", handler: getPolicy),
            Route(method: .post, path: "policies/:agent_id", handler: upsertPolicy),
            Route(method: .post, path: "policies/:agent_id/from-template", handler: policyFromTemplate),
            Route(method: .post, path: "agents/:agent_id/disable", handler: disableAgent),
            Route(method: .post, path: "agents/:agent_id/enable", handler: enableAgent),
            Route(method: .get, path: "agents/:agent_id/logs", handler: agentLogs),
            Route(method: .get, path: "agents/:agent_id/metrics", handler: agentMetrics),
        ] + toolRoutes + aiRunRoutes
    }

    // MARK: Policies (API §8)

    @Sendable func upsertPolicy(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let agentId = try context.pathSegment("agent_id")
        let input = try await decode(PolicyUpsertRequest.self, request)
        try Self.checkSameAgent(input.agentId, agentId)
        return try await storePolicy(input.patch, agentId: agentId, context: context)
    }

    @Sendable func policyFromTemplate(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(\.templates, "Policy templates")
        let agentId = try context.pathSegment("agent_id")
        let input = try await decode(PolicyTemplateRequest.self, request)
        try Self.checkSameAgent(input.agentId, agentId)
        var policy = input.template.policy
        for (name, value) in input.overrides { policy[name] = value.isNull ? nil : value }
        // A template may name tools not registered yet (API §8.2); names the caller adds in
        // `overrides` are still checked.
        let overrideTools = Set(Policy.toolNames(in: input.overrides))
        return try await storePolicy(policy, only: overrideTools, agentId: agentId, context: context)
    }

    /// Shallow-merges `patch` into the stored policy, after checking that the tools it names
    /// (all of them, or those in `only`) are registered.
    private func storePolicy(
        _ patch: [String: JSONValue], only: Set<String>? = nil, agentId: String,
        context: AuthenticatedContext
    ) async throws -> Response {
        let plan = context.account.plan
        // Fields the plan drops are not checked: they are never stored.
        let named = Policy.toolNames(in: Policy.trim(patch, plan: plan)).filter { only?.contains($0) ?? true }
        let written = try await store.transactPolicy(accountId: context.account.accountId, agentId: agentId) {
            stored, registered in
            let unknown = named.filter { !registered.contains($0) }
            if !unknown.isEmpty { return .unknownTools(unknown) }
            return .stored(Policy.merge(patch, into: stored, plan: plan))
        }
        switch written {
        case .stored(let policy):
            return JSONResponse.make(Self.policyJSON(agentId, policy))
        case .unknownTools(let tools):
            throw APIError.unknownTools(tools)
        }
    }

    private static func checkSameAgent(_ bodyAgent: String?, _ pathAgent: String) throws {
        if let bodyAgent, bodyAgent != pathAgent {
            throw APIError.invalid(
                FieldIssue(
                    type: "value_error", loc: ["body", "agent_id"],
                    msg: "Value error, agent_id differs from the path's", input: .string(bodyAgent)))
        }
    }

    static func policyJSON(_ agentId: String, _ policy: [String: JSONValue]) -> JSONValue {
        .object(["agent_id": .string(agentId), "policy": .object(policy)])
    }

    @Sendable func listPolicies(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let all = try await store.policies(accountId: context.account.accountId, agentId: nil)
        return JSONResponse.make(.array(all.map { Self.policyJSON($0.agentId, $0.policy) }))
    }

    @Sendable func getPolicy(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let agentId = try context.pathSegment("agent_id")
        guard let found = try await store.policies(accountId: context.account.accountId, agentId: agentId).first
        else { throw APIError.notFound("no policy is stored for agent \(agentId)") }
        return JSONResponse.make(Self.policyJSON(found.agentId, found.policy))
    }

    // MARK: Agents (API §9)

    @Sendable func disableAgent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await switchAgent(request, context: context, enabled: false)
    }

    @Sendable func enableAgent(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await switchAgent(request, context: context, enabled: true)
    }

    private func switchAgent(_ request: Request, context: AuthenticatedContext, enabled: Bool) async throws
        -> Response
    {
        try context.require(\.killSwitch, "The agent kill switch")
        let agentId = try context.pathSegment("agent_id")
        let input = try await AgentSwitchRequest.read(request, limit: configuration.bodyLimit)
        let state = try await store.setAgentEnabled(
            accountId: context.account.accountId, agentId: agentId, enabled: enabled, reason: input.reason)
        context.logger.info(
            enabled ? "agent enabled" : "agent disabled",
            metadata: ["agent_id": "\(agentId)", "reason": "\(state.disabledReason ?? "")"])
        return JSONResponse.make(
            .object([
                "agent_id": .string(agentId), "is_enabled": .bool(state.enabled),
                "disabled_reason": LeaseView.text(state.disabledReason),
                "disabled_at": LeaseView.time(state.disabledAt),
            ]))
    }

    @Sendable func agentLogs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(\.agentInsights, "Agent logs")
        let agentId = try context.pathSegment("agent_id")
        let query = try request.query(AgentLogsQuery.self)
        let rows = try await store.agentLogs(
            accountId: context.account.accountId, agentId: agentId, limit: query.limit)
        return JSONResponse.make(.array(rows.map(Self.decisionJSON)))
    }

    static func decisionJSON(_ d: AgentDecision) -> JSONValue {
        var fields: [String: JSONValue] = [
            "ts": .int(d.ts.unixSeconds), "agent_id": .string(d.agentId), "tool": .string(d.tool),
            "allowed": .bool(d.allowed), "decision": .string(d.decision), "policy_reason": .string(d.policyReason),
            "risk_level": .string(d.riskLevel), "args_hash": LeaseView.text(d.argsHash),
        ]
        // Omitted when 0, as the docs' example shows (API §9.3).
        if d.spendUSD != 0 { fields["spend_usd"] = .double(d.spendUSD) }
        return .object(fields)
    }

    @Sendable func agentMetrics(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try context.require(\.agentInsights, "Agent metrics")
        let agentId = try context.pathSegment("agent_id")
        let query = try request.query(AgentMetricsQuery.self)
        let m = try await store.agentMetrics(
            accountId: context.account.accountId, agentId: agentId, sinceSecondsAgo: query.period.seconds)
        return JSONResponse.make(
            .object([
                "agent_id": .string(agentId), "period": .string(query.period.rawValue),
                "total_actions": .int(m.totalActions), "blocked_actions": .int(m.blockedActions),
                "total_spend_usd": .double(m.totalSpendUSD),
                "top_tools": .array(m.topTools.map { .object(["tool": .string($0.tool), "count": .int($0.count)]) }),
            ]))
    }
}
