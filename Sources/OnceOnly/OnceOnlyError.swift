import Foundation

/// Every error the SDK throws itself.
///
/// HTTP answers map to the first five cases exactly as in the official TypeScript SDK (SDK.md
/// §3.5); ``timeout(seconds:)`` and ``transport(_:)`` mean the service could not be reached at
/// all, which is the only situation (besides 5xx) ``OnceOnlyClient/checkLock(key:ttl:meta:requestId:)``
/// may fail open on. Errors thrown by your own closures (``AIClient/runFn(key:ttl:metadata:extendEvery:waitOnConflict:timeout:pollMin:pollMax:errorCode:retryFailed:_:)``,
/// the helpers) pass through unchanged.
public enum OnceOnlyError: Error, Sendable, Equatable {
    /// 401, or a 403 whose detail says the key is invalid, disabled or forbidden.
    case unauthorized(message: String)
    /// 402: the plan's monthly usage limit is reached. `detail` is the server's detail object.
    case overLimit(detail: JSONObject)
    /// 429 (after retries). `retryAfter` is the numeric `Retry-After` header in seconds, if any.
    case rateLimited(retryAfter: Double?, message: String)
    /// 422: the server rejected the request body or query.
    case validation(message: String)
    /// Any other non-2xx answer (403 `feature_not_available`/`plan_limit`, 404, 409, 5xx, …).
    /// `detail` is the detail object (a string detail arrives as `{"detail": "<text>"}`). A
    /// ``LeaseClient`` call also throws it, with the 2xx status and the body as `detail`, for
    /// an answer that is not a lease answer (a proxy's page, a wrong base URL).
    case api(status: Int, detail: JSONObject, message: String)
    /// No complete answer arrived within the client's timeout (per attempt, after retries).
    /// Unlike the TypeScript SDK, whose timer stops at the response headers, the limit covers the
    /// body too; API answers are small, so the difference only shows with a stalled body.
    case timeout(seconds: Double)
    /// The request never got an HTTP answer: connection refused, DNS failure, reset, TLS failure.
    case transport(String)
    /// The caller passed arguments the SDK refuses to send (same texts as the TypeScript SDK).
    case invalidArgument(String)

    /// The HTTP status behind the error, when there was an HTTP answer.
    public var statusCode: Int? {
        switch self {
        case .unauthorized: 401
        case .overLimit: 402
        case .rateLimited: 429
        case .validation: 422
        case .api(let status, _, _): status
        case .timeout, .transport, .invalidArgument: nil
        }
    }

    /// `true` for ``timeout(seconds:)`` and ``transport(_:)``: the service was unreachable, as
    /// opposed to having answered with an error.
    public var isServiceUnreachable: Bool {
        switch self {
        case .timeout, .transport: true
        default: false
        }
    }

    /// The server's error detail object for ``overLimit(detail:)`` and ``api(status:detail:message:)``.
    public var detail: JSONObject? {
        switch self {
        case .overLimit(let detail), .api(_, let detail, _): detail
        default: nil
        }
    }

    /// The machine code in `detail.error` (e.g. `lease_mismatch`, `not_found`), when present.
    public var errorCode: String? { detail?["error"]?.stringValue }

    /// The human-readable text, built like the TypeScript SDK's error messages.
    public var message: String {
        switch self {
        case .unauthorized(let message), .validation(let message), .rateLimited(_, let message),
            .api(_, _, let message):
            message
        case .overLimit: "Usage limit reached. Please upgrade your plan."
        case .timeout(let seconds): "The request timed out after \(JSON.typeScriptNumber(seconds)) s."
        case .transport(let text): "The OnceOnly service could not be reached: \(text)"
        case .invalidArgument(let text): text
        }
    }
}

extension OnceOnlyError: LocalizedError, CustomStringConvertible {
    /// Same as ``message``.
    public var errorDescription: String? { message }
    /// The case name and ``message``.
    public var description: String {
        switch self {
        case .unauthorized: "OnceOnlyError.unauthorized: \(message)"
        case .overLimit: "OnceOnlyError.overLimit: \(message)"
        case .rateLimited(let retryAfter, _):
            "OnceOnlyError.rateLimited(retryAfter: \(retryAfter.map { JSON.typeScriptNumber($0) } ?? "nil")): \(message)"
        case .validation: "OnceOnlyError.validation: \(message)"
        case .api(let status, _, _): "OnceOnlyError.api(\(status)): \(message)"
        case .timeout: "OnceOnlyError.timeout: \(message)"
        case .transport: "OnceOnlyError.transport: \(message)"
        case .invalidArgument: "OnceOnlyError.invalidArgument: \(message)"
        }
    }
}
