import Foundation
import OnceOnly

/// A small stateful stand-in for the endpoints once-server does not have yet (`/ai/run`,
/// policies, agents, tools), answering the shapes documented in API.md §6 and §8–§10.
final class FakeOnceAPI: Sendable {
    private struct State {
        var policies: [String: JSONObject] = [:]
        var agents: [String: JSONObject] = [:]
        var tools: [String: JSONObject] = [:]  // "scope|name"
        var runs: [String: (leaseId: String, polls: Int)] = [:]
    }

    private let state = Locked(State())
    /// Status polls a keyed run answers `in_progress` before it is `completed`.
    let pollsBeforeDone: Int

    init(pollsBeforeDone: Int = 2) { self.pollsBeforeDone = pollsBeforeDone }

    static func notFound(_ message: String) -> ScriptedReply {
        .json(404, ["detail": ["error": "not_found", "message": .string(message)]])
    }

    func handle(_ request: RecordedRequest) -> ScriptedReply {
        let route = Route(method: request.method, path: request.path)
        let body = request.json?.objectValue ?? [:]
        return state.withValue { state in
            if route.match("POST", "ai/run") != nil {
                return Self.run(body, &state)
            } else if route.match("GET", "ai/status") != nil {
                return self.status(request.query["key"] ?? "", &state)
            } else if route.match("GET", "ai/result") != nil {
                let key = request.query["key"] ?? ""
                return .json([
                    "ok": true, "status": "completed", "key": .string(key), "result": ["answer": 42],
                    "result_hash": "abc", "error_code": nil, "done_at": "2026-01-01T00:00:00Z",
                ])
            } else if route.match("POST", "ai/extend") != nil {
                return .json(["ok": true, "status": "extended", "key": body["key"] ?? nil, "ttl": 60, "version": 2])
            } else if let captured = route.match("POST", "policies/:/from-template") {
                let agent = captured[0]
                var policy: JSONObject = ["max_actions_per_hour": 50, "max_spend_usd_per_day": 10]
                policy.merge(body["overrides"]?.objectValue ?? [:]) { _, new in new }
                state.policies[agent] = policy
                return .json(["agent_id": .string(agent), "policy": .object(policy)])
            } else if let captured = route.match("POST", "policies/:") {
                let agent = captured[0]
                var policy = state.policies[agent] ?? [:]
                for (name, value) in body where name != "agent_id" { policy[name] = value.isNull ? nil : value }
                state.policies[agent] = policy
                return .json(["agent_id": .string(agent), "policy": .object(policy)])
            } else if route.match("GET", "policies") != nil {
                return .json(
                    .array(
                        state.policies.keys.sorted().map {
                            ["agent_id": .string($0), "policy": .object(state.policies[$0]!)]
                        }))
            } else if let captured = route.match("GET", "policies/:") {
                let agent = captured[0]
                guard let policy = state.policies[agent] else { return Self.notFound("no policy") }
                return .json(["agent_id": .string(agent), "policy": .object(policy)])
            } else if let captured = route.match("POST", "agents/:/:"), ["disable", "enable"].contains(captured[1]) {
                let agent = captured[0]
                let action = captured[1]
                let disabling = action == "disable"
                let answer: JSONObject = [
                    "agent_id": .string(agent), "is_enabled": .bool(!disabling),
                    "disabled_reason": disabling ? (body["reason"] ?? nil) : nil,
                    "disabled_at": disabling ? "2025-01-15T10:30:00Z" : nil,
                ]
                state.agents[agent] = answer
                return .json(.object(answer))
            } else if let captured = route.match("GET", "agents/:/logs") {
                let agent = captured[0]
                let rows: [JSON] = [
                    [
                        "ts": 1_705_322_450, "agent_id": .string(agent), "tool": "send_email", "allowed": true,
                        "decision": "executed", "policy_reason": "ok", "risk_level": "low", "args_hash": "a1b2c3d4",
                        "spend_usd": 0.001,
                    ],
                    [
                        "ts": 1_705_322_500, "agent_id": .string(agent), "tool": "delete_user", "allowed": false,
                        "reason": "tool_not_in_allowed_list", "risk_level": "medium",
                    ],
                    "not a row",
                ]
                return .json(.array(Array(rows.prefix(Int(request.query["limit"] ?? "100") ?? 100))))
            } else if let captured = route.match("GET", "agents/:/metrics") {
                let agent = captured[0]
                return .json([
                    "agent_id": .string(agent), "period": .string(request.query["period"] ?? "day"),
                    "total_actions": 450, "blocked_actions": 12, "total_spend_usd": 125.5,
                    "top_tools": [["tool": "send_email", "count": 400], ["tool": "create_ticket", "count": 50]],
                ])
            } else if route.match("POST", "tools") != nil {
                let scope = body["scope_id"]?.stringValue ?? "global"
                let name = body["name"]?.stringValue ?? ""
                var tool = body
                tool["auth"] = nil
                tool["scope_id"] = .string(scope)
                tool["enabled"] = body["enabled"] ?? true
                tool["has_secret"] = true
                tool["secret_mask"] = "***ret"
                state.tools[scope + "|" + name] = tool
                return .json(.object(tool))
            } else if route.match("GET", "tools") != nil {
                let scope = request.query["scope_id"] ?? "global"
                return .json(
                    .array(
                        state.tools.keys.sorted().filter { $0.hasPrefix(scope + "|") }.map {
                            .object(state.tools[$0]!)
                        }))
            } else if let captured = route.match("GET", "tools/:") {
                let name = captured[0]
                guard let tool = state.tools[(request.query["scope_id"] ?? "global") + "|" + name] else {
                    return Self.notFound("no tool")
                }
                return .json(.object(tool))
            } else if let captured = route.match("POST", "tools/:/toggle") {
                let name = captured[0]
                let id = (request.query["scope_id"] ?? "global") + "|" + name
                guard state.tools[id] != nil else { return Self.notFound("no tool") }
                state.tools[id]?["enabled"] = body["enabled"] ?? false
                return .json(["name": .string(name), "enabled": body["enabled"] ?? false])
            } else if let captured = route.match("DELETE", "tools/:") {
                let name = captured[0]
                let scope = request.query["scope_id"] ?? "global"
                guard state.tools.removeValue(forKey: scope + "|" + name) != nil else {
                    return Self.notFound("no tool")
                }
                return .json(["ok": true, "deleted": .string(name), "scope_id": .string(scope)])
            }
            return Self.notFound("no route")
        }
    }

