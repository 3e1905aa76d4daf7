import Foundation
import OnceOnly
import Testing

/// Runs `body` against the documented-shape stand-in for endpoints once-server lacks so far.
func withFakeAPI<T>(
    pollsBeforeDone: Int = 2, _ body: (ScriptedServer, OnceOnlyClient) async throws -> T
) async throws -> T {
    let fake = FakeOnceAPI(pollsBeforeDone: pollsBeforeDone)
    return try await withScriptedServer(fallback: { fake.handle($0) }) { server in
        try await body(server, try server.client(sleep: { _ in }))
    }
}

@Suite("gov: policies, agents, tools (documented-shape test server)")
struct GovernanceTests {
    @Test("upsertPolicy, policyFromTemplate, listPolicies, getPolicy")
    func policies() async throws {
        try await withFakeAPI { server, client in
            let policy = try await client.gov.upsertPolicy(
                [
                    "agent_id": "ignored", "allowed_tools": ["send_email", "create_ticket"],
                    "blocked_tools": ["delete_user"],
                    "max_actions_per_hour": 100, "max_spend_usd_per_day": 50.5,
                ],
                agentId: " support bot ")
            #expect(policy.agentId == "support bot")
            #expect(policy.allowedTools == ["send_email", "create_ticket"])
            #expect(policy.blockedTools == ["delete_user"])
            #expect(policy.maxActionsPerHour == 100 && policy.maxSpendUsdPerDay == 50.5)
            #expect(policy.maxCallsPerTool == nil && policy.pricingRules == nil)
            #expect(policy.raw["policy"] != nil)
            #expect(server.requests.last?.path == "/v1/policies/support%20bot")
            #expect(server.requests.last?.json?["agent_id"] == "support bot", "agent_id in the body equals the path")

            let fromBody = try await client.gov.upsertPolicy(
                [
                    "agent_id": "billing", "max_calls_per_tool": ["stripe.charge": 5],
                    "pricing_rules": [["tool": "stripe.charge", "price_usd": 0.5]],
                ])
            #expect(fromBody.agentId == "billing")
            #expect(fromBody.maxCallsPerTool == ["stripe.charge": 5])
            #expect(fromBody.pricingRules == [["tool": "stripe.charge", "price_usd": 0.5]])
            await #expect(throws: OnceOnlyError.invalidArgument("upsertPolicy requires agentId")) {
                try await client.gov.upsertPolicy(["allowed_tools": []], agentId: "  ")
            }

            let templated = try await client.gov.policyFromTemplate(
                agentId: "strict_bot", template: "strict", overrides: ["allowed_tools": ["read_kb"]])
            #expect(templated.maxActionsPerHour == 50 && templated.allowedTools == ["read_kb"])
            #expect(
                server.requests.last?.json == [
                    "agent_id": "strict_bot", "template": "strict", "overrides": ["allowed_tools": ["read_kb"]],
                ])
            _ = try await client.gov.policyFromTemplate(agentId: "plain", template: "moderate")
            #expect(server.requests.last?.json?["overrides"] == [:], "overrides default to {}")

