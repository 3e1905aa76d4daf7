import Foundation
import OnceCore
import OnceStore
import Testing

/// The tools registry and the governance window, on every store (API §7, §10).
@Suite("Tool store conformance")
struct ToolStoreTests {
    static func upsert(
        _ name: String, scope: String = "global",
        secret: SealedSecret? = SealedSecret(
            sealed: [1, 2, 3, 0, 255], id: "sec_00000001", mask: "***abc"), url: String = "https://tools.example/x",
        enabled: Bool = true
    ) -> ToolUpsert {
        ToolUpsert(
            scopeId: scope, name: name, url: url, secret: secret, timeoutMs: 15_000, maxRetries: 2, enabled: enabled,
            description: "d")
    }

    @Test("create, update keeping the secret, list by scope, toggle, delete; per account", arguments: StoreFactory.all)
    func registry(factory: StoreFactory) async throws {
        var h = try await StoreHarness(factory)
        let a = try await h.account()
        let b = try await h.account()
        guard
            case .stored(let created) = try await h.store.upsertTool(
                accountId: a.accountId, Self.upsert("send_email"), maxTools: 5)
        else {
            Issue.record("not stored")
            return
        }
        #expect(created.secret?.sealed == [1, 2, 3, 0, 255])
        #expect(created.createdAt == created.updatedAt)
        h.clock.advance(seconds: 2)
        try await h.reopen()
        let updated = try await h.store.upsertTool(
            accountId: a.accountId, Self.upsert("send_email", secret: nil, url: "https://tools.example/y"), maxTools: 5)
        guard case .stored(let u) = updated else {
            Issue.record("update not stored: \(updated)")
            return
        }
        #expect(u.url == "https://tools.example/y")
        #expect(u.secret == created.secret)
        #expect(u.createdAt == created.createdAt)
        #expect(u.updatedAt > created.updatedAt)
        #expect(
            try await h.store.upsertTool(accountId: a.accountId, Self.upsert("new", secret: nil), maxTools: 5)
                == .secretRequired)
        _ = try await h.store.upsertTool(
            accountId: a.accountId, Self.upsert("send_email", scope: "agent:bot"), maxTools: 5)
        #expect(try await h.store.tools(accountId: a.accountId, scopeId: "global").map(\.name) == ["send_email"])
        #expect(
            try await h.store.tools(accountId: a.accountId, scopeId: nil).map(\.scopeId) == ["agent:bot", "global"])
        #expect(try await h.store.tools(accountId: b.accountId, scopeId: nil).isEmpty)
        #expect(try await h.store.tool(accountId: b.accountId, scopeId: "global", name: "send_email") == nil)

        let off = try await h.store.setToolEnabled(
            accountId: a.accountId, scopeId: "global", name: "send_email", enabled: false)
        #expect(off?.enabled == false)
        #expect(
            try await h.store.setToolEnabled(accountId: a.accountId, scopeId: "global", name: "nope", enabled: false)
                == nil)
        #expect(try await h.store.anySealedSecret()?.id == "sec_00000001")
        #expect(try await h.store.deleteTool(accountId: a.accountId, scopeId: "global", name: "send_email"))
        #expect(try await !h.store.deleteTool(accountId: a.accountId, scopeId: "global", name: "send_email"))
        #expect(try await h.store.tools(accountId: a.accountId, scopeId: nil).map(\.scopeId) == ["agent:bot"])
    }

    @Test("the plan's tool count holds, also under 8 racing creates", arguments: StoreFactory.all)
    func planLimit(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let a = try await h.account()
        let results = try await withThrowingTaskGroup(of: ToolWrite.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await h.store.upsertTool(accountId: a.accountId, Self.upsert("t\(i)"), maxTools: 3)
                }
            }
            return try await group.reduce(into: [ToolWrite]()) { $0.append($1) }
        }
        #expect(results.filter { if case .stored = $0 { true } else { false } }.count == 3)
        #expect(results.filter { $0 == .planLimit(max: 3) }.count == 5)
        // Updating an existing tool at the limit is fine.
        let name = try await h.store.tools(accountId: a.accountId, scopeId: nil)[0].name
        guard case .stored = try await h.store.upsertTool(accountId: a.accountId, Self.upsert(name), maxTools: 3) else {
            Issue.record("update at the limit refused")
            return
        }
    }

    @Test(
        "the governance window counts executed calls per UTC hour and day and finds the dedup result",
        arguments: StoreFactory.all)
    func window(factory: StoreFactory) async throws {
        let h = try await StoreHarness(factory)
        let a = try await h.account()
        let now = h.store.now()
        let bounds = GovernanceWindow.bounds(now: now, dedupSeconds: 600)
        func d(
            _ tool: String, _ decision: String, at: Timestamp, spend: Double = 0, hash: String = "h1",
            result: JSONValue? = nil
        ) -> AgentDecision {
            AgentDecision(
                ts: at, agentId: "bot", tool: tool, decision: decision, policyReason: "ok", riskLevel: "low",
                argsHash: hash, spendUSD: spend, result: result)
        }
        try await h.store.appendDecisions(
            accountId: a.accountId,
            [
                d("send", "executed", at: bounds.hour, spend: 1, result: .object(["n": .int(1)])),
                d("send", "executed", at: bounds.hour.adding(seconds: -1), spend: 2),
                d("send", "blocked", at: now, spend: 0),
                d("other", "executed", at: bounds.day.adding(seconds: -1), spend: 4),
                d("other", "executed", at: now, spend: 0.5, hash: "h2"),
            ])
        let w = try await h.store.governanceWindow(
            accountId: a.accountId, agentId: "bot", tool: "send", argsHash: "h1", hourStart: bounds.hour,
            dayStart: bounds.day, dedupSince: now.adding(seconds: -3_600 * 48))
        let inToday = bounds.hour.adding(seconds: -1) >= bounds.day
        #expect(w.actionsThisHour == 2)
        #expect(w.toolCallsToday == (inToday ? 2 : 1))
        #expect(w.spendToday == (inToday ? 3.5 : 1.5))
        #expect(w.dedupResult == .object(["n": .int(1)]))
        let none = try await h.store.governanceWindow(
            accountId: a.accountId, agentId: "bot", tool: "send", argsHash: "h1", hourStart: bounds.hour,
            dayStart: bounds.day, dedupSince: now)
        #expect(none.dedupResult == nil)
        let other = try await h.store.governanceWindow(
            accountId: a.accountId, agentId: "bot", tool: "other", argsHash: "h2", hourStart: bounds.hour,
            dayStart: bounds.day, dedupSince: bounds.day)
        #expect(other.dedupResult == nil)  // executed without a stored result
    }
}
