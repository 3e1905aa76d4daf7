import HTTPTypes
import OnceCore
import OnceServer
import Testing

@Suite("API: check-lock, auth, headers")
struct CheckLockAPITests {
    @Test("locked then duplicate, with body status and X-OnceOnly-Status")
    func lockedThenDuplicate() async throws {
        try await APIHarness().run { api in
            let first = try await api.post(
                "/v1/check-lock", #"{"key":"payment_invoice_123","ttl":3600,"metadata":{"a":1}}"#)
            #expect(first.status == .ok)
            #expect(first.headers[.onceOnlyStatus] == "locked")
            #expect(
                first.json
                    == .object([
                        "success": .bool(true), "status": .string("locked"), "key": .string("payment_invoice_123"),
                        "ttl": .int(3600), "first_seen_at": .null,
                    ]))
            let second = try await api.post("/v1/check-lock", #"{"key":"payment_invoice_123","ttl":10}"#)
            #expect(second.status == .ok)
            #expect(second.headers[.onceOnlyStatus] == "duplicate")
            #expect(second.json["success"] == .bool(false))
            #expect(second.json["status"] == .string("duplicate"))
            #expect(second.json["ttl"] == .int(3600))
            #expect(second.json["first_seen_at"]?.stringValue?.hasSuffix("Z") == true)
        }
    }

    @Test("409 duplicate mode")
    func duplicate409() async throws {
        try await APIHarness(configuration: ServerConfiguration(duplicateStatusCode: 409)).run { api in
            #expect(try await api.post("/v1/check-lock", #"{"key":"k"}"#).status == .ok)
            let dup = try await api.post("/v1/check-lock", #"{"key":"k"}"#)
            #expect(dup.status == .conflict)
            #expect(dup.json["detail"]?["error"] == .string("Duplicate blocked"))
            #expect(dup.json["detail"]?["first_seen_at"]?.stringValue != nil)
        }
    }

    @Test("auth: 401 without a bearer token, 403 for unknown and revoked keys")
    func auth() async throws {
        let harness = try await APIHarness()
        try await harness.run { api in
            let none = try await api.request(.get, "/v1/me", auth: .some(nil))
            #expect(none.status == .unauthorized)
            #expect(none.json == .object(["detail": .string("Missing Authorization Bearer token")]))
            #expect(try await api.request(.get, "/v1/me", auth: "Basic abc").status == .unauthorized)
            #expect(try await api.request(.get, "/v1/me", auth: "Bearer ").status == .unauthorized)
            let bogus = try await api.request(.get, "/v1/me", auth: "Bearer once_live_bogus")
            #expect(bogus.status == .forbidden)
            #expect(bogus.json == .object(["detail": .string("Invalid API key")]))
            #expect(try await api.get("/v1/me").status == .ok)
        }
        _ = try await harness.store.revokeKey(harness.key)
        try await harness.run { api in
            let revoked = try await api.get("/v1/me")
            #expect(revoked.status == .forbidden)
            #expect(revoked.json == .object(["detail": .string("API key disabled")]))
        }
    }

    @Test("X-Request-Id: echoed when sent, generated otherwise, on errors too")
    func requestIds() async throws {
        try await APIHarness().run { api in
            let echoed = try await api.request(
                .post, "/v1/check-lock", json: #"{"key":"x"}"#, headers: [.requestId: "req-123"])
            #expect(echoed.headers[.requestId] == "req-123")
            let generated = try await api.get("/v1/me")
            #expect(generated.headers[.requestId]?.count == 32)
            #expect(try await api.get("/nowhere").headers[.requestId] != nil)
            #expect(try await api.request(.get, "/v1/me", auth: .some(nil)).headers[.requestId] != nil)
        }
    }

    @Test("free plan: 402 payment_required after the month's duplicates")
    func freePlanCap() async throws {
        let harness = try await APIHarness(plan: .free)
        try await harness.run { api in
            #expect(try await api.post("/v1/check-lock", #"{"key":"k"}"#).json["status"] == .string("locked"))
            for _ in 0..<1000 { _ = try await api.post("/v1/check-lock", #"{"key":"k"}"#) }
            let capped = try await api.post("/v1/check-lock", #"{"key":"other"}"#)
            #expect(capped.status.code == 402)
            #expect(capped.json["detail"]?["error"] == .string("payment_required"))
            #expect(capped.json["detail"]?["plan"] == .string("free"))
            #expect(capped.json["detail"]?["limit"] == .int(1000))
            let usage = try await api.get("/v1/usage?kind=make")
            #expect(usage.json["usage"] == .int(1000))
            #expect(usage.json["blocked_total_month"] == .int(1))
        }
    }
}
