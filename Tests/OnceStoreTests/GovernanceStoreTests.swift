import Foundation
import OnceCore
import OnceStore
import Testing

/// Policies, the kill switch and the decision log, on every store.
@Suite("Governance store conformance")
struct GovernanceStoreTests {
    @Test("policy upserts merge, survive a restart, and are per account", arguments: StoreFactory.all)
    func policiesMergeAndPersist(factory: StoreFactory) async throws {
        var h = try await StoreHarness(factory)
        let a = try await h.account()
        let b = try await h.account()
        let first = try await h.store.transactPolicy(accountId: a.accountId, agentId: "bot") { stored, tools in
            #expect(stored == nil)
            #expect(tools.isEmpty)
            return .stored(["max_actions_per_hour": .int(5)])
        }
        #expect(first == .stored(["max_actions_per_hour": .int(5)]))
        try await h.reopen()
        let second = try await h.store.transactPolicy(accountId: a.accountId, agentId: "bot") { stored, _ in
            .stored(Policy.merge(["max_spend_usd_per_day": .double(2.5)], into: stored, plan: .agency))
        }
        #expect(second == .stored(["max_actions_per_hour": .int(5), "max_spend_usd_per_day": .double(2.5)]))
        let rejected = try await h.store.transactPolicy(accountId: a.accountId, agentId: "bot") { _, _ in
            .unknownTools(["x"])
        }
        #expect(rejected == .unknownTools(["x"]))
        let listed = try await h.store.policies(accountId: a.accountId, agentId: nil)
        #expect(listed.map(\.agentId) == ["bot"])
        #expect(listed.first?.policy["max_spend_usd_per_day"] == .double(2.5))
        #expect(try await h.store.policies(accountId: b.accountId, agentId: nil).isEmpty)
        #expect(try await h.store.policies(accountId: a.accountId, agentId: "other").isEmpty)
    }

    @Test("32 concurrent single-field upserts of one policy: no merge is lost", arguments: StoreFactory.all)
    func concurrentUpsertsKeepEveryField(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let a = try await h.account()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<32 {
                group.addTask {
                    _ = try await h.store.transactPolicy(accountId: a.accountId, agentId: "racer") { stored, _ in
                        var policy = stored ?? [:]
                        var calls = policy["max_calls_per_tool"]?.objectValue ?? [:]
                        calls["t\(i)"] = .int(Int64(i))
                        policy["max_calls_per_tool"] = .object(calls)
                        return .stored(policy)
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try await h.store.policies(accountId: a.accountId, agentId: "racer").first?.policy
        #expect(stored?["max_calls_per_tool"]?.objectValue?.count == 32)
    }

    @Test("the kill switch is idempotent and keeps the first reason and time", arguments: StoreFactory.all)
    func killSwitch(factory: StoreFactory) async throws {
        var h = try await StoreHarness(factory)
        let a = try await h.account()
        #expect(try await h.store.agentState(accountId: a.accountId, agentId: "bot") == AgentState(agentId: "bot"))
        let off = try await h.store.setAgentEnabled(
            accountId: a.accountId, agentId: "bot", enabled: false, reason: "r1")
        #expect(off.enabled == false)
        #expect(off.disabledReason == "r1")
        let at = try #require(off.disabledAt)
        h.clock.advance(seconds: 5)
        try await h.reopen()
        let again = try await h.store.setAgentEnabled(
            accountId: a.accountId, agentId: "bot", enabled: false, reason: "r2")
        #expect(again == off)
        #expect(again.disabledAt == at)
        #expect(try await h.store.agentState(accountId: a.accountId, agentId: "bot") == off)
        let on = try await h.store.setAgentEnabled(accountId: a.accountId, agentId: "bot", enabled: true, reason: nil)
        #expect(on == AgentState(agentId: "bot"))
        #expect(
            try await h.store.setAgentEnabled(accountId: a.accountId, agentId: "bot", enabled: true, reason: nil) == on)
    }

    @Test("decision logs: newest first, metrics per window, 7-day retention", arguments: StoreFactory.all)
    func decisionLogs(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let a = try await h.account()
        func decision(_ tool: String, _ decision: String, spend: Double = 0, agoSeconds: Int = 0) -> AgentDecision {
            AgentDecision(
                ts: h.store.now().adding(seconds: -agoSeconds), agentId: "bot", tool: tool, decision: decision,
                policyReason: decision == "blocked" ? "tool_explicitly_blocked" : "ok", riskLevel: "low",
                argsHash: "abcd", spendUSD: spend)
        }
        try await h.store.appendDecisions(
            accountId: a.accountId,
            [
                decision("old", "executed", spend: 9, agoSeconds: 8 * 86_400),
                decision("send_email", "executed", spend: 0.5, agoSeconds: 2 * 86_400),
                decision("send_email", "executed", spend: 0.25, agoSeconds: 2 * 3_600),
                decision("delete_user", "blocked", agoSeconds: 60),
                decision("send_email", "dedup", agoSeconds: 1),
            ])
        let logs = try await h.store.agentLogs(accountId: a.accountId, agentId: "bot", limit: 3)
        #expect(logs.map(\.tool) == ["send_email", "delete_user", "send_email"])
        #expect(logs[1].allowed == false)
        #expect(try await h.store.agentLogs(accountId: a.accountId, agentId: "nobody", limit: 10).isEmpty)

        let hour = try await h.store.agentMetrics(accountId: a.accountId, agentId: "bot", sinceSecondsAgo: 3_600)
        #expect(hour.totalActions == 2)
        #expect(hour.blockedActions == 1)
        #expect(hour.totalSpendUSD == 0)
        let day = try await h.store.agentMetrics(accountId: a.accountId, agentId: "bot", sinceSecondsAgo: 86_400)
        #expect(day.totalActions == 3)
        #expect(day.totalSpendUSD == 0.25)
        let week = try await h.store.agentMetrics(accountId: a.accountId, agentId: "bot", sinceSecondsAgo: 7 * 86_400)
        #expect(week.totalActions == 4)
        #expect(week.topTools.map(\.tool) == ["send_email", "delete_user"])
        #expect(week.topTools.map(\.count) == [3, 1])
        #expect(week.totalSpendUSD == 0.75)

        let removed = try await h.store.removeExpired(
            .agentLogs(olderThanSeconds: Retention.agentLogSeconds), limit: 10)
        #expect(removed == 1)
        #expect(try await h.store.agentLogs(accountId: a.accountId, agentId: "bot", limit: 10).count == 4)
    }
}
