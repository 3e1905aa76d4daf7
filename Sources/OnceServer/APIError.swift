import HTTPTypes
import Hummingbird
import OnceCore

/// Every non-2xx answer once-server gives, mapped once to a status and the FastAPI-style
/// envelope `{"detail": …}` that the official clients parse (API §1.3).
public enum APIError: HTTPResponseError, Sendable {
    case missingToken
    case invalidKey
    case keyDisabled
    case validation([FieldIssue])
    case notFound(String)
    case routeNotFound
    case methodNotAllowed(allowed: [HTTPRequest.Method])
    case leaseMismatch
    case leaseNotActive(status: String)
    case duplicateBlocked(firstSeenAt: Timestamp)
    case paymentRequired(plan: Plan, usage: Int64, limit: Int64)
    case bodyTooLarge(limit: Int)
    /// The account's plan does not include this endpoint (API §2).
    case featureNotAvailable(String)
    /// A policy names tools that are not registered (API §8.1; 400, API §15 row 27).
    case unknownTools([String])
    /// No enabled tool of that name in the agent's scope or `global` (API §6.2: 404).
    case toolNotFound(String)
    /// Creating the tool would pass the plan's tool count (API §10.2: 403).
    case planLimit(String)
    /// The key used up its token bucket (API §1.3); retry after `retryAfter` seconds.
    case rateLimited(retryAfter: Int)
    /// The store cannot answer now; retryable (SDKs retry 503 and honour `Retry-After`).
    case unavailable(retryAfter: Int)
    /// A failure the client cannot fix; `requestId` lets an operator find it in the logs.
    case `internal`(requestId: String? = nil)

    public var status: HTTPResponse.Status {
        switch self {
        case .missingToken: .unauthorized
        case .invalidKey, .keyDisabled: .forbidden
        case .validation: .unprocessableContent
        case .notFound, .routeNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .leaseMismatch, .leaseNotActive, .duplicateBlocked: .conflict
        case .paymentRequired: .init(code: 402, reasonPhrase: "Payment Required")
        case .bodyTooLarge: .contentTooLarge
        case .featureNotAvailable: .forbidden
        case .unknownTools: .badRequest
        case .toolNotFound: .notFound
        case .planLimit: .forbidden
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    var detail: JSONValue {
        switch self {
        case .missingToken: .string("Missing Authorization Bearer token")
        case .invalidKey: .string("Invalid API key")
        case .keyDisabled: .string("API key disabled")
        case .validation(let issues): .array(issues.map(\.json))
        case .notFound(let message): .object(["error": .string("not_found"), "message": .string(message)])
        case .routeNotFound: .string("Not Found")
        case .methodNotAllowed: .string("Method Not Allowed")
        case .leaseMismatch:
            .object([
                "error": .string("lease_mismatch"),
                "message": .string("lease_id is not the current holder of this key"),
            ])
        case .leaseNotActive(let status):
            .object([
                "error": .string("lease_not_active"), "status": .string(status),
                "message": .string("the lease is \(status), not in progress"),
            ])
        case .duplicateBlocked(let firstSeenAt):
            .object(["error": .string("Duplicate blocked"), "first_seen_at": .string(firstSeenAt.iso8601)])
        case .paymentRequired(let plan, let usage, let limit):
            .object([
                "error": .string("payment_required"), "highlights": .string("Plan limit reached"),
                "plan": .string(plan.rawValue), "limit": .int(limit), "usage": .int(usage), "upgrade_url": .string(""),
            ])
        case .bodyTooLarge(let limit):
            .object([
                "error": .string("payload_too_large"),
                "message": .string("request body is larger than \(limit) bytes"),
            ])
        case .featureNotAvailable(let message):
            .object(["error": .string("feature_not_available"), "message": .string(message)])
        case .unknownTools(let tools):
            .object([
                "error": .string("unknown_tools"), "tools": .array(tools.map { .string($0) }),
                "message": .string(
                    "register these tools first (POST /v1/tools): " + tools.joined(separator: ", ")),
            ])
        case .toolNotFound(let message):
            .object(["error": .string("tool_not_found"), "message": .string(message)])
        case .planLimit(let message): .object(["error": .string("plan_limit"), "message": .string(message)])
        case .rateLimited: .object(["error": .string("rate_limited")])
        case .unavailable:
            .object([
                "error": .string("store_unavailable"),
                "message": .string("the database is temporarily unavailable; retry after the Retry-After seconds"),
            ])
        case .internal: .string("Internal Server Error")
        }
    }

    func response() -> Response {
        var headers = HTTPFields()
        switch self {
        case .methodNotAllowed(let allowed):
            headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        case .duplicateBlocked:
            headers[.onceOnlyStatus] = "duplicate"
        case .unavailable(let seconds), .rateLimited(let seconds):
            headers[.retryAfter] = String(seconds)
        default:
            break
        }
        var body: [String: JSONValue] = ["detail": detail]
        if case .internal(let requestId?) = self { body["request_id"] = .string(requestId) }
        return JSONResponse.make(.object(body), status: status, headers: headers)
    }

    /// Hummingbird's own error path uses the same envelope, so an APIError thrown anywhere
    /// (a context transform, a middleware) answers the same bytes.
    public func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    static func invalid(_ issue: FieldIssue) -> APIError { .validation([issue]) }
}

extension HTTPField.Name {
    static let onceOnlyStatus = Self("X-OnceOnly-Status")!
    static let onceOnlyPlan = Self("X-OnceOnly-Plan")!
    static let onceOnlyMonth = Self("X-OnceOnly-Month")!
    static let requestId = Self("X-Request-Id")!
}

enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let text = value.canonicalText
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