            let all = try await client.gov.listPolicies()
            #expect(all.map(\.agentId) == ["billing", "plain", "strict_bot", "support bot"])
            #expect(
                try await client.gov.getPolicy(agentId: "support bot").allowedTools == ["send_email", "create_ticket"])
            let ghost = await #expect(throws: OnceOnlyError.self) { try await client.gov.getPolicy(agentId: "ghost") }
            #expect(ghost?.statusCode == 404 && ghost?.errorCode == "not_found")
        }
    }

    @Test("disableAgent, enableAgent, agentLogs, agentMetrics")
    func agents() async throws {
        try await withFakeAPI { server, client in
            let disabled = try await client.gov.disableAgent(
                agentId: "support_bot", reason: "suspicious_activity_detected")
            #expect(!disabled.isEnabled)
            #expect(disabled.disabledReason == "suspicious_activity_detected" && disabled.disabledAt != nil)
            #expect(server.requests.last?.json == ["reason": "suspicious_activity_detected"])
            let enabled = try await client.gov.enableAgent(agentId: "support_bot")
            #expect(enabled.isEnabled && enabled.disabledReason == nil && enabled.agentId == "support_bot")
            #expect(server.requests.last?.json == [:], "an empty reason sends {}")
            #expect(AgentStatus(raw: ["enabled": true], fallbackAgentId: "x").isEnabled, "enabled is accepted too")

            let logs = try await client.gov.agentLogs(agentId: "support_bot", limit: 5)
            #expect(server.requests.last?.query == ["limit": "5"])
            #expect(logs.count == 2, "non-object rows are dropped")
            #expect(logs[0].allowed && logs[0].decision == "executed" && logs[0].policyReason == "ok")
            #expect(logs[0].reason == "ok" && logs[0].spendUsd == 0.001 && logs[0].argsHash == "a1b2c3d4")
            #expect(logs[0].ts == 1_705_322_450 && logs[0].tool == "send_email" && logs[0].riskLevel == "low")
            #expect(!logs[1].allowed && logs[1].decision == "blocked", "decision falls back to allowed/blocked")
            #expect(logs[1].policyReason == "tool_not_in_allowed_list" && logs[1].reason == "tool_not_in_allowed_list")
            #expect(logs[1].spendUsd == 0)

            let metrics = try await client.gov.agentMetrics(agentId: "support_bot", period: "week")
            #expect(metrics.period == "week" && metrics.totalActions == 450 && metrics.blockedActions == 12)
            #expect(metrics.totalSpendUsd == 125.5 && metrics.topTools.count == 2)
            #expect(metrics.topTools.first?["tool"] == "send_email")
            #expect(AgentMetrics(raw: [:], fallbackAgentId: "a", fallbackPeriod: "hour").period == "hour")
        }
    }

    @Test("createTool, listTools, getTool, toggleTool, deleteTool")
    func tools() async throws {
        try await withFakeAPI { server, client in
            let created = try await client.gov.createTool([
                "name": "send_email", "url": "https://api.example.com/v1/send-email",
                "auth": ["type": "hmac_sha256", "secret": "supersecret"], "timeout_ms": 15000,
                "description": "Sends transactional e-mail",
            ])
            #expect(created["name"] == "send_email" && created["scope_id"] == "global")
            #expect(created["auth"] == nil && created["has_secret"] == true)
            #expect(server.requests.last?.json?["auth"]?["secret"] == "supersecret", "the body is sent as given")
            _ = try await client.gov.createTool(["name": "private", "url": "https://x", "scope_id": "agent:bot"])

            #expect(try await client.gov.listTools().map { $0["name"] } == ["send_email"])
            #expect(try await client.gov.listTools(scopeId: "agent:bot").map { $0["name"] } == ["private"])
            #expect(server.requests.last?.query == ["scope_id": "agent:bot"])
            #expect(try await client.gov.getTool(name: "send_email")["enabled"] == true)

            let toggled = try await client.gov.toggleTool(name: "send_email", enabled: false)
            #expect(toggled == ["name": "send_email", "enabled": false])
            #expect(server.requests.last?.path == "/v1/tools/send_email/toggle")
            #expect(server.requests.last?.query == ["scope_id": "global"])
            #expect(try await client.gov.getTool(name: "send_email")["enabled"] == false)

            let deleted = try await client.gov.deleteTool(name: "private", scopeId: "agent:bot")
            #expect(deleted == ["ok": true, "deleted": "private", "scope_id": "agent:bot"])
            #expect(server.requests.last?.method == "DELETE" && server.requests.last?.body.isEmpty == true)
            await #expect(throws: OnceOnlyError.self) {
                try await client.gov.getTool(name: "private", scopeId: "agent:bot")
            }
        }
    }
}
