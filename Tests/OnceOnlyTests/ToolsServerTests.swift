import Foundation
import OnceOnly
import Testing

@testable import OnceServer

/// The SDK's tool methods, `ai.runTool`, `ai.run` and `ai.runAndWait` against a real
/// once-server (in process, on the store `ONCE_TEST_STORE` names) that calls a real tool
/// backend on 127.0.0.1.
@Suite("gov tools and ai.run against once-server")
struct ToolsServerTests {
    static let secret = "sdk-secret-0123"

    @Test("createTool, listTools, getTool, toggleTool, deleteTool; the secret only masked")
    func tools() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let created = try await client.gov.createTool([
                "name": "send_email", "url": "https://tools.example/send",
                "auth": ["type": "hmac_sha256", "secret": .string(Self.secret)], "description": "mail",
            ])
            #expect(created["secret_mask"] == "***123")
            #expect(created["has_secret"] == true)
            #expect(!created.description.contains(Self.secret))
            #expect(try await client.gov.listTools().map { $0["name"] } == ["send_email"])
            #expect(try await client.gov.getTool(name: "send_email")["description"] == "mail")
            #expect(try await client.gov.toggleTool(name: "send_email", enabled: false)["enabled"] == false)
            let missing = await #expect(throws: OnceOnlyError.self) { try await client.gov.getTool(name: "nope") }
            #expect(missing?.statusCode == 404)
            #expect(try await client.gov.deleteTool(name: "send_email")["deleted"] == "send_email")
            #expect(try await client.gov.listTools().isEmpty)
        }
    }

    @Test("runTool executes through a signed call, then dedups; runAndWait runs a keyed run to its result")
    func runs() async throws {
        try await withScriptedServer(fallback: { _ in .json(["sent": true]) }) { backend in
            try await withOnceServer { server in
                let client = try server.client()
                _ = try await client.gov.createTool([
                    "name": "send_email", "url": .string(backend.baseURL + "/send"),
                    "auth": ["type": "hmac_sha256", "secret": .string(Self.secret)],
                ])
                let first = try await client.ai.runTool(
                    agentId: "bot", tool: "send_email", args: ["to": "a@b.c"], spendUsd: 0.1, runId: "run_sdk")
                #expect(first.ok && first.allowed && first.decision == "executed" && first.policyReason == "ok")
                #expect(first.result == ["sent": true])
                let sent = try #require(backend.requests.first)
                #expect(
                    sent.headers.first(where: { $0.key.lowercased() == "x-onceonly-signature" })?.value
                        == ToolDispatcher.signature(secret: Self.secret, body: Array(sent.body.utf8)))
                #expect(sent.json?["args"] == ["to": "a@b.c"])
                let again = try await client.ai.runTool(agentId: "bot", tool: "send_email", args: ["to": "a@b.c"])
                #expect(again.decision == "dedup" && again.policyReason == "tool_idempotency")
                #expect(backend.requests.count == 1)

                _ = try await client.gov.disableAgent(agentId: "bot", reason: "stop")
                let blocked = try await client.ai.runTool(agentId: "bot", tool: "send_email", args: ["n": 2])
                #expect(!blocked.ok && !blocked.allowed && blocked.policyReason == "agent_disabled")
                _ = try await client.gov.enableAgent(agentId: "bot")

                let waited = try await client.ai.runAndWait(
                    key: "sdk_run_1", ttl: 60,
                    metadata: ["agent_id": "bot", "actions": [["tool": "send_email", "args": ["n": 3]]]],
                    runId: "run_sdk_a", timeout: 20, pollMin: 0.05, pollMax: 0.2)
                guard case .result(let result) = waited else {
                    Issue.record("expected a keyed result: \(waited)")
                    return
                }
                #expect(result.status == "completed")
                #expect(result.result?["actions"]?[0]?["decision"] == "executed")
                #expect(backend.requests.count == 2)
                let tool = try await client.ai.runAndWait(agentId: "bot", tool: "send_email", args: ["n": 3])
                guard case .tool(let decision) = tool else {
                    Issue.record("expected a decision")
                    return
                }
                #expect(decision.decision == "dedup")
                let logs = try await client.gov.agentLogs(agentId: "bot")
                #expect(logs.count == 5)
            }
        }
    }
}
