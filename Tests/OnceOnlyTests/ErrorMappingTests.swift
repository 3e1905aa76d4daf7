import Foundation
import OnceOnly
import Testing

@Suite("Error mapping of non-2xx answers")
struct ErrorMappingTests {
    static let cases: [(ScriptedReply, OnceOnlyError)] = [
        (
            .json(401, ["detail": "Missing Authorization Bearer token"]),
            .unauthorized(message: "Missing Authorization Bearer token")
        ),
        (ScriptedReply(status: 401, body: ""), .unauthorized(message: "Invalid API Key (Unauthorized).")),
        (.json(403, ["detail": "Invalid API key"]), .unauthorized(message: "Invalid API key")),
        (.json(403, ["detail": " API KEY DISABLED "]), .unauthorized(message: " API KEY DISABLED ")),
        (.json(403, ["detail": ["error": "invalid_api_key"]]), .unauthorized(message: "invalid_api_key")),
        (.json(403, ["detail": ["message": "Forbidden"]]), .unauthorized(message: "Forbidden")),
        (
            .json(403, ["detail": ["error": "feature_not_available", "message": "Pro only"]]),
            .api(
                status: 403, detail: ["error": "feature_not_available", "message": "Pro only"],
                message: "feature_not_available")
        ),
        (
            .json(403, ["detail": ["error": "plan_limit", "message": "FREE plan limit: max 1 tools"]]),
            .api(
                status: 403, detail: ["error": "plan_limit", "message": "FREE plan limit: max 1 tools"],
                message: "plan_limit")
        ),
        (.json(403, ["detail": "nope"]), .api(status: 403, detail: ["detail": "nope"], message: "nope")),
        (
            .json(402, ["detail": ["error": "payment_required", "limit": 1000, "usage": 1001]]),
            .overLimit(detail: ["error": "payment_required", "limit": 1000, "usage": 1001])
        ),
        (.json(402, ["detail": "pay"]), .overLimit(detail: [:])),
        (
            .json(429, ["detail": ["error": "rate_limited"]], headers: ["Retry-After": " 3 "]),
            .rateLimited(retryAfter: 3, message: "rate_limited")
        ),
        (.json(429, [:]), .rateLimited(retryAfter: nil, message: "Rate limit exceeded. Please slow down.")),
        (
            ScriptedReply(status: 422, body: #"{"detail":[{"type":"missing","loc":["body","key"]}]}"#),
            .validation(message: #"Validation Error: {"detail":[{"type":"missing","loc":["body","key"]}]}"#)
        ),
        (.json(422, ["detail": ["message": "ttl must be positive"]]), .validation(message: "ttl must be positive")),
        (
            .json(409, ["detail": ["error": "lease_mismatch", "message": "not yours"]]),
            .api(status: 409, detail: ["error": "lease_mismatch", "message": "not yours"], message: "lease_mismatch")
        ),
        (
            .json(404, ["detail": ["error": "", "message": "no such key"]]),
            .api(status: 404, detail: ["error": "", "message": "no such key"], message: "API Error (404)")
        ),
        (ScriptedReply(status: 500, body: "oops"), .api(status: 500, detail: [:], message: "API Error (500)")),
        (.json(418, ["error": "teapot"]), .api(status: 418, detail: ["error": "teapot"], message: "teapot")),
    ]

    @Test("each status maps to the documented error", arguments: 0..<cases.count)
    func mapping(index: Int) async throws {
        let (reply, expected) = Self.cases[index]
        try await withScriptedServer { server in
            server.enqueue(reply)
            await #expect(throws: expected) { try await server.client().me() }
        }
    }

    @Test("error accessors: status, detail, code, message, description")
    func accessors() {
        let error = OnceOnlyError.api(status: 409, detail: ["error": "lease_not_active"], message: "lease_not_active")
        #expect(error.statusCode == 409)
        #expect(error.errorCode == "lease_not_active")
        #expect(!error.isServiceUnreachable)
        #expect(error.description == "OnceOnlyError.api(409): lease_not_active")
        #expect(OnceOnlyError.overLimit(detail: [:]).message == "Usage limit reached. Please upgrade your plan.")
        #expect(OnceOnlyError.rateLimited(retryAfter: 2, message: "x").statusCode == 429)
        #expect(OnceOnlyError.transport("refused").isServiceUnreachable)
        #expect(OnceOnlyError.timeout(seconds: 5).localizedDescription == "The request timed out after 5 s.")
    }
}
