import Foundation
import HTTPTypes
import OnceCore
import OnceServer
import OnceStore
import Testing

/// Policies, templates, the kill switch, agent logs and metrics over HTTP (API §8, §9), on the
/// store `ONCE_TEST_STORE` names.
@Suite("Governance API")
struct GovernanceAPITests {
    @Test("policy upsert merges shallowly, null deletes, get and list show what is stored")
    func upsertMergesAndDeletes() async throws {
        let h = try await APIHarness()
        try await h.run { c in
            let first = try await c.post(
                "/v1/policies/support_bot",
                #"{"agent_id":"support_bot","max_actions_per_hour":100,"max_spend_usd_per_day":50}"#)
            #expect(first.status == .ok)
            #expect(first.json["agent_id"] == .string("support_bot"))
            #expect(first.json["policy"]?["max_actions_per_hour"] == .int(100))
            let second = try await c.post(
                "/v1/policies/support_bot", #"{"max_spend_usd_per_day":null,"max_calls_per_tool":{}}"#)
            #expect(second.status == .ok)
            #expect(
                second.json["policy"]
                    == .object(["max_actions_per_hour": .int(100), "max_calls_per_tool": .object([:])]))
            let got = try await c.get("/v1/policies/support_bot")
            #expect(got.json == second.json)
            _ = try await c.post("/v1/policies/a%2Fb", #"{"blocked_tools":[]}"#)
            let list = try await c.get("/v1/policies")
            guard case .array(let items) = list.json else {
                Issue.record("not an array: \(list.text)")
                return
            }
            #expect(items.compactMap { $0["agent_id"]?.stringValue } == ["a/b", "support_bot"])
            let missing = try await c.get("/v1/policies/nobody")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "not_found")
        }
    }

    @Test("a policy naming unregistered tools is refused with 400 unknown_tools and stores nothing")
    func unknownTools() async throws {
        let h = try await APIHarness()
        try await h.run { c in
            let r = try await c.post(
                "/v1/policies/bot",
                #"{"allowed_tools":["send_email"],"pricing_rules":[{"tool":"stripe.charge","price_usd":1}]}"#)
            #expect(r.status == .badRequest)
            #expect(r.errorCode == "unknown_tools")
            #expect(r.json["detail"]?["tools"] == .array([.string("send_email"), .string("stripe.charge")]))
            #expect(try await c.get("/v1/policies/bot").status == .notFound)
        }
    }

    @Test("bad policy bodies: every bad field in one 422, a differing agent_id too")
    func validation() async throws {
        let h = try await APIHarness()
        try await h.run { c in
            let bad = try await c.post(
                "/v1/policies/bot",
                #"{"allowed_tools":"send_email","max_actions_per_hour":-1,"max_spend_usd_per_day":"x"}"#)
            #expect(bad.status == .unprocessableContent)
            #expect(
                Set(bad.issueLocations)
                    == ["body.allowed_tools", "body.max_actions_per_hour", "body.max_spend_usd_per_day"])
            let other = try await c.post("/v1/policies/bot", #"{"agent_id":"other","max_actions_per_hour":1}"#)
            #expect(other.status == .unprocessableContent)
            #expect(other.issueLocations == ["body.agent_id"])
            #expect(try await c.get("/v1/policies/bot").status == .notFound)
        }
    }

    @Test("plans trim what they do not include: free drops caps, starter drops pricing rules")
    func trimming() async throws {
        let free = try await APIHarness(plan: .free)
        try await free.run { c in
            let r = try await c.post(
                "/v1/policies/bot",
                #"{"blocked_tools":[],"max_actions_per_hour":5,"max_calls_per_tool":{"unregistered":1}}"#)
            #expect(r.status == .ok, "\(r.text)")
            #expect(r.json["policy"] == .object(["blocked_tools": .array([])]))
        }
        let starter = try await APIHarness(plan: .starter)
        try await starter.run { c in
            let r = try await c.post(
                "/v1/policies/bot", #"{"max_actions_per_hour":5,"pricing_rules":[{"tool":"x","price_usd":1}]}"#)
            #expect(r.status == .ok, "\(r.text)")
            #expect(r.json["policy"] == .object(["max_actions_per_hour": .int(5)]))
        }
    }

    @Test("from-template: template values, overrides on top, unregistered template tools allowed; gated below pro")
    func templates() async throws {
        let h = try await APIHarness()
        try await h.run { c in
            let r = try await c.post(
                "/v1/policies/support/from-template",
                #"{"agent_id":"support","template":"support_bot","overrides":{"max_actions_per_hour":10}}"#)
            #expect(r.status == .ok, "\(r.text)")
            let policy = r.json["policy"]
            #expect(policy?["max_actions_per_hour"] == .int(10))
            #expect(policy?["max_spend_usd_per_day"] == .int(50))
            #expect(policy?["allowed_tools"]?.stringArray?.contains("send_email") == true)
            #expect(policy?["max_calls_per_tool"]?["send_email"] == .int(500))
            let strict = try await c.post("/v1/policies/s/from-template", #"{"template":"strict","overrides":{}}"#)
            #expect(
                strict.json["policy"] == .object(["max_actions_per_hour": .int(50), "max_spend_usd_per_day": .int(10)]))
            let overrideTool = try await c.post(
                "/v1/policies/s/from-template", #"{"template":"strict","overrides":{"allowed_tools":["nope"]}}"#)
            #expect(overrideTool.status == .badRequest)
            #expect(overrideTool.errorCode == "unknown_tools")
            let unknown = try await c.post("/v1/policies/s/from-template", #"{"template":"lenient"}"#)
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.issueLocations == ["body.template"])
            let wrongMethod = try await c.get("/v1/policies/s/from-template")
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "POST")
        }
        let starter = try await APIHarness(plan: .starter)
        try await starter.run { c in
            let r = try await c.post("/v1/policies/s/from-template", #"{"template":"strict","overrides":{}}"#)
            #expect(r.status == .forbidden)
            #expect(r.errorCode == "feature_not_available")
        }
    }

    @Test("kill switch: disable and enable are idempotent and show reason and time; gated below pro")
    func killSwitch() async throws {
        let h = try await APIHarness()
        try await h.run { c in
            let off = try await c.post("/v1/agents/bot/disable", #"{"reason":"suspicious_activity_detected"}"#)
            #expect(off.status == .ok)
            #expect(off.json["agent_id"] == .string("bot"))
            #expect(off.json["is_enabled"] == .bool(false))
            #expect(off.json["disabled_reason"] == .string("suspicious_activity_detected"))
            let at = try #require(off.json["disabled_at"]?.stringValue)
            #expect(at.hasSuffix("Z"))
            let again = try await c.request(.post, "/v1/agents/bot/disable")
            #expect(again.status == .ok)
            #expect(again.json == off.json)
            let on = try await c.post("/v1/agents/bot/enable", "{}")
            #expect(
                on.json
                    == .object([
                        "agent_id": .string("bot"), "is_enabled": .bool(true), "disabled_reason": .null,
                        "disabled_at": .null,
                    ]))
            #expect(try await c.post("/v1/agents/bot/enable", "{}").json == on.json)
        }
        let starter = try await APIHarness(plan: .starter)
        try await starter.run { c in
            let r = try await c.post("/v1/agents/bot/disable", "{}")
            #expect(r.status == .forbidden)
            #expect(r.errorCode == "feature_not_available")
        }
    }

    @Test("a handler's log line carries the request id of its response and the account")
    func requestIdInLogs() async throws {
        let logs = CapturedLogs()
        let h = try await APIHarness(logger: logs.logger)
        try await h.run { c in
            let r = try await c.request(
                .post, "/v1/agents/bot/disable", json: #"{"reason":"audit"}"#, headers: [.requestId: "req-audit-1"])
            #expect(r.status == .ok)
        }
        let line = try #require(logs.records.withLock { $0 }.first { $0.message == "agent disabled" })
        #expect(line.metadata["request_id"] == "req-audit-1")
        #expect(line.metadata["account_id"] != nil)
        #expect(line.metadata["agent_id"] == "bot")
    }

    @Test("agent logs and metrics show the stored decisions; bounds are checked; unknown agents are empty")
    func logsAndMetrics() async throws {
        let h = try await APIHarness()
        guard case .valid(let account) = try await h.store.authenticate(apiKey: h.key) else {
            Issue.record("key does not authenticate")
            return
        }
        let now = h.store.now()
        func d(_ tool: String, _ decision: String, spend: Double, ago: Int) -> AgentDecision {
            AgentDecision(
                ts: now.adding(seconds: -ago), agentId: "bot", tool: tool, decision: decision,
                policyReason: decision == "blocked" ? "tool_not_in_allowed_list" : "ok", riskLevel: "medium",
                argsHash: "a1b2c3d4a1b2c3d4", spendUSD: spend)
        }
        try await h.store.appendDecisions(
            accountId: account.accountId,
            [
                d("send_email", "executed", spend: 0.001, ago: 2 * 3_600),
                d("delete_user", "blocked", spend: 0, ago: 30),
            ])
        try await h.run { c in
            let logs = try await c.get("/v1/agents/bot/logs?limit=10")
            #expect(logs.status == .ok)
            guard case .array(let rows) = logs.json, rows.count == 2 else {
                Issue.record("logs: \(logs.text)")
                return
            }
            #expect(rows[0]["tool"] == .string("delete_user"))
            #expect(rows[0]["allowed"] == .bool(false))
            #expect(rows[0]["spend_usd"] == nil)
            #expect(rows[1]["spend_usd"] == .double(0.001))
            #expect(rows[1]["args_hash"] == .string("a1b2c3d4a1b2c3d4"))
            #expect(rows[1]["ts"]?.integerValue == now.adding(seconds: -2 * 3_600).unixSeconds)
            #expect(try await c.get("/v1/agents/nobody/logs").json == .array([]))
            #expect(try await c.get("/v1/agents/bot/logs?limit=0").status == .unprocessableContent)
            #expect(try await c.get("/v1/agents/bot/logs?limit=501").status == .unprocessableContent)

            let hour = try await c.get("/v1/agents/bot/metrics?period=hour")
            #expect(hour.json["total_actions"] == .int(1))
            #expect(hour.json["blocked_actions"] == .int(1))
            let day = try await c.get("/v1/agents/bot/metrics")
            #expect(day.json["period"] == .string("day"))
            #expect(day.json["total_actions"] == .int(2))
            #expect(day.json["total_spend_usd"]?.numberValue == 0.001)
            #expect(
                day.json["top_tools"]
                    == .array([
                        .object(["tool": .string("delete_user"), "count": .int(1)]),
                        .object(["tool": .string("send_email"), "count": .int(1)]),
                    ]))
            let bad = try await c.get("/v1/agents/bot/metrics?period=month")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.issueLocations == ["query.period"])
        }
        let starter = try await APIHarness(plan: .starter)
        try await starter.run { c in
            let logs = try await c.get("/v1/agents/bot/logs")
            let metrics = try await c.get("/v1/agents/bot/metrics")
            #expect(logs.errorCode == "feature_not_available")
            #expect(metrics.errorCode == "feature_not_available")
        }
    }
}

/// Per-key token buckets (API §1.3, §15 row 34).
@Suite("Rate limits")
struct RateLimitAPITests {
    @Test("a burst beyond the bucket gets 429 rate_limited with an integer Retry-After, counted per day")
    func burstIsLimited() async throws {
        var configuration = ServerConfiguration()
        configuration.rateLimit = 0.5
        configuration.rateBurst = 3
        let h = try await APIHarness(configuration: configuration)
        let other = try await h.store.createKey(plan: .agency, name: "other", accountId: nil).key
        try await h.run { c in
            for _ in 0..<3 {
                let r = try await c.get("/v1/me")
                #expect(r.status == .ok)
            }
            let limited = try await c.get("/v1/me")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.json == .object(["detail": .object(["error": .string("rate_limited")])]))
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...2).contains(retryAfter))
            #expect(limited.headers[.requestId] != nil)
            // Another key has its own bucket.
            let fresh = try await c.request(.get, "/v1/me", auth: "Bearer \(other)")
            #expect(fresh.status == .ok)
            // A bad key is refused before any bucket is touched.
            #expect(try await c.request(.get, "/v1/me", auth: "Bearer once_live_nope").status == .forbidden)
        }
        guard case .valid(let account) = try await h.store.authenticate(apiKey: h.key) else {
            Issue.record("key does not authenticate")
            return
        }
        let today = h.store.now().day
        let metrics = try await h.store.metrics(account: account, fromDay: today, toDay: today)
        #expect(metrics[today]?[.rateLimited] == 1)
    }

    @Test("the bucket refills at the rate: after Retry-After the key is served again")
    func refills() async throws {
        var configuration = ServerConfiguration()
        configuration.rateLimit = 20
        configuration.rateBurst = 1
        let h = try await APIHarness(configuration: configuration)
        try await h.run { c in
            #expect(try await c.get("/v1/me").status == .ok)
            var served = false
            // 20 tokens a second: within a few seconds one is back, however loaded the machine.
            for _ in 0..<200 where !served {
                let r = try await c.get("/v1/me")
                if r.status == .ok {
                    served = true
                } else {
                    #expect(r.status == .tooManyRequests)
                    try await Task.sleep(for: .milliseconds(25))
                }
            }
            #expect(served)
        }
    }

    @Test("rate 0 turns limiting off")
    func off() async throws {
        var configuration = ServerConfiguration()
        configuration.rateLimit = 0
        configuration.rateBurst = 1
        let h = try await APIHarness(configuration: configuration)
        try await h.run { c in
            for _ in 0..<20 {
                let r = try await c.get("/v1/me")
                #expect(r.status == .ok)
            }
        }
    }
}
