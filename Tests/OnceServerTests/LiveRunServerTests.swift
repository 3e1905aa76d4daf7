import Foundation
import OnceCore
import OnceStoreTestSupport
import OnceTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Keyed runs and the tool secret key against the built `once-server` binary, on the store
/// `ONCE_TEST_STORE` names.
@Suite("once-server process: keyed runs and the secret key", .serialized, .timeLimit(.minutes(3)))
struct LiveRunServerTests {
    @Test("a run killed mid-action expires and is taken up again after a restart; a wrong key refuses to start")
    func restartMidRun() async throws {
        let scratch = try makeScratchDirectory("once-live-run")
        var database: String? = nil
        var keyArguments: [String] = []
        if TestStores.kind == .postgres {
            database = try await TestStores.newPostgresDatabase().description
            let keyFile = scratch.appendingPathComponent("tool.key").path
            try (String(repeating: "ab", count: 32) + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
            keyArguments = ["--secret-key-file", keyFile]
        }
        let server = try await ServerProcess(
            database: database,
            arguments: ["--min-ttl", "1", "--sweep-interval", "1", "--rate-limit", "0", "--allow-private-tool-urls"]
                + keyArguments)
        let backend = ToolBackend(secret: ToolsAPITests.secret)
        try await backend.run { base in
            let tool = ToolsAPITests.toolJSON("slow_report", url: base + "/slow", extra: #""timeout_ms":20000"#)
            #expect(try await server.send("POST", "/v1/tools", json: tool).status == 200)
            func run(ttl: Int) async throws -> String? {
                let body =
                    #"{"key":"nightly","ttl":\#(ttl),"metadata":{"agent_id":"bot","actions":[{"tool":"slow_report"}]}}"#
                return try await server.send("POST", "/v1/ai/run", json: body).body["status"]?.stringValue
            }
            func status() async throws -> String? {
                try await server.send("GET", "/v1/ai/status?key=nightly").body["status"]?.stringValue
            }
            #expect(try await run(ttl: 2) == "acquired")
            #expect(await eventually(.seconds(20)) { !backend.calls(to: "/slow").isEmpty })
            #expect(await server.stop(signal: SIGKILL) != 0)
            try await server.start()
            // Nobody works the run now: its lease expires and is reported failed.
            var seen: String?
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                seen = try await status()
                if seen == "failed" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(seen == "failed")
            #expect(
                try await server.send("GET", "/v1/ai/status?key=nightly").body["error_code"] == .string("lease_expired")
            )
            #expect(try await run(ttl: 60) == "acquired")
            while ContinuousClock.now < deadline + .seconds(30) {
                seen = try await status()
                if seen == "completed" || seen == "failed" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(seen == "completed")
            let result = try await server.send("GET", "/v1/ai/result?key=nightly").body
            #expect(
                result["result"]?["actions"]
                    == .array([
                        .object([
                            "tool": .string("slow_report"), "decision": .string("executed"), "allowed": .bool(true),
                            "policy_reason": .string("ok"), "risk_level": .string("low"),
                            "result": .object(["late": .bool(true)]),
                        ])
                    ]))
            #expect(backend.calls(to: "/slow").count == 2)
        }
        #expect(await server.stop() == 0)

        if TestStores.kind == .sqlite {
            let keyFile = (server.database as NSString).deletingLastPathComponent + "/tool-secret.key"
            let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let database = try String(contentsOfFile: server.database, encoding: .isoLatin1)
            #expect(!database.contains(ToolsAPITests.secret))
        }
        let wrong = scratch.appendingPathComponent("wrong.key").path
        try (String(repeating: "cd", count: 32) + "\n").write(toFile: wrong, atomically: true, encoding: .utf8)
        let refused = try await runProcess(
            Binaries.onceServer,
            ["serve", "--port", "0", "--database", server.database, "--secret-key-file", wrong], timeLimit: .seconds(60)
        )
        #expect(refused.code != 0)
        #expect(refused.stderr.contains("does not open the stored tool secrets"), "\(refused.stderr)")
        #expect(!refused.stderr.contains(String(repeating: "cd", count: 32)))
    }
}
