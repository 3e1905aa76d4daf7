import Foundation
import OnceOnly
import Testing

@Suite("ai: low-level lease calls against once-server")
struct LeaseTests {
    @Test("lease, poll, extend, complete, replay, status and result")
    func lifecycle() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let run = try await client.ai.lease(key: "support_chat_001", ttl: 1800, metadata: ["run_id": "run_1"])
            #expect(run.ok && run.isAcquired)
            #expect(run.key == "support_chat_001")
            #expect(run.version == 1 && run.ttl == 1800 && run.charged == 1)
            #expect(run.usage == 1 && run.limit != nil)
            let leaseId = try #require(run.leaseId)
            #expect(leaseId.hasPrefix("lease_"))
            #expect(run.raw["lease_id"] == .string(leaseId))

            let other = try await client.ai.lease(key: "support_chat_001")
            #expect(other.status == "polling" && other.leaseId == nil && other.charged == 0)
            #expect(other.retryAfterSec == 5 && other.ttlLeft != nil)

            let extended = try await client.ai.extend(key: "support_chat_001", leaseId: leaseId, ttl: 600)
            #expect(extended.status == "extended" && extended.ttl == 600 && extended.version == 2)

            let held = try await client.ai.status(key: "support_chat_001")
            #expect(held.status == "in_progress" && !held.isTerminal && held.ttlLeft != nil)
            let early = try await client.ai.result(key: "support_chat_001")
            #expect(early.status == "in_progress" && early.result == nil)

            let done = try await client.ai.complete(
                key: "support_chat_001", leaseId: leaseId, result: ["resolution": "refund issued"])
            #expect(done.ok && done.status == "completed" && done.version == 3)
            #expect(done.doneAt != nil && done.resultHash?.count == 64)
            let replay = try await client.ai.complete(
                key: "support_chat_001", leaseId: leaseId, result: ["resolution": "refund issued"])
            #expect(replay.status == "completed" && replay.version == 3, "a replayed complete answers the same")

            let status = try await client.ai.status(key: "support_chat_001")
            #expect(status.status == "completed" && status.isTerminal && status.doneAt != nil)
            let result = try await client.ai.result(key: "support_chat_001")
            #expect(result.ok && result.status == "completed")
            #expect(result.result == ["resolution": "refund issued"])
            #expect(result.resultHash == done.resultHash)
            struct Resolution: Decodable, Equatable { let resolution: String }
            #expect(try result.decodeResult(as: Resolution.self) == Resolution(resolution: "refund issued"))

            let again = try await client.ai.lease(key: "support_chat_001")
            #expect(again.status == "completed" && again.charged == 0)
        }
    }

    @Test("fail, cancel and the conflicts they raise")
    func failAndCancel() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let first = try #require(try await client.ai.lease(key: "f", ttl: 60).leaseId)
            let wrongExtend = await #expect(throws: OnceOnlyError.self) {
                try await client.ai.extend(key: "f", leaseId: "lease_wrong")
            }
            #expect(wrongExtend?.statusCode == 409 && wrongExtend?.errorCode == "lease_mismatch")
            let wrongComplete = await #expect(throws: OnceOnlyError.self) {
                try await client.ai.complete(key: "f", leaseId: "lease_wrong")
            }
            #expect(wrongComplete?.statusCode == 409 && wrongComplete?.errorCode == "lease_mismatch")
            let failed = try await client.ai.fail(key: "f", leaseId: first, errorCode: "boom", errorHash: "h1")
            #expect(failed.status == "failed" && failed.errorCode == "boom" && failed.doneAt != nil)
            let result = try await client.ai.result(key: "f")
            #expect(result.status == "failed" && result.errorCode == "boom")
            let late = await #expect(throws: OnceOnlyError.self) {
                try await client.ai.extend(key: "f", leaseId: first)
            }
            #expect(late?.statusCode == 409 && late?.errorCode == "lease_not_active")

            let second = try #require(try await client.ai.lease(key: "c", ttl: 60).leaseId)
            let canceled = try await client.ai.cancel(key: "c", leaseId: second, reason: "user abort")
            #expect(canceled.status == "canceled" && canceled.version == 2)
            #expect(try await client.ai.status(key: "c").status == "canceled")
            let reacquired = try await client.ai.lease(key: "c", ttl: 60)
            #expect(reacquired.isAcquired && reacquired.version == 3 && reacquired.leaseId != second)
            _ = try await client.ai.cancel(key: "c", leaseId: try #require(reacquired.leaseId), reason: "")

            let unknown = await #expect(throws: OnceOnlyError.self) { try await client.ai.status(key: "never-used") }
            #expect(unknown?.statusCode == 404 && unknown?.errorCode == "not_found")
        }
    }

    @Test("low-level request() sends extension fields (retry_failed, result on fail)")
    func extensionFields() async throws {
        try await withOnceServer { server in
            let client = try server.client()
            let lease = try await client.request(method: "POST", path: "/ai/lease", body: ["key": "x", "ttl": 60])
            #expect(lease.status == 200)
            let leaseId = try #require(lease.json["lease_id"]?.stringValue)
            let failed = try await client.request(
                method: "POST", path: "/ai/fail",
                body: ["key": "x", "lease_id": .string(leaseId), "error_code": "exit_1", "result": ["exit": 1]])
            #expect(failed.json["status"] == "failed")
            #expect(try await client.ai.result(key: "x").result == ["exit": 1])
            let retried = try await client.request(
                method: "POST", path: "/ai/lease", body: ["key": "x", "ttl": 60, "retry_failed": true])
            #expect(retried.json["status"] == "acquired")
            let unmapped = try await client.response(method: "GET", path: "/ai/status", query: ["key": "nope"])
            #expect(unmapped.status == 404 && unmapped.json?["detail"]?["error"] == "not_found")
            #expect(unmapped.header("X-Request-Id") != nil)
        }
    }

    @Test("once-server answers every /ai call with the lease expired once the TTL passes")
    func expiry() async throws {
        try await withOnceServer(minTTL: 1) { server in
            let client = try server.client()
            _ = try await client.ai.lease(key: "e", ttl: 1)
            try await Task.sleep(nanoseconds: 1_300_000_000)
            let status = try await client.ai.status(key: "e")
            #expect(status.status == "failed" && status.errorCode == "lease_expired")
            let waited = try await client.ai.wait(key: "e", timeout: 5)
            #expect(waited.status == "failed" && waited.errorCode == "lease_expired")
        }
    }
}
