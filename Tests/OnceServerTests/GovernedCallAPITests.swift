import Foundation
import OnceCore
import OncePostgres
import OnceServer
import OnceStore
import OnceStoreTestSupport
import Synchronization
import Testing

/// Mode-B governed calls (API §6.2, §7) against a real tool backend on 127.0.0.1, on the store
/// `ONCE_TEST_STORE` names.
@Suite("Governed calls API")
struct GovernedCallAPITests {
    static func withBackend(
        plan: Plan = .agency, store: (any OnceStorage)? = nil,
        _ body: @escaping @Sendable (APIClient, ToolBackend, String) async throws -> Void
    ) async throws {
        let backend = ToolBackend(secret: ToolsAPITests.secret)
        try await backend.run { base in
            let h = try await APIHarness(configuration: ToolsAPITests.configuration(), plan: plan, store: store)
            try await h.run { c in try await body(c, backend, base) }
        }
    }

    static func register(_ c: APIClient, _ name: String, _ url: String, extra: String = "", scope: String? = nil)
        async throws
    {
        let r = try await c.post("/v1/tools", ToolsAPITests.toolJSON(name, url: url, scope: scope, extra: extra))
        #expect(r.status == .ok, "\(r.text)")
    }

    static func call(_ c: APIClient, _ agent: String, _ tool: String, args: String = "{}", spend: Double? = nil)
        async throws -> APIResponse
    {
        let spendField = spend.map { #","spend_usd":\#($0)"# } ?? ""
        return try await c.post(
            "/v1/ai/run", #"{"agent_id":"\#(agent)","tool":"\#(tool)","args":\#(args)\#(spendField)}"#)
    }

    @Test("an executed call is signed; an identical one is dedup without a second backend call; logs and metrics agree")
    func executeAndDedup() async throws {
        try await Self.withBackend { c, backend, base in
            try await Self.register(c, "send_email", base + "/ok")
            let first = try await Self.call(
                c, "bot", "send_email", args: #"{"to":"a@b.c","run_id":"run_b1"}"#, spend: 0.25)
            #expect(first.status == .ok)
            #expect(
                first.json
                    == .object([
                        "ok": .bool(true), "allowed": .bool(true), "decision": .string("executed"),
                        "policy_reason": .string("ok"), "risk_level": .string("medium"),
                        "result": .object(["echo": .object(["to": .string("a@b.c")])]),
                    ]))
            let calls = backend.calls(to: "/ok")
            #expect(calls.count == 1)
            let sent = try #require(calls.first)
            #expect(sent.signatureValid)
            #expect(sent.headers["x-onceonly-signature-alg"] == "hmac_sha256")
            #expect(sent.headers["content-type"] == "application/json")
            let ts = try #require(sent.headers["x-onceonly-timestamp"].flatMap { Int64($0) })
            #expect(abs(ts - Int64(Date().timeIntervalSince1970)) < 300)
            #expect(sent.body["tool"] == .string("send_email"))
            #expect(sent.body["agent_id"] == .string("bot"))
            #expect(sent.body["run_id"] == .string("run_b1"))
            #expect(sent.body["args"] == .object(["to": .string("a@b.c")]))
            #expect(sent.body["request_id"]?.stringValue?.isEmpty == false)

            let again = try await Self.call(c, "bot", "send_email", args: #"{"to":"a@b.c"}"#, spend: 0.25)
            #expect(again.json["decision"] == .string("dedup"))
            #expect(again.json["policy_reason"] == .string("tool_idempotency"))
            #expect(again.json["ok"] == .bool(true))
            #expect(again.json["result"] == first.json["result"])
            #expect(backend.calls(to: "/ok").count == 1)

            let other = try await Self.call(c, "bot", "send_email", args: #"{"to":"x@y.z"}"#, spend: 0.25)
            #expect(other.json["decision"] == .string("executed"))
            #expect(backend.calls(to: "/ok").count == 2)

            let logs = try await c.get("/v1/agents/bot/logs")
            guard case .array(let rows) = logs.json else {
                Issue.record("logs: \(logs.text)")
                return
            }
            #expect(rows.compactMap { $0["decision"]?.stringValue } == ["executed", "dedup", "executed"])
            #expect(rows.compactMap { $0["spend_usd"] } == [.double(0.25), .double(0.25)])
            #expect(rows[0]["args_hash"] != rows[1]["args_hash"])
            #expect(rows[1]["args_hash"] == rows[2]["args_hash"])
            let metrics = try await c.get("/v1/agents/bot/metrics?period=hour")
            #expect(metrics.json["total_actions"] == .int(3))
            #expect(metrics.json["blocked_actions"] == .int(0))
            #expect(metrics.json["total_spend_usd"] == .double(0.5))
            #expect(metrics.json["top_tools"] == .array([.object(["tool": .string("send_email"), "count": .int(3)])]))
            #expect(try await c.get("/v1/usage?kind=ai").json["usage"] == .int(2))
            let timeline = try await c.get("/v1/runs/run_b1")
            guard case .array(let events)? = timeline.json["events"] else {
                Issue.record("timeline: \(timeline.text)")
                return
            }
            #expect(events.compactMap { $0["type"]?.stringValue } == ["tool_call", "tool_result"])
            #expect(events.last?["status"] == .string("executed"))
        }
    }

    @Test("every policy_reason by a real call, the kill switch on and off, tool_not_found for absent or disabled tools")
    func everyReason() async throws {
        try await Self.withBackend { c, backend, base in
            for name in ["send_email", "delete_user", "read_kb", "charge_card", "create_ticket", "off_tool"] {
                try await Self.register(c, name, base + "/ok")
            }
            try await Self.register(c, "broken", base + "/bad", extra: #""max_retries":3"#)
            let policy = try await c.post(
                "/v1/policies/bot",
                #"{"allowed_tools":["send_email","read_kb","charge_card","broken"],"blocked_tools":["delete_user"],"max_actions_per_hour":100,"max_calls_per_tool":{"read_kb":1},"max_spend_usd_per_day":1}"#
            )
            #expect(policy.status == .ok)
            _ = try await c.post("/v1/policies/hourly", #"{"max_actions_per_hour":1}"#)

            func expectBlocked(_ r: APIResponse, _ reason: String, risk: String? = nil) {
                #expect(r.status == .ok)
                #expect(r.json["decision"] == .string("blocked"), "\(r.text)")
                #expect(r.json["policy_reason"] == .string(reason), "\(r.text)")
                #expect(r.json["allowed"] == .bool(false))
                #expect(r.json["ok"] == .bool(false))
                #expect(r.json["result"] == .null)
                if let risk { #expect(r.json["risk_level"] == .string(risk)) }
            }
            expectBlocked(try await Self.call(c, "bot", "delete_user"), "tool_explicitly_blocked", risk: "high")
            expectBlocked(try await Self.call(c, "bot", "create_ticket"), "tool_not_in_allowed_list", risk: "medium")
            #expect(try await Self.call(c, "bot", "read_kb", args: #"{"q":1}"#).json["decision"] == .string("executed"))
            expectBlocked(try await Self.call(c, "bot", "read_kb", args: #"{"q":2}"#), "max_calls_per_tool_exceeded")
            let charged = try await Self.call(c, "bot", "charge_card", args: #"{"n":1}"#, spend: 0.75)
            #expect(charged.json["decision"] == .string("executed"))
            #expect(charged.json["risk_level"] == .string("high"))
            expectBlocked(
                try await Self.call(c, "bot", "charge_card", args: #"{"n":2}"#, spend: 0.5),
                "max_spend_usd_per_day_exceeded")
            #expect(
                try await Self.call(c, "hourly", "send_email", args: #"{"n":1}"#).json["decision"]
                    == .string("executed"))
            expectBlocked(
                try await Self.call(c, "hourly", "send_email", args: #"{"n":2}"#), "max_actions_per_hour_exceeded")

            let broken = try await Self.call(c, "bot", "broken")
            #expect(broken.json["decision"] == .string("executed"))
            #expect(broken.json["policy_reason"] == .string("tool_error"))
            #expect(broken.json["allowed"] == .bool(true))
            #expect(broken.json["ok"] == .bool(false))
            #expect(backend.calls(to: "/bad").count == 1)  // a 400 is not retried

            _ = try await c.post("/v1/agents/bot/disable", #"{"reason":"test"}"#)
            expectBlocked(try await Self.call(c, "bot", "send_email", args: #"{"k":1}"#), "agent_disabled")
            _ = try await c.post("/v1/agents/bot/enable", "{}")
            #expect(
                try await Self.call(c, "bot", "send_email", args: #"{"k":1}"#).json["decision"] == .string("executed"))

            let missing = try await Self.call(c, "bot", "no_such_tool")
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "tool_not_found")
            _ = try await c.post("/v1/tools/off_tool/toggle", #"{"enabled":false}"#)
            #expect(try await Self.call(c, "other", "off_tool").errorCode == "tool_not_found")
            // An agent-scoped tool is found before the global one.
            try await Self.register(c, "off_tool", base + "/value", scope: "agent:other")
            #expect(try await Self.call(c, "other", "off_tool").json["result"] == .object(["value": .int(42)]))

            let logs = try await c.get("/v1/agents/bot/logs")
            guard case .array(let rows) = logs.json else {
                Issue.record("logs: \(logs.text)")
                return
            }
            #expect(
                rows.reversed().compactMap { $0["policy_reason"]?.stringValue } == [
                    "tool_explicitly_blocked", "tool_not_in_allowed_list", "ok", "max_calls_per_tool_exceeded", "ok",
                    "max_spend_usd_per_day_exceeded", "tool_error", "agent_disabled", "ok",
                ])
            let metrics = try await c.get("/v1/agents/bot/metrics")
            #expect(metrics.json["total_actions"] == .int(9))
            #expect(metrics.json["blocked_actions"] == .int(5))
            #expect(metrics.json["total_spend_usd"] == .double(0.75))
        }
    }

    @Test(
        "a backend that answers 500 then 200 is retried with one request_id; one that times out is retried then tool_error"
    )
    func retries() async throws {
        try await Self.withBackend { c, backend, base in
            try await Self.register(c, "flaky", base + "/flaky", extra: #""max_retries":2"#)
            try await Self.register(c, "slow", base + "/slow", extra: #""timeout_ms":250,"max_retries":1"#)
            let flaky = try await Self.call(c, "bot", "flaky")
            #expect(flaky.json["decision"] == .string("executed"))
            #expect(flaky.json["ok"] == .bool(true))
            #expect(flaky.json["result"] == .object(["recovered": .bool(true)]))
            let attempts = backend.calls(to: "/flaky")
            #expect(attempts.count == 2)
            #expect(Set(attempts.compactMap { $0.body["request_id"] }).count == 1)
            for attempt in attempts { #expect(attempt.signatureValid) }

            let started = ContinuousClock.now
            let slow = try await Self.call(c, "bot", "slow")
            #expect(slow.json["policy_reason"] == .string("tool_error"), "\(slow.text)")
            #expect(slow.json["ok"] == .bool(false))
            #expect(slow.json["error"]?.stringValue?.contains("timeout") == true, "\(slow.text)")
            #expect(ContinuousClock.now - started < .seconds(2.5))
            #expect(backend.calls(to: "/slow").count == 2)
            // The flaky call did succeed, so the same call again is answered from that result.
            _ = try await Self.call(c, "bot", "flaky")
            #expect(backend.calls(to: "/flaky").count == 2)  // the first success is reused
        }
    }

    @Test("bad mode-B bodies: both modes or neither, spend below 0, args not an object")
    func badBodies() async throws {
        try await Self.withBackend { c, _, _ in
            #expect(
                try await c.post("/v1/ai/run", #"{"key":"k","agent_id":"a","tool":"t"}"#).status
                    == .unprocessableContent)
            #expect(try await c.post("/v1/ai/run", #"{"ttl":5}"#).status == .unprocessableContent)
            let bad = try await c.post("/v1/ai/run", #"{"agent_id":"a","tool":"t","spend_usd":-1,"args":[1]}"#)
            #expect(bad.status == .unprocessableContent)
            #expect(Set(bad.issueLocations) == ["body.spend_usd", "body.args"])
            #expect(try await c.post("/v1/ai/run", #"{"agent_id":"a"}"#).issueLocations == ["body.tool"])
        }
    }
}

/// A wall clock the test moves forward, shared by the store and the test.
final class MovableClock: Sendable {
    let offsetMs = Mutex<Int64>(0)
    var now: Timestamp { Timestamp(milliseconds: SQLiteStore.systemClock().milliseconds + offsetMs.withLock { $0 }) }
    func advance(seconds: Int64) { offsetMs.withLock { $0 += seconds * 1000 } }

    /// A fresh store of the kind `ONCE_TEST_STORE` names, on this clock.
    func store() async throws -> any OnceStorage {
        if TestStores.kind == .sqlite {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("once-clock-\(UUID().uuidString)")
            return try SQLiteStore(path: dir.appendingPathComponent("once.sqlite").path, clock: { self.now })
        }
        var options = PostgresStore.Options()
        options.clockAdjustment = { self.offsetMs.withLock { $0 } }
        return try await TestStores.make(options: options)
    }
}

@Suite("Governed call windows")
struct GovernedCallWindowTests {
    @Test("hour and day caps and the dedup window reset at their UTC boundaries")
    func capsReset() async throws {
        let clock = MovableClock()
        // Ten minutes into the next UTC day, so the steps below cross no midnight by accident.
        let s = clock.now.unixSeconds
        clock.advance(seconds: (s / 86_400 + 1) * 86_400 + 600 - s)
        let store = try await clock.store()
        try await GovernedCallAPITests.withBackend(store: store) { c, backend, base in
            try await GovernedCallAPITests.register(c, "send_email", base + "/ok")
            _ = try await c.post(
                "/v1/policies/bot", #"{"max_actions_per_hour":1,"max_calls_per_tool":{"send_email":2}}"#)
            func decision(_ args: String) async throws -> String {
                // A write first, so a PostgreSQL store has seen its moved clock.
                _ = try await c.post("/v1/check-lock", #"{"key":"tick-\#(UUID().uuidString)"}"#)
                let r = try await GovernedCallAPITests.call(c, "bot", "send_email", args: args)
                return (r.json["policy_reason"]?.stringValue ?? r.text)
            }
            #expect(try await decision(#"{"n":1}"#) == "ok")
            #expect(try await decision(#"{"n":2}"#) == "max_actions_per_hour_exceeded")
            clock.advance(seconds: 3_600)
            #expect(try await decision(#"{"n":2}"#) == "ok")
            clock.advance(seconds: 3_600)
            #expect(try await decision(#"{"n":3}"#) == "max_calls_per_tool_exceeded")
            // Identical to the first call, still inside the dedup window (a day on agency)
            // but blocked first by the per-tool cap: caps come before dedup (API §7).
            #expect(try await decision(#"{"n":1}"#) == "max_calls_per_tool_exceeded")
            clock.advance(seconds: 86_400)
            #expect(try await decision(#"{"n":3}"#) == "ok")
            clock.advance(seconds: 3_600)
            #expect(try await decision(#"{"n":3}"#) == "tool_idempotency")
            #expect(backend.calls(to: "/ok").count == 3)
        }
    }
}