    private static func run(_ body: JSONObject, _ state: inout State) -> ScriptedReply {
        if let key = body["key"]?.stringValue {
            if state.runs[key] != nil {
                return .json([
                    "ok": true, "status": "polling", "key": .string(key), "ttl": 1800, "ttl_left": 1750,
                    "lease_id": nil, "version": 1, "retry_after_sec": 5, "charged": 0,
                ])
            }
            state.runs[key] = ("lease_run_1", 0)
            return .json([
                "ok": true, "status": "acquired", "key": .string(key), "ttl": body["ttl"] ?? 1800, "ttl_left": nil,
                "lease_id": "lease_run_1", "version": 1, "first_seen_at": "2025-01-15T10:30:00Z", "done_at": nil,
                "result_hash": nil, "error_code": nil, "retry_after_sec": nil, "usage": 12, "limit": 3000,
                "charged": 1,
            ])
        }
        guard let tool = body["tool"]?.stringValue, body["agent_id"] != nil else {
            return .json(422, ["detail": [["type": "missing", "loc": ["body", "key"], "msg": "Field required"]]])
        }
        if tool == "missing_tool" {
            return .json(404, ["detail": ["error": "tool_not_found", "message": "no enabled tool"]])
        }
        if tool == "delete_user" {
            return .json([
                "ok": false, "allowed": false, "decision": "blocked", "policy_reason": "tool_not_in_allowed_list",
                "risk_level": "high", "result": nil,
            ])
        }
        return .json([
            "ok": true, "allowed": true, "decision": "executed", "policy_reason": "ok", "risk_level": "low",
            "result": ["charge_id": "ch_123", "args": body["args"] ?? nil],
        ])
    }

    private func status(_ key: String, _ state: inout State) -> ScriptedReply {
        guard var run = state.runs[key] else { return Self.notFound("no lease") }
        run.polls += 1
        state.runs[key] = run
        let done = run.polls > pollsBeforeDone
        return .json([
            "ok": true, "status": done ? "completed" : "in_progress", "key": .string(key), "version": 1,
            "retry_after_sec": done ? nil : 1, "lease_id": nil,
        ])
    }
}

/// Matches `METHOD /v1/<pattern>` where `:` stands for one (percent-decoded) segment.
private struct Route {
    let method: String
    let segments: [String]

    init(method: String, path: String) {
        self.method = method
        segments = path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
    }

    func match(_ method: String, _ pattern: String) -> [String]? {
        let parts = ["v1"] + pattern.split(separator: "/").map(String.init)
        guard method == self.method, parts.count == segments.count else { return nil }
        var captured: [String] = []
        for (part, segment) in zip(parts, segments) {
            if part == ":" { captured.append(segment) } else if part != segment { return nil }
        }
        return captured
    }
}
