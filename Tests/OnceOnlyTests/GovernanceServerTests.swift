import Foundation
import OnceCore
import OnceOnly
import Testing

/// The SDK's `gov` policy and agent methods, and its 429 retry loop, against a real
/// once-server (in process, on the store `ONCE_TEST_STORE` names). Tools and `ai.run*` against
/// the real server are in ToolsServerTests.
@Suite("gov against once-server: policies, kill switch, logs, metrics, rate limits")
struct GovernanceServerTests {
    @Test("upsertPolicy merges, policyFromTemplate, listPolicies, getPolicy, unknown_tools")
    func policies() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let first = try await client.gov.upsertPolicy(
                ["max_actions_per_hour": 100, "max_spend_usd_per_day": 50.5], agentId: "support bot")
            #expect(first.agentId == "support bot")
            #expect(first.maxActionsPerHour == 100 && first.maxSpendUsdPerDay == 50.5)
            let repaired = try await client.gov.upsertPolicy(["max_spend_usd_per_day": nil], agentId: "support bot")
            #expect(repaired.policy == ["max_actions_per_hour": 100])

            let template = try await client.gov.policyFromTemplate(
                agentId: "helper", template: "support_bot", overrides: ["max_actions_per_hour": 10])
            #expect(template.maxActionsPerHour == 10)
            #expect(template.allowedTools?.contains("send_email") == true)
            #expect(template.blockedTools?.contains("process_refund") == true)

            #expect(try await client.gov.listPolicies().map(\.agentId) == ["helper", "support bot"])
            #expect(try await client.gov.getPolicy(agentId: "support bot").policy == repaired.policy)
            let ghost = await #expect(throws: OnceOnlyError.self) { try await client.gov.getPolicy(agentId: "ghost") }
            #expect(ghost?.statusCode == 404 && ghost?.errorCode == "not_found")

            let unknown = await #expect(throws: OnceOnlyError.self) {
                try await client.gov.upsertPolicy(["allowed_tools": ["stripe.charge"]], agentId: "billing")
            }
            #expect(unknown?.statusCode == 400 && unknown?.errorCode == "unknown_tools")
            #expect(unknown?.detail?["tools"] == ["stripe.charge"])
        }
    }

    @Test("disableAgent and enableAgent round-trip; agentLogs and agentMetrics read the decision log")
    func agents() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let off = try await client.gov.disableAgent(agentId: "bot", reason: "suspicious_activity_detected")
            #expect(off.agentId == "bot" && off.isEnabled == false)
            #expect(off.disabledReason == "suspicious_activity_detected")
            #expect(off.disabledAt?.hasSuffix("Z") == true)
            #expect(try await client.gov.disableAgent(agentId: "bot").disabledAt == off.disabledAt)
            let on = try await client.gov.enableAgent(agentId: "bot")
            #expect(on.isEnabled && on.disabledReason == nil && on.disabledAt == nil)

            guard case .valid(let account) = try await server.store.authenticate(apiKey: server.key) else {
                Issue.record("the fixture's key does not authenticate")
                return
            }
            let now = server.store.now()
            try await server.store.appendDecisions(
                accountId: account.accountId,
                [
                    AgentDecision(
                        ts: now.adding(seconds: -120), agentId: "bot", tool: "send_email", decision: "executed",
                        policyReason: "ok", riskLevel: "medium", argsHash: "0123456789abcdef", spendUSD: 0.25),
                    AgentDecision(
                        ts: now.adding(seconds: -60), agentId: "bot", tool: "delete_user", decision: "blocked",
                        policyReason: "tool_explicitly_blocked", riskLevel: "high", argsHash: nil, spendUSD: 0),
                ])
            let logs = try await client.gov.agentLogs(agentId: "bot", limit: 10)
            #expect(logs.map(\.tool) == ["delete_user", "send_email"])
            #expect(logs.map(\.allowed) == [false, true])
            #expect(logs.first?.policyReason == "tool_explicitly_blocked")
            #expect(logs.last?.spendUsd == 0.25)
            let metrics = try await client.gov.agentMetrics(agentId: "bot", period: "hour")
            #expect(metrics.totalActions == 2 && metrics.blockedActions == 1)
            #expect(metrics.totalSpendUsd == 0.25)
            #expect(metrics.topTools.count == 2)
        }
    }

    @Test("a 429 burst: without retries the SDK reports Retry-After; with maxRetries429 it rides them out")
    func rateLimits() async throws {
        try await withOnceServer(rateLimit: 4, rateBurst: 2) { server in
            let plain = try server.client(failOpen: false)
            let limited = await #expect(throws: OnceOnlyError.self) {
                for i in 0..<20 { _ = try await plain.checkLock(key: "burst-\(i)", ttl: 60) }
            }
            guard case .rateLimited(let retryAfter, _)? = limited else {
                Issue.record("expected rateLimited, got \(String(describing: limited))")
                return
            }
            #expect(retryAfter == 1)

            // Really waits (the bucket refills in real time), and records what it was asked to wait.
            let waits = Locked<[Double]>([])
            let patient = try server.client(
                failOpen: false, maxRetries429: 20,
                sleep: { seconds in
                    waits.withValue { $0.append(seconds) }
                    try await Task.sleep(for: .seconds(seconds))
                })
            for i in 0..<6 {
                let r = try await patient.checkLock(key: "ride-\(i)", ttl: 60)
                #expect(r.isLocked)
            }
            #expect(!waits.current.isEmpty, "the bucket never ran dry")
            #expect(waits.current.allSatisfy { $0 == 1 }, "the SDK waits the server's Retry-After: \(waits.current)")
        }
    }
}
