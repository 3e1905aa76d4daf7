import AsyncHTTPClient
import Foundation

/// The OnceOnly API client: idempotency locks, AI leases, governance, usage and run timelines.
///
/// A client is immutable and `Sendable`; share one across tasks. Every network method is
/// `async throws` and throws ``OnceOnlyError`` (plus `CancellationError` when the calling task
/// is cancelled). Names, defaults and payloads follow the official TypeScript SDK 3.0.5.
///
/// ```swift
/// let client = try OnceOnlyClient(apiKey: "once_live_…", baseURL: "http://localhost:8080")
/// let lock = try await client.checkLock(key: "payment_invoice_123", ttl: 3600)
/// if lock.shouldProceed { try await charge() }
/// ```
public final class OnceOnlyClient: Sendable {
    /// The SDK version, sent in the default `User-Agent`.
    public static let version = "1.0.0"
    /// The official SaaS endpoint, used when neither `baseURL` nor `ONCEONLY_BASE_URL` is given.
    public static let defaultBaseURL = "https://api.onceonly.tech/v1"

    /// The API key sent as `Authorization: Bearer <apiKey>`.
    public let apiKey: String
    /// The normalised base URL (see ``normalizeBaseURL(_:)``), e.g. `http://localhost:8080/v1`.
    public let baseURL: String
    /// Seconds each HTTP attempt may take (minimum 1 ms).
    public let timeout: Double
    /// Whether ``checkLock(key:ttl:meta:requestId:)`` answers "locked" when the service is
    /// unreachable or failing with 5xx.
    public let failOpen: Bool
    /// Extra attempts after a 429, a 5xx (500/502/503/504) or a transport failure.
    public let maxRetries429: Int
    /// Base of the exponential backoff between attempts, in seconds.
    public let retryBackoff: Double
    /// Cap of the exponential backoff, in seconds (a server's `Retry-After` is not capped).
    public let retryMaxBackoff: Double
    /// The `User-Agent` header value.
    public let userAgent: String
    /// Lease-based exactly-once execution and governed tool calls.
    public let ai: AIClient
    /// The lease calls for a holder, with the answers it expects (held, finished, 409, 404) as
    /// values, and once-server's extension fields as parameters.
    public let leases: LeaseClient
    /// Policies, agents and the tools registry.
    public let gov: GovernanceClient

