import Foundation
import OnceOnly
import Testing

@Suite("Client configuration and HTTP transport")
struct TransportTests {
    @Test(
        "base URL normalisation",
        arguments: [
            ("http://localhost:8080", "http://localhost:8080/v1"),
            ("http://localhost:8080/", "http://localhost:8080/v1"),
            ("https://x/v1/", "https://x/v1"),
            ("https://x/v1///", "https://x/v1"),
            ("https://x/api", "https://x/api"),
            ("not a url/", "not a url"),
        ])
    func normalisation(input: String, expected: String) {
        #expect(OnceOnlyClient.normalizeBaseURL(input) == expected)
    }

    @Test("configuration from the environment, defaults and the required key")
    func environment() throws {
        let client = try OnceOnlyClient(environment: ["ONCEONLY_API_KEY": "k1", "ONCEONLY_BASE_URL": "http://h:1/"])
        #expect(client.apiKey == "k1")
        #expect(client.baseURL == "http://h:1/v1")
        #expect(client.timeout == 5)
        #expect(client.failOpen)
        #expect(client.maxRetries429 == 0)
        #expect(client.retryBackoff == 0.5)
        #expect(client.retryMaxBackoff == 5)
        #expect(client.userAgent == "onceonly-swift-sdk/\(OnceOnlyClient.version)")
        let saas = try OnceOnlyClient(apiKey: "k2", environment: [:])
        #expect(saas.baseURL == "https://api.onceonly.tech/v1")
        let explicit = try OnceOnlyClient(apiKey: "k3", baseURL: "http://a", environment: ["ONCEONLY_API_KEY": "k1"])
        #expect(explicit.apiKey == "k3" && explicit.baseURL == "http://a/v1")
        #expect(throws: OnceOnlyError.invalidArgument("apiKey is required")) { try OnceOnlyClient(environment: [:]) }
        #expect(throws: OnceOnlyError.invalidArgument("apiKey is required")) {
            try OnceOnlyClient(apiKey: "", environment: [:])
        }
    }

    @Test("fixed headers, form-encoded query, percent-encoded path segments, JSON body")
    func requestShape() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            _ = try await client.request(method: "GET", path: "usage", query: ["kind": "a b&c"])
            _ = try await client.getRunTimeline(runId: "  run/1 x  ", limit: 5, offset: 2)
            _ = try await client.request(method: "POST", path: "/ai/lease", body: ["key": "k", "retry_failed": true])
            let sent = server.requests
            #expect(sent.count == 3)
            #expect(sent[0].path == "/v1/usage")
            #expect(sent[0].rawQuery == "kind=a+b%26c")
            #expect(sent[0].headers["authorization"] == "Bearer once_live_test")
            #expect(sent[0].headers["user-agent"] == "onceonly-swift-sdk/\(OnceOnlyClient.version)")
            #expect(sent[0].headers["content-type"] == "application/json")
            #expect(sent[0].body.isEmpty, "GET sends no body")
            #expect(sent[1].path == "/v1/runs/run%2F1%20x")
            #expect(sent[1].query == ["limit": "5", "offset": "2"])
            #expect(sent[2].method == "POST")
            #expect(sent[2].json == ["key": "k", "retry_failed": true])
        }
    }

    @Test("2xx bodies: object as is, array or truthy scalar under data, empty or falsy as {}")
    func decoding() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            server.enqueue(
                ScriptedReply(body: #"{"a":1}"#), ScriptedReply(body: "[1,2]"), ScriptedReply(body: ""),
                ScriptedReply(body: "0"), ScriptedReply(body: #""x""#), ScriptedReply(body: "not json"))
            #expect(try await client.me() == ["a": 1])
            #expect(try await client.me() == ["data": [1, 2]])
            #expect(try await client.me() == [:])
            #expect(try await client.me() == [:])
            #expect(try await client.me() == ["data": "x"])
            #expect(try await client.me() == [:])
        }
    }

    @Test("429 and 5xx are retried: Retry-After honoured uncapped, else exponential backoff")
    func retrySequence() async throws {
        try await withScriptedServer { server in
            let (client, sleeper) = try server.recordingClient(maxRetries429: 3)
            server.enqueue(
                .json(429, ["detail": ["error": "rate_limited"]], headers: ["Retry-After": "7"]),
                .json(503, ["detail": "busy"]),
                .json(429, ["detail": ["error": "rate_limited"]], headers: ["Retry-After": "soon"]),
                .json(200, ["plan": "agency"]))
            #expect(try await client.me() == ["plan": "agency"])
            #expect(server.requests.count == 4)
            #expect(sleeper.waits.current == [7, 1, 2])
        }
    }

    @Test("after the last retry the final 429 is mapped, with its Retry-After")
    func retriesExhausted() async throws {
        try await withScriptedServer { server in
            let (client, sleeper) = try server.recordingClient(maxRetries429: 2)
            for _ in 0..<3 {
                server.enqueue(.json(429, ["detail": ["error": "rate_limited"]], headers: ["Retry-After": "1.5"]))
            }
            await #expect(throws: OnceOnlyError.rateLimited(retryAfter: 1.5, message: "rate_limited")) {
                try await client.usage()
            }
            #expect(server.requests.count == 3)
            #expect(sleeper.waits.current == [1.5, 1.5])
        }
    }

    @Test("backoff doubles and is capped by retryMaxBackoff")
    func backoffCap() async throws {
        try await withScriptedServer(fallback: { _ in .json(503, ["detail": "down"]) }) { server in
            let (client, sleeper) = try server.recordingClient(maxRetries429: 5, retryBackoff: 1, retryMaxBackoff: 3)
            await #expect(throws: OnceOnlyError.api(status: 503, detail: ["detail": "down"], message: "down")) {
                try await client.usageAll()
            }
            #expect(server.requests.count == 6)
            #expect(sleeper.waits.current == [1, 2, 3, 3, 3])
        }
    }

    @Test("by default nothing is retried; other 4xx are never retried")
    func noRetry() async throws {
        try await withScriptedServer { server in
            let sleeper = RecordingSleeper()
            server.enqueue(.json(503, ["detail": "down"]))
            await #expect(throws: OnceOnlyError.self) { try await server.client(sleep: sleeper.sleeper).me() }
            #expect(server.requests.count == 1)
            server.enqueue(.json(404, ["detail": ["error": "not_found"]]))
            let retrying = try server.client(maxRetries429: 3, sleep: sleeper.sleeper)
            await #expect(throws: OnceOnlyError.api(status: 404, detail: ["error": "not_found"], message: "not_found"))
            {
                try await retrying.ai.status(key: "nope")
            }
            #expect(server.requests.count == 2)
            #expect(sleeper.waits.current.isEmpty)
        }
    }

    @Test("non-idempotent POSTs are retried with the same body")
    func postRetried() async throws {
        try await withScriptedServer { server in
            let (client, sleeper) = try server.recordingClient(maxRetries429: 1)
            server.enqueue(
                .json(502, "bad gateway"),
                .json(200, ["ok": true, "status": "completed", "key": "k", "version": 2]))
            let done = try await client.ai.complete(key: "k", leaseId: "lease_1", result: ["n": 1])
            #expect(done.status == "completed" && done.version == 2)
            #expect(server.requests.count == 2)
            #expect(server.requests[0].json == server.requests[1].json)
            #expect(server.requests[1].json == ["key": "k", "lease_id": "lease_1", "result": ["n": 1]])
            #expect(sleeper.waits.current == [0.5])
        }
    }

    @Test("a slow server hits the per-attempt timeout, which is retried")
    func timeout() async throws {
        try await withScriptedServer(fallback: { _ in ScriptedReply(delay: 3) }) { server in
            let (client, sleeper) = try server.recordingClient(timeout: 0.3, maxRetries429: 1)
            let start = Date()
            await #expect(throws: OnceOnlyError.timeout(seconds: 0.3)) { try await client.me() }
            let elapsed = Date().timeIntervalSince(start)
            #expect(elapsed >= 0.55 && elapsed < 2.5, "two attempts of 0.3 s, got \(elapsed)")
            #expect(server.requests.count == 2)
            #expect(sleeper.waits.current == [0.5])
            #expect(OnceOnlyError.timeout(seconds: 0.3).isServiceUnreachable)
        }
    }

    @Test("a refused connection is a transport error, retried with backoff")
    func refused() async throws {
        let port = try await withScriptedServer { $0.port }  // closed once the block returns
        let sleeper = RecordingSleeper()
        let client = try OnceOnlyClient(
            apiKey: "k", baseURL: "http://127.0.0.1:\(port)", maxRetries429: 2, sleep: sleeper.sleeper,
            environment: [:])
        let error = await #expect(throws: OnceOnlyError.self) { try await client.me() }
        guard case .transport? = error else {
            Issue.record("expected a transport error, got \(String(describing: error))"); return
        }
        #expect(error?.isServiceUnreachable == true && error?.statusCode == nil)
        #expect(sleeper.waits.current == [0.5, 1])
    }

    @Test("cancelling the calling task ends a slow request promptly")
    func cancellation() async throws {
        try await withScriptedServer(fallback: { _ in ScriptedReply(delay: 3) }) { server in
            let client = try server.client(timeout: 10)
            let start = Date()
            let task = Task { try await client.me() }
            try await Task.sleep(nanoseconds: 200_000_000)
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(Date().timeIntervalSince(start) < 2)
        }
    }
}
