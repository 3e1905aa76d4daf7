import Foundation
import OnceCore
import OnceServer
import OnceStore
import Testing

/// Mode-A keyed runs (API §6.1): the lease logic of /ai/lease and an in-process worker that
/// governs each action, writes the timeline and completes or fails the lease.
@Suite("Keyed runs API")
struct AIRunAPITests {
    /// Polls /v1/ai/status until the run is completed or failed.
    static func finished(_ c: APIClient, _ key: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let status = try await c.get("/v1/ai/status?key=\(key)").json["status"]?.stringValue ?? ""
            if status == "completed" || status == "failed" { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        return "still running"
    }

    static func run(
        _ c: APIClient, _ key: String, agent: String? = "bot", runId: String? = nil, actions: String,
        extra: String = ""
    ) async throws -> APIResponse {
        var meta = [#""actions":\#(actions)"#]
        if let agent { meta.append(#""agent_id":"\#(agent)""#) }
        if let runId { meta.append(#""run_id":"\#(runId)""#) }
        if !extra.isEmpty { meta.append(extra) }
        return try await c.post(
            "/v1/ai/run", #"{"key":"\#(key)","ttl":600,"metadata":{\#(meta.joined(separator: ","))}}"#)
    }

    @Test("an acquired run works its actions, completes with their outcomes and writes the timeline")
    func completes() async throws {
        try await GovernedCallAPITests.withBackend { c, backend, base in
            try await GovernedCallAPITests.register(c, "send_email", base + "/ok")
            try await GovernedCallAPITests.register(c, "delete_user", base + "/ok")
            _ = try await c.post("/v1/policies/bot", #"{"blocked_tools":["delete_user"]}"#)
            let started = try await Self.run(
                c, "support_chat_001", runId: "run_a1",
                actions: #"[{"tool":"send_email","args":{"to":"u@x.y"},"spend_usd":0.001},{"tool":"delete_user"}]"#)
            #expect(started.status == .ok)
            #expect(started.json["status"] == .string("acquired"))
            #expect(started.json["charged"] == .int(1))
            #expect(started.json["allowed"] == nil && started.json["decision"] == nil)
            #expect(try await Self.finished(c, "support_chat_001") == "completed")
            let result = try await c.get("/v1/ai/result?key=support_chat_001")
            #expect(
                result.json["result"]
                    == .object([
                        "actions": .array([
                            .object([
                                "tool": .string("send_email"), "decision": .string("executed"), "allowed": .bool(true),
                                "policy_reason": .string("ok"), "risk_level": .string("medium"),
                                "result": .object(["echo": .object(["to": .string("u@x.y")])]),
                            ]),
                            .object([
                                "tool": .string("delete_user"), "decision": .string("blocked"), "allowed": .bool(false),
                                "policy_reason": .string("tool_explicitly_blocked"), "risk_level": .string("high"),
                                "result": .null,
                            ]),
                        ])
                    ]), "\(result.text)")
            #expect(backend.calls(to: "/ok").count == 1)
            #expect(backend.calls.first?.body["run_id"] == .string("run_a1"))
            let timeline = try await c.get("/v1/runs/run_a1")
            guard case .array(let events)? = timeline.json["events"] else {
                Issue.record("timeline: \(timeline.text)")
                return
            }
            #expect(
                events.compactMap { $0["type"]?.stringValue } == [
                    "run_started", "tool_call", "tool_result", "tool_call", "tool_result", "run_finished",
                ])
            #expect(events.compactMap { $0["status"]?.stringValue }.last == "completed")
            #expect(events[4]["message"] == .string("tool_explicitly_blocked"))
            // The key is done: another run of it answers the finished state and works nothing.
            let again = try await Self.run(c, "support_chat_001", actions: #"[{"tool":"send_email"}]"#)
            #expect(again.json["status"] == .string("completed"))
            #expect(again.json["charged"] == .int(0))
            let logs = try await c.get("/v1/agents/bot/logs")
            #expect(logs.json.arrayCount == 2)
        }
    }

    @Test(
        "a tool_error fails the run; the kill switch blocks its actions; dry runs dispatch nothing; no actions completes"
    )
    func failsBlocksAndDryRuns() async throws {
        try await GovernedCallAPITests.withBackend { c, backend, base in
            try await GovernedCallAPITests.register(c, "broken", base + "/bad")
            try await GovernedCallAPITests.register(c, "send_email", base + "/ok")
            _ = try await Self.run(c, "k_fail", actions: #"[{"tool":"broken"},{"tool":"send_email"}]"#)
            #expect(try await Self.finished(c, "k_fail") == "failed")
            let failed = try await c.get("/v1/ai/status?key=k_fail")
            #expect(failed.json["error_code"] == .string("tool_error"))
            let failedResult = try await c.get("/v1/ai/result?key=k_fail").json["result"]
            #expect(failedResult?["actions"]?.arrayCount == 1)
            #expect(backend.calls(to: "/ok").isEmpty)

            _ = try await c.post("/v1/agents/bot/disable", #"{"reason":"incident"}"#)
            _ = try await Self.run(c, "k_off", actions: #"[{"tool":"send_email","args":{"a":1}}]"#)
            #expect(try await Self.finished(c, "k_off") == "completed")
            let off = try await c.get("/v1/ai/result?key=k_off").json["result"]?["actions"]
            #expect(
                off
                    == .array([
                        .object([
                            "tool": .string("send_email"), "decision": .string("blocked"), "allowed": .bool(false),
                            "policy_reason": .string("agent_disabled"), "risk_level": .string("medium"),
                            "result": .null,
                        ])
                    ]))
            _ = try await c.post("/v1/agents/bot/enable", "{}")
            _ = try await Self.run(c, "k_on", actions: #"[{"tool":"send_email","args":{"a":1}}]"#)
            #expect(try await Self.finished(c, "k_on") == "completed")
            #expect(backend.calls(to: "/ok").count == 1)

            _ = try await Self.run(
                c, "k_dry", actions: #"[{"tool":"send_email","args":{"a":2}}]"#, extra: #""dry_run":"true""#)
            #expect(try await Self.finished(c, "k_dry") == "completed")
            let dry = try await c.get("/v1/ai/result?key=k_dry").json["result"]?["actions"]
            #expect(dry?.arrayFirst?["result"] == .object(["dry_run": .bool(true)]))
            #expect(backend.calls(to: "/ok").count == 1)

            _ = try await c.post("/v1/ai/run", #"{"key":"k_empty"}"#)
            #expect(try await Self.finished(c, "k_empty") == "completed")
            #expect(try await c.get("/v1/ai/result?key=k_empty").json["result"] == .object(["actions": .array([])]))

            _ = try await Self.run(c, "k_missing", agent: nil, actions: #"[{"tool":"nope"}]"#)
            #expect(try await Self.finished(c, "k_missing") == "failed")
            #expect(try await c.get("/v1/ai/status?key=k_missing").json["error_code"] == .string("tool_not_found"))
        }
    }

    @Test("a key held by /ai/lease is polling for /ai/run and nothing is worked")
    func sharesLeaseKeys() async throws {
        try await GovernedCallAPITests.withBackend { c, backend, base in
            try await GovernedCallAPITests.register(c, "send_email", base + "/ok")
            #expect(
                try await c.post("/v1/ai/lease", #"{"key":"shared","ttl":60}"#).json["status"] == .string("acquired"))
            let polled = try await Self.run(c, "shared", actions: #"[{"tool":"send_email"}]"#)
            #expect(polled.json["status"] == .string("polling"))
            #expect(polled.json["lease_id"] == .null)
            #expect(backend.calls.isEmpty)
        }
    }
}

extension JSONValue {
    var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }

    var arrayFirst: JSONValue? {
        if case .array(let items) = self { return items.first }
        return nil
    }
}