    let transport: HTTPTransport

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - apiKey: The API key; `nil` reads `ONCEONLY_API_KEY` from `environment`.
    ///   - baseURL: Server URL; `nil` reads `ONCEONLY_BASE_URL`, else ``defaultBaseURL``.
    ///     `http://localhost:8080` becomes `http://localhost:8080/v1`; other paths are kept.
    ///   - timeout: Seconds per HTTP attempt (default 5).
    ///   - failOpen: Let ``checkLock(key:ttl:meta:requestId:)`` proceed when the service is
    ///     unreachable, times out or answers 5xx (default `true`). Never covers 401/403, 402, 422, 429.
    ///   - maxRetries429: Extra attempts on 429, 5xx and transport failures (default 0).
    ///   - retryBackoff: Base backoff in seconds, doubled per attempt (default 0.5).
    ///   - retryMaxBackoff: Backoff cap in seconds (default 5).
    ///   - userAgent: Defaults to `onceonly-swift-sdk/<version>`.
    ///   - httpClient: The AsyncHTTPClient to send with; by default one shared by the process that
    ///     needs no shutdown (like `HTTPClient.shared`, but a refused connection fails at once so
    ///     the SDK's own retries decide). One you pass stays yours to shut down.
    ///   - sleep: How to wait between retries and polls; inject one in tests to observe waits.
    ///   - environment: Where `ONCEONLY_API_KEY` and `ONCEONLY_BASE_URL` are looked up.
    /// - Throws: ``OnceOnlyError/invalidArgument(_:)`` `"apiKey is required"` when no key is found.
    public init(
        apiKey: String? = nil, baseURL: String? = nil, timeout: Double = 5.0, failOpen: Bool = true,
        maxRetries429: Int = 0, retryBackoff: Double = 0.5, retryMaxBackoff: Double = 5.0, userAgent: String? = nil,
        httpClient: HTTPClient? = nil, sleep: Sleeper? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        guard let key = apiKey ?? environment["ONCEONLY_API_KEY"], !key.isEmpty else {
            throw OnceOnlyError.invalidArgument("apiKey is required")
        }
        self.apiKey = key
        self.baseURL = Self.normalizeBaseURL(baseURL ?? environment["ONCEONLY_BASE_URL"] ?? Self.defaultBaseURL)
        self.timeout = timeout
        self.failOpen = failOpen
        self.maxRetries429 = max(0, maxRetries429)
        self.retryBackoff = retryBackoff
        self.retryMaxBackoff = retryMaxBackoff
        self.userAgent = userAgent ?? "onceonly-swift-sdk/\(Self.version)"
        let transport = HTTPTransport(
            baseURL: self.baseURL, apiKey: key, userAgent: self.userAgent, timeout: timeout,
            retry: RetryPolicy(maxRetries: self.maxRetries429, backoff: retryBackoff, maxBackoff: retryMaxBackoff),
            client: httpClient ?? defaultHTTPClient,
            sleep: sleep ?? { seconds in try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9)) })
        self.transport = transport
        self.ai = AIClient(transport: transport)
        self.leases = LeaseClient(transport: transport)
        self.gov = GovernanceClient(transport: transport)
    }

    /// Base-URL normalisation of the official clients: strip trailing `/`; when the rest is a URL
    /// whose path is empty or `/`, append `/v1`; otherwise keep it as is.
    ///
    /// `http://localhost:8080` → `http://localhost:8080/v1`, `https://x/v1/` → `https://x/v1`,
    /// `https://x/api` → `https://x/api`.
    public static func normalizeBaseURL(_ url: String) -> String {
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let components = URLComponents(string: trimmed), components.scheme != nil, components.host != nil else {
            return trimmed
        }
        return components.path.isEmpty || components.path == "/" ? trimmed + "/v1" : trimmed
    }

    /// Sends any request to the API through the client's retry loop and error mapping, for
    /// endpoints or fields the typed methods do not cover. (once-server's lease extensions,
    /// `retry_failed`, `result` on fail and `run_events`, are parameters of ``leases``.)
    ///
    /// - Parameters:
    ///   - method: `GET`, `POST`, `DELETE`, …
    ///   - path: Path below the base URL, e.g. `/ai/lease`.
    ///   - query: Query parameters (form-encoded).
    ///   - body: JSON body; `nil` sends none.
    /// - Returns: The 2xx status and the body as an object (SDK.md §3.4: arrays and scalars arrive
    ///   as `{"data": …}`, an empty body as `{}`).
    /// - Throws: The mapped ``OnceOnlyError`` for non-2xx answers; ``OnceOnlyError/timeout(seconds:)``
    ///   or ``OnceOnlyError/transport(_:)`` when there was no answer.
    public func request(
        method: String, path: String, query: [String: String] = [:], body: JSONObject? = nil
    ) async throws -> (status: Int, json: JSONObject) {
        let response = try await transport.call(
            method: method, path: path, query: query.sorted { $0.key < $1.key }, body: body.map(JSON.object))
        return (response.status, response.object)
    }

    /// Like ``request(method:path:query:body:)`` but returns every HTTP answer unmapped, with
    /// its headers. Retries still apply; only transport failures and timeouts throw.
    public func response(
        method: String, path: String, query: [String: String] = [:], body: JSON? = nil, headers: [String: String] = [:]
    ) async throws -> OnceOnlyResponse {
        try await transport.send(
            method: method, path: path, query: query.sorted { $0.key < $1.key }, body: body, headers: headers)
    }

    /// Does nothing; present for parity with the official clients (`close()`).
    public func close() {}
}

extension HTTPTransport {
    /// ``send(method:path:query:body:headers:)`` plus error mapping: returns only 2xx answers.
    func call(
        method: String, path: String, query: [(String, String)] = [], body: JSON? = nil
    ) async throws -> OnceOnlyResponse {
        let response = try await send(method: method, path: path, query: query, body: body)
        guard response.isSuccess else { throw ErrorMapping.error(for: response) }
        return response
    }

    /// ``call(method:path:query:body:)`` returning the body as an object.
    func object(
        _ method: String, _ path: String, query: [(String, String)] = [], body: JSONObject? = nil
    ) async throws -> JSONObject {
        try await call(method: method, path: path, query: query, body: body.map(JSON.object)).object
    }
}
