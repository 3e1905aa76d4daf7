import Foundation

/// The answer of ``OnceOnlyClient/checkLock(key:ttl:meta:requestId:)``.
public struct CheckLockResult: Sendable, Equatable {
    /// This call created the lock: go ahead.
    public var isLocked: Bool
    /// A live lock already exists: skip the side effect.
    public var isDuplicate: Bool
    /// The key (as the server echoed it, else as sent).
    public var key: String
    /// The lock's effective TTL in seconds.
    public var ttl: Int
    /// When the live lock was created, for duplicates (ISO-8601).
    public var firstSeenAt: String?
    /// The `X-Request-Id` of the answer; `"fail-open"` for a fail-open result.
    public var requestId: String?
    /// The HTTP status; 0 for a fail-open result.
    public var statusCode: Int
    /// The answer body (plus your metadata when the body has none). A fail-open result holds
    /// `{"fail_open": true, "reason": "api_5xx" | "timeout" | "request_error"}`.
    public var raw: JSONObject

    /// Creates a result from its parts.
    public init(
        isLocked: Bool, isDuplicate: Bool, key: String, ttl: Int, firstSeenAt: String?, requestId: String?,
        statusCode: Int, raw: JSONObject
    ) {
        self.isLocked = isLocked
        self.isDuplicate = isDuplicate
        self.key = key
        self.ttl = ttl
        self.firstSeenAt = firstSeenAt
        self.requestId = requestId
        self.statusCode = statusCode
        self.raw = raw
    }

    /// `isLocked && !isDuplicate`: the caller should perform the side effect.
    public var shouldProceed: Bool { isLocked && !isDuplicate }

    /// Whether this result was made up because the service was unreachable or failing.
    public var isFailOpen: Bool { raw["fail_open"] == .bool(true) }
}

extension OnceOnlyClient {
    /// Claims `key` for `ttl` seconds: the first caller gets "locked", every later caller
    /// "duplicate" until the lock expires (`POST /check-lock`).
    ///
    /// The answer is read in the official order: a 409 means duplicate, then the body's
    /// `status`, then the `X-OnceOnly-Status` header, then `success`. When ``failOpen`` is on and,
    /// after retries, the service timed out, was unreachable or answered 5xx, a "locked" result
    /// with ``CheckLockResult/isFailOpen`` is returned instead of an error. 401/403, 402, 422 and
    /// 429 always throw.
    ///
    /// - Parameters:
    ///   - key: The idempotency key (1–256 characters).
    ///   - ttl: Lock lifetime in seconds; the plan default when `nil`.
    ///   - meta: Metadata stored with the lock (≤ 2048 bytes).
    ///   - requestId: Sent as `X-Request-Id` for correlation.
    public func checkLock(
        key: String, ttl: Int? = nil, meta: JSONObject? = nil, requestId: String? = nil
    ) async throws -> CheckLockResult {
        var body: JSONObject = ["key": .string(key)]
        body["ttl"] = ttl.map(JSON.int)
        body["metadata"] = meta.map(JSON.object)
        do {
            let response = try await transport.send(
                method: "POST", path: "/check-lock", body: .object(body),
                headers: requestId.map { ["X-Request-Id": $0] } ?? [:])
            return try Self.parseCheckLockResponse(response, fallbackKey: key, fallbackTTL: ttl, fallbackMeta: meta)
        } catch let error as OnceOnlyError {
            guard failOpen, let reason = Self.failOpenReason(error) else { throw error }
            var raw: JSONObject = ["fail_open": true, "reason": .string(reason)]
            raw["metadata"] = meta.map(JSON.object)
            return CheckLockResult(
                isLocked: true, isDuplicate: false, key: key, ttl: ttl ?? 0, firstSeenAt: nil, requestId: "fail-open",
                statusCode: 0, raw: raw)
        }
    }

    /// ``checkLock(key:ttl:meta:requestId:)`` with any `Encodable` metadata that encodes to an
    /// object (a `Codable` struct, `[String: Double]`, …).
    public func checkLock(
        key: String, ttl: Int? = nil, meta: some Encodable, requestId: String? = nil
    ) async throws -> CheckLockResult {
        try await checkLock(key: key, ttl: ttl, meta: try JSONCoding.object(meta, for: "meta"), requestId: requestId)
    }

    /// The `raw.reason` of a fail-open result, or `nil` when `error` must propagate. Only
    /// transport failures, timeouts and 5xx qualify.
    static func failOpenReason(_ error: OnceOnlyError) -> String? {
        switch error {
        case .api(let status, _, _) where status >= 500: "api_5xx"
        case .timeout: "timeout"
        case .transport: "request_error"
        default: nil
        }
    }

    /// Reads a check-lock answer the way the official clients do (SDK.md §6).
    ///
    /// - Parameters:
    ///   - response: The HTTP answer.
    ///   - fallbackKey: The key sent, used when the body has none.
    ///   - fallbackTTL: The TTL sent, used when the body has none.
    ///   - fallbackMeta: The metadata sent, added to `raw` when the body has none.
    /// - Throws: ``OnceOnlyError/unauthorized(message:)`` for 401 and every 403, and the usual
    ///   mapping for other non-2xx statuses except 409.
    public static func parseCheckLockResponse(
        _ response: OnceOnlyResponse, fallbackKey: String, fallbackTTL: Int?, fallbackMeta: JSONObject? = nil
    ) throws -> CheckLockResult {
        let requestId = response.header("x-request-id")
        switch response.status {
        case 401, 403:
            throw OnceOnlyError.unauthorized(
                message: ErrorMapping.errorText(
                    ErrorMapping.detail(of: response), default: "Invalid API Key (Unauthorized)."))
        case 409:
            let detail = ErrorMapping.detail(of: response)
            var raw: JSONObject = ["detail": detail ?? .null]
            raw["metadata"] = fallbackMeta.map(JSON.object)
            return CheckLockResult(
                isLocked: false, isDuplicate: true, key: fallbackKey, ttl: fallbackTTL ?? 0,
                firstSeenAt: detail?["first_seen_at"]?.stringValue, requestId: requestId, statusCode: 409, raw: raw)
        case let status where !(200..<300).contains(status):
            throw ErrorMapping.error(for: response)
        default:
            break
        }
        let body = response.object
        let fields = FieldReader(body)
        let locked: Bool
        switch (fields.optionalString("status")?.lowercased(), response.header("x-onceonly-status")?.lowercased()) {
        case ("locked"?, _): locked = true
        case ("duplicate"?, _): locked = false
        case (_, "locked"?): locked = true
        case (_, "duplicate"?): locked = false
        default: locked = body["success"] == .bool(true)
        }
        var raw = body
        if raw["metadata"] == nil, let fallbackMeta { raw["metadata"] = .object(fallbackMeta) }
        let ttl = fields.value("ttl") != nil ? fields.int("ttl") : (fallbackTTL ?? 0)
        return CheckLockResult(
            isLocked: locked, isDuplicate: !locked, key: fields.value("key")?.jsString ?? fallbackKey, ttl: ttl,
            firstSeenAt: fields.optionalString("first_seen_at"), requestId: requestId,
            statusCode: response.status, raw: raw)
    }
}
