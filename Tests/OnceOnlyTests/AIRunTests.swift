import Foundation
import OnceOnly
import Testing

@Suite("ai.run, runTool, runAndWait (documented-shape test server)")
struct AIRunTests {
    @Test("key mode: body {key, ttl, metadata + run_id}, answer read as a lease state")
    func keyMode() async throws {
        try await withFakeAPI { server, client in
            let outcome = try await client.ai.run(
                key: "support_chat_001", ttl: 1800, metadata: ["agent_id": "support_bot"], runId: "  run_1 ")
            guard case .run(let run) = outcome else { Issue.record("expected a run: \(outcome)"); return }
            #expect(run.isAcquired && run.leaseId == "lease_run_1" && run.usage == 12 && run.limit == 3000)
            #expect(
                server.requests.last?.json == [
                    "key": "support_chat_001", "ttl": 1800, "metadata": ["agent_id": "support_bot", "run_id": "run_1"],
                ])
            let again = try await client.aiRun(key: "support_chat_001")
            guard case .run(let polling) = again else { Issue.record("expected a run"); return }
            #expect(polling.status == "polling" && polling.retryAfterSec == 5 && polling.leaseId == nil)
            #expect(server.requests.last?.json == ["key": "support_chat_001"], "nothing optional is sent")
        }
    }

    @Test("tool mode: body {agent_id, tool, args + run_id, spend_usd}, answer read as a decision")
    func toolMode() async throws {
        try await withFakeAPI { server, client in
            let outcome = try await client.ai.run(
                agentId: "billing-agent", tool: "stripe.charge", args: ["amount": 9999, "currency": "usd"],
                spendUsd: 0.5, runId: "run_charge_001")
            guard case .tool(let decision) = outcome else { Issue.record("expected a decision"); return }
            #expect(decision.ok && decision.allowed && decision.decision == "executed")
            #expect(decision.policyReason == "ok" && decision.riskLevel == "low")
            #expect(decision.result?["charge_id"] == "ch_123")
            #expect(
                server.requests.last?.json == [
                    "agent_id": "billing-agent", "tool": "stripe.charge", "spend_usd": 0.5,
                    "args": ["amount": 9999, "currency": "usd", "run_id": "run_charge_001"],
                ])
            let blocked = try await client.ai.runTool(agentId: "support_bot", tool: "delete_user")
            #expect(!blocked.ok && !blocked.allowed && blocked.decision == "blocked")
            #expect(blocked.policyReason == "tool_not_in_allowed_list" && blocked.result == nil)
            #expect(
                server.requests.last?.json == ["agent_id": "support_bot", "tool": "delete_user"],
                "empty args are not sent")
            _ = try await client.ai.run(key: "", agentId: "a", tool: "t", args: [:])
            #expect(server.requests.last?.json == ["agent_id": "a", "tool": "t"], "an empty key means tool mode")
            let missing = await #expect(throws: OnceOnlyError.self) {
                try await client.ai.runTool(agentId: "a", tool: "missing_tool")
            }
            #expect(missing?.statusCode == 404 && missing?.errorCode == "tool_not_found")
        }
    }

    @Test("argument errors are thrown before anything is sent")
    func argumentErrors() async throws {
        try await withFakeAPI { server, client in
            await #expect(throws: OnceOnlyError.invalidArgument("ai.run requires key OR agentId and tool")) {
                try await client.ai.run(agentId: "a")
            }
            await #expect(throws: OnceOnlyError.invalidArgument("ai.run: provide either key or agentId/tool, not both"))
            {
                try await client.ai.run(key: "k", args: [:])
            }
            await #expect(throws: OnceOnlyError.invalidArgument("ai.run: provide either key or agentId/tool, not both"))
            {
                try await client.ai.run(key: "k", spendUsd: 1)
            }
            await #expect(throws: OnceOnlyError.invalidArgument("run_id must not be empty")) {
                try await client.ai.run(key: "k", runId: " ")
            }
            await #expect(
                throws: OnceOnlyError.invalidArgument("ai.runAndWait requires key OR agentId/tool for tool execution")
            ) { try await client.ai.runAndWait() }
            #expect(server.requests.isEmpty)
        }
    }

    @Test("runAndWait: key mode runs, polls status, heartbeats the returned lease, reads the result")
    func runAndWaitKey() async throws {
        try await withFakeAPI(pollsBeforeDone: 2) { server, client in
            let outcome = try await client.aiRunAndWait(key: "job-1", ttl: 60, pollMin: 0.01, pollMax: 0.02)
            guard case .result(let result) = outcome else { Issue.record("expected a result"); return }
            #expect(result.status == "completed" && result.result == ["answer": 42])
            let calls = server.requests.map { "\($0.method) \($0.path)" }
            #expect(
                calls == [
                    "POST /v1/ai/run", "GET /v1/ai/status", "POST /v1/ai/extend", "GET /v1/ai/status",
                    "GET /v1/ai/status",
                    "GET /v1/ai/result",
                ])
            #expect(server.requests[2].json == ["key": "job-1", "lease_id": "lease_run_1", "ttl": 60])
        }
    }

    @Test("runAndWait: tool mode answers the decision without waiting")
    func runAndWaitTool() async throws {
        try await withFakeAPI { server, client in
            let outcome = try await client.ai.runAndWait(agentId: "bot", tool: "send_email", args: ["to": "a@b.c"])
            guard case .tool(let decision) = outcome else { Issue.record("expected a decision"); return }
            #expect(decision.allowed && decision.decision == "executed")
            #expect(server.requests.count == 1)
        }
    }
}
