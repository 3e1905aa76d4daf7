import Foundation
import OnceOnly
import Testing

@Suite("checkLock")
struct CheckLockTests {
    @Test("locked, then duplicate, against once-server")
    func lockedThenDuplicate() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let first = try await client.checkLock(
                key: "payment_invoice_123", ttl: 3600, meta: ["invoice_id": "INV-123"], requestId: "req-1")
            #expect(first.isLocked && !first.isDuplicate && first.shouldProceed)
            #expect(first.key == "payment_invoice_123")
            #expect(first.ttl == 3600)
            #expect(first.firstSeenAt == nil)
            #expect(first.statusCode == 200)
            #expect(first.requestId == "req-1", "the server echoes X-Request-Id")
            #expect(first.raw["metadata"] == ["invoice_id": "INV-123"], "metadata is kept when the body has none")
            #expect(!first.isFailOpen)
            let second = try await client.checkLock(key: "payment_invoice_123", ttl: 60)
            #expect(!second.isLocked && second.isDuplicate && !second.shouldProceed)
            #expect(second.firstSeenAt != nil)
            #expect(second.ttl == 3600, "duplicates echo the stored TTL")
            #expect(second.requestId?.isEmpty == false)
            let usage = try await client.usage(kind: "make")
            #expect(usage["usage"] == 1, "the duplicate is counted")
        }
    }

    @Test("once-server sends the headers the SDK reads")
    func headers() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let locked = try await client.response(
                method: "POST", path: "/check-lock", body: ["key": "h", "ttl": 60], headers: ["X-Request-Id": "abc"])
            #expect(locked.header("X-OnceOnly-Status") == "locked" && locked.header("x-request-id") == "abc")
            let duplicate = try await client.response(method: "POST", path: "/check-lock", body: ["key": "h"])
            #expect(duplicate.header("X-OnceOnly-Status") == "duplicate")
            let usage = try await client.response(method: "GET", path: "/usage/all")
            #expect(usage.header("X-OnceOnly-Plan") == "agency" && usage.header("X-OnceOnly-Month")?.count == 7)
        }
    }

    @Test("duplicate-409 mode of once-server")
    func conflictMode() async throws {
        try await withOnceServer(duplicateStatusCode: 409) { server in
            let client = try server.client()
            #expect(try await client.checkLock(key: "k", ttl: 60).shouldProceed)
            let dup = try await client.checkLock(key: "k", ttl: 60, meta: ["m": 1])
            #expect(dup.isDuplicate && !dup.isLocked)
            #expect(dup.statusCode == 409)
            #expect(dup.ttl == 60)
            #expect(dup.firstSeenAt != nil)
            #expect(dup.raw["metadata"] == ["m": 1])
            #expect(dup.raw["detail"]?["first_seen_at"]?.stringValue == dup.firstSeenAt)
        }
    }

    @Test("parsing order: body status, then X-OnceOnly-Status, then success")
    func parsingOrder() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            server.enqueue(
                .json(["status": "duplicate", "success": true], headers: ["X-OnceOnly-Status": "locked"]),
                .json(["success": false], headers: ["X-OnceOnly-Status": "LOCKED"]),
                .json(["success": true]),
                .json(["success": "true"]),
                ScriptedReply(body: ""),
                .json(["status": "locked", "key": "echoed", "ttl": 0, "first_seen_at": 5]))
            let byBody = try await client.checkLock(key: "a", ttl: 30)
            #expect(byBody.isDuplicate)
            let byHeader = try await client.checkLock(key: "b", ttl: 30)
            #expect(byHeader.isLocked && byHeader.key == "b" && byHeader.ttl == 30)
            #expect(try await client.checkLock(key: "c").isLocked)
            #expect(try await client.checkLock(key: "d").isDuplicate, "only success == true locks")
            let empty = try await client.checkLock(key: "e")
            #expect(empty.isDuplicate && empty.ttl == 0)
            let echoed = try await client.checkLock(key: "f", ttl: 99)
            #expect(echoed.key == "echoed" && echoed.ttl == 0 && echoed.firstSeenAt == nil)
            #expect(server.requests[0].json == ["key": "a", "ttl": 30])
            #expect(server.requests[2].json == ["key": "c"])
        }
    }

    @Test("every 403 is unauthorized here; 402, 422, 429 throw even with fail-open")
    func errors() async throws {
        try await withScriptedServer { server in
            let client = try server.client()
            server.enqueue(.json(403, ["detail": ["error": "feature_not_available"]]))
            await #expect(throws: OnceOnlyError.unauthorized(message: "feature_not_available")) {
                try await client.checkLock(key: "k")
            }
            server.enqueue(.json(402, ["detail": ["error": "payment_required"]]))
            await #expect(throws: OnceOnlyError.overLimit(detail: ["error": "payment_required"])) {
                try await client.checkLock(key: "k")
            }
            server.enqueue(.json(422, ["detail": "bad ttl"]))
            await #expect(throws: OnceOnlyError.validation(message: "bad ttl")) { try await client.checkLock(key: "k") }
            server.enqueue(.json(429, ["detail": ["error": "rate_limited"]], headers: ["Retry-After": "2"]))
            await #expect(throws: OnceOnlyError.rateLimited(retryAfter: 2, message: "rate_limited")) {
                try await client.checkLock(key: "k")
            }
            server.enqueue(.json(400, ["detail": "network unreachable"]))
            await #expect(
                throws: OnceOnlyError.api(
                    status: 400, detail: ["detail": "network unreachable"],
                    message: "network unreachable"),
                "an API error mentioning 'network' does not fail open"
            ) {
                try await client.checkLock(key: "k")
            }
        }
    }

    @Test("real once-server rejects a bad key with 403 (no fail-open)")
    func badKey() async throws {
        try await withOnceServer { server in
            let client = try OnceOnlyClient(apiKey: "once_live_nope", baseURL: server.baseURL, environment: [:])
            await #expect(throws: OnceOnlyError.unauthorized(message: "Invalid API key")) {
                try await client.checkLock(key: "k")
            }
        }
    }

    @Test("fail-open after retries on 5xx, with the documented synthetic result")
    func failOpen5xx() async throws {
        try await withScriptedServer(fallback: { _ in .json(503, ["detail": "down"]) }) { server in
            let (client, sleeper) = try server.recordingClient(maxRetries429: 2)
            let result = try await client.checkLock(key: "k", ttl: 60, meta: ["a": 1])
            #expect(result.isLocked && !result.isDuplicate && result.shouldProceed && result.isFailOpen)
            #expect(result.requestId == "fail-open")
            #expect(result.statusCode == 0)
            #expect(result.ttl == 60)
            #expect(result.firstSeenAt == nil)
            #expect(result.raw == ["fail_open": true, "reason": "api_5xx", "metadata": ["a": 1]])
            #expect(server.requests.count == 3)
            #expect(sleeper.waits.current == [0.5, 1])
            let strict = try server.client(failOpen: false)
            await #expect(throws: OnceOnlyError.api(status: 503, detail: ["detail": "down"], message: "down")) {
                try await strict.checkLock(key: "k")
            }
        }
    }

    @Test("fail-open on timeout and on an unreachable service")
    func failOpenUnreachable() async throws {
        try await withScriptedServer(fallback: { _ in ScriptedReply(delay: 2) }) { server in
            let result = try await server.client(timeout: 0.2).checkLock(key: "slow")
            #expect(result.raw == ["fail_open": true, "reason": "timeout"])
            #expect(result.ttl == 0)
            await #expect(throws: OnceOnlyError.timeout(seconds: 0.2)) {
                try await server.client(timeout: 0.2, failOpen: false).checkLock(key: "slow")
            }
        }
        let port = try await withScriptedServer { $0.port }
        let client = try OnceOnlyClient(apiKey: "k", baseURL: "http://127.0.0.1:\(port)", environment: [:])
        let result = try await client.checkLock(key: "gone", ttl: 5)
        #expect(result.raw == ["fail_open": true, "reason": "request_error"])
        #expect(result.shouldProceed)
    }
}
